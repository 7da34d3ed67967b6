"""TRN202-TRN204 across function, class and module boundaries (issue 16): each family's bug
and the correct look-alike a name matcher would flag, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

EPOCHS = """
def fit(model, opt, crit, train_loader, val_loader, test_loader, epochs):
"""

CASES = {
    # -- TRN204: a dual-mode helper whose backward/step run only when a parameter says so.
    "dual_mode_test_selects.py": """
import torch

def run_epoch(model, loader, optimizer=None, train=False):
    total = 0.0
    for x, y in loader:
        if train:
            optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        if train:
            loss.backward()
            optimizer.step()
        total += loss.item()
    return total

def fit(model, opt, train_loader, test_loader):
    best = None
    for epoch in range(10):
        run_epoch(model, train_loader, opt, True)
        test_loss = run_epoch(model, test_loader)
        if best is None or test_loss < best:
            best = test_loss
            torch.save(model.state_dict(), "best.pt")
""",
    "dual_mode_optimizer_none.py": """
import torch

def run_epoch(model, loader, optimizer=None):
    total = 0.0
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += loss.item()
    return total

def fit(model, opt, train_loader, test_loader):
    losses = []
    for epoch in range(10):
        run_epoch(model, train_loader, optimizer=opt)
        losses.append(run_epoch(model, test_loader))
        if losses[-1] == min(losses):
            torch.save(model.state_dict(), "best.pt")
""",
    # The look-alike: the test loss of the epoch that validation chose.
    "dual_mode_test_at_best_val_ok.py": """
import torch

def run_epoch(model, loader, optimizer=None, train=False):
    total = 0.0
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        if train:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += loss.item()
    return total

def fit(model, opt, train_loader, val_loader, test_loader):
    best = None
    for epoch in range(10):
        run_epoch(model, train_loader, opt, train=True)
        val_loss = run_epoch(model, val_loader)
        if best is None or val_loss < best:
            best = val_loss
            test_loss = run_epoch(model, test_loader)
""",
    # A helper that always trains is no evaluation, whatever data it is given.
    "always_trains_ok.py": """
import torch

def run_epoch(model, loader, optimizer, train=False):
    total = 0.0
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total

def fit(model, opt, train_loader, test_loader):
    best = None
    for epoch in range(10):
        run_epoch(model, train_loader, opt, True)
        test_loss = run_epoch(model, test_loader, opt)
        if best is None or test_loss < best:
            best = test_loss
""",
    # -- TRN204: the helper picks the test part of a container it is given
    # (`data.test_user_dict`), batches it with comprehensions, and the metrics it returns are
    # appended into a nested history that early stopping reads.
    "helper_picks_test_part.py": """
import torch

def evaluate(model, data, ks):
    test_users = data.test_user_dict
    user_ids = list(test_users.keys())
    batches = [user_ids[i: i + 256] for i in range(0, len(user_ids), 256)]
    batches = [torch.LongTensor(b) for b in batches]
    scores = []
    with torch.no_grad():
        for batch in batches:
            scores.append(model(batch).sum().item())
    return scores, {k: {"recall": sum(scores)} for k in ks}

def fit(model, opt, data, ks, early_stopping):
    history = {k: {"recall": []} for k in ks}
    for epoch in range(10):
        for x, y in data.train_batches():
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        _, metrics = evaluate(model, data, ks)
        for k in ks:
            history[k]["recall"].append(metrics[k]["recall"])
        best, stop = early_stopping(history[ks[0]]["recall"], 10)
        if stop:
            break
""",
    "helper_picks_valid_part_ok.py": """
import torch

def evaluate(model, data, ks):
    valid_users = data.valid_user_dict
    user_ids = list(valid_users.keys())
    batches = [user_ids[i: i + 256] for i in range(0, len(user_ids), 256)]
    batches = [torch.LongTensor(b) for b in batches]
    scores = []
    with torch.no_grad():
        for batch in batches:
            scores.append(model(batch).sum().item())
    return scores, {k: {"recall": sum(scores)} for k in ks}

def fit(model, opt, data, ks, early_stopping):
    history = {k: {"recall": []} for k in ks}
    for epoch in range(10):
        for x, y in data.train_batches():
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        _, metrics = evaluate(model, data, ks)
        for k in ks:
            history[k]["recall"].append(metrics[k]["recall"])
        best, stop = early_stopping(history[ks[0]]["recall"], 10)
        if stop:
            break
""",
    # A setting about the test split (`args.test_cores`, `test_size`) is not test data.
    "test_setting_not_data_ok.py": """
import torch

def evaluate(model, loader, workers):
    with torch.no_grad():
        return sum(model(x).sum().item() for x in loader)

def fit(model, opt, train_loader, val_loader, args, stopper):
    cores = args.test_cores
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        score = evaluate(model, val_loader, args.test_cores)
        if stopper(score):
            break
""",
}

# -- TRN204 across modules: the evaluation helper lives in another module of the project.
MODULES = {
    "xmod/evals.py": """
import torch

def evaluation(model, batches):
    model.eval()
    correct = []
    with torch.no_grad():
        for x, y in batches:
            correct.append((model(x).argmax(1) == y).float().mean().item())
    model.train()
    return sum(correct) / len(correct)
""",
    "xmod/main_select.py": """
import torch
import os
import evals

def train(model, opt, crit, train_iter, test_iter):
    scores = []
    for epoch in range(10):
        for x, y in train_iter:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        score = evals.evaluation(model, test_iter)
        if not scores or score > max(scores):
            model.save("best.pt")
        scores.append(score)
""",
    # `from pkg.module import f` where `pkg/` has no `__init__.py` (module `module`).
    "xmod/tools/scoring.py": """
import torch

def evaluation_multi(encoder, decoder, loader):
    with torch.no_grad():
        return sum(decoder(encoder(x)).mean().item() for x, _ in loader)
""",
    "xmod/main_from_import.py": """
import torch
from tools.scoring import evaluation_multi

def train(encoder, decoder, opt, train_loader, test_loader):
    best = 0.0
    for epoch in range(10):
        for x, _ in train_loader:
            opt.zero_grad()
            decoder(encoder(x)).mean().backward()
            opt.step()
        score = evaluation_multi(encoder, decoder, test_loader)
        if score > best:
            best = score
            torch.save(decoder.state_dict(), "best.pt")
""",
    # Look-alikes: the project helper decides on validation data and the test split is
    # scored once after training; a library's function of the same kind is not read.
    "xmod/main_val_ok.py": """
import torch
import evals

def train(model, opt, crit, train_iter, val_iter, test_iter):
    scores = []
    for epoch in range(10):
        for x, y in train_iter:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        score = evals.evaluation(model, val_iter)
        if not scores or score > max(scores):
            model.save("best.pt")
        scores.append(score)
    return evals.evaluation(model, test_iter)
""",
    "xmod/main_library_ok.py": """
import torch
import somelib

def train(model, opt, crit, train_iter, test_iter):
    scores = []
    for epoch in range(10):
        for x, y in train_iter:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        score = somelib.evaluation(model, test_iter)
        if not scores or score > max(scores):
            model.save("best.pt")
        scores.append(score)
""",
}

EXPECTED = {
    "dual_mode_test_selects.py": [("TRN204", 19)],
    "dual_mode_optimizer_none.py": [("TRN204", 18)],
    "dual_mode_test_at_best_val_ok.py": [],
    "always_trains_ok.py": [],
    "helper_picks_test_part.py": [("TRN204", 21)],
    "helper_picks_valid_part_ok.py": [],
    "test_setting_not_data_ok.py": [],
    "xmod/evals.py": [],
    "xmod/main_select.py": [("TRN204", 12)],
    "xmod/tools/scoring.py": [],
    "xmod/main_from_import.py": [("TRN204", 11)],
    "xmod/main_val_ok.py": [],
    "xmod/main_library_ok.py": [],
}

ERRORS = ("dual_mode_test_selects.py", "dual_mode_optimizer_none.py", "helper_picks_test_part.py",
          "xmod/main_select.py", "xmod/main_from_import.py")


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("leakage"), {**CASES, **MODULES}, "TRN202,TRN203,TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


@pytest.mark.parametrize("name", ERRORS)
def test_test_selection_is_an_error(found, name):
    assert [f["severity"] for f in found[name]] == ["error"]
