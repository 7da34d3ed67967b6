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
    # The best test score over the epochs, taken after training, is the reported figure.
    "max_test_after_loop.py": """
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

def fit(model, opt, train_loader, valid_loader, test_loader):
    test_scores, valid_losses = [], []
    for epoch in range(10):
        run_epoch(model, train_loader, opt, True)
        valid_losses.append(run_epoch(model, valid_loader))
        test_score = run_epoch(model, test_loader)
        test_scores.append(test_score)
    print("F-score:", max(test_scores))
""",
    # The look-alike: the test score stored each epoch, reported at the best validation epoch.
    "test_at_best_valid_after_loop.py": """
import numpy as np
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

def fit(model, opt, train_loader, valid_loader, test_loader):
    test_scores, valid_losses = [], []
    for epoch in range(10):
        run_epoch(model, train_loader, opt, True)
        valid_losses.append(run_epoch(model, valid_loader))
        test_score = run_epoch(model, test_loader)
        test_scores.append(test_score)
    print("F-score:", np.array(test_scores)[np.argmin(valid_losses)])
""",
    # A metric over the test loop's own batches is part of that evaluation: one finding.
    "metric_inside_test_loop.py": """
import torch

def accuracy_fn(y_true, y_pred):
    return (y_true == y_pred).sum().item() / len(y_pred) * 100

def fit(model, opt, loss_fn, train_dataloader, test_dataloader):
    for epoch in range(3):
        for X, y in train_dataloader:
            loss = loss_fn(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        test_acc = 0
        with torch.inference_mode():
            for X, y in test_dataloader:
                test_pred = model(X)
                test_acc += accuracy_fn(y_true=y, y_pred=test_pred.argmax(dim=1))
        print(test_acc)
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
    # Metrics computed by a project helper from the predictions of a test evaluation already
    # reported are not a second evaluation.
    "xmod/metrics.py": """
def eval_scores(preds, truth):
    return sum(p == t for p, t in zip(preds, truth)) / len(truth)
""",
    "xmod/main_metrics.py": """
import torch
from metrics import eval_scores

def validate(model, loader):
    with torch.no_grad():
        return [model(x).argmax(1) for x, _ in loader], [y for _, y in loader]

def train(model, opt, crit, train_iter, test_iter):
    best = 0.0
    for epoch in range(10):
        for x, y in train_iter:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        test_preds, test_truth = validate(model, test_iter)
        test_acc = eval_scores(test_preds, test_truth)
        best = max(best, test_acc)
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
    "xmod/metrics.py": [],
    "metric_inside_test_loop.py": [("TRN204", 16)],
    "xmod/main_metrics.py": [("TRN204", 15)],
    "max_test_after_loop.py": [("TRN204", 19)],
    "test_at_best_valid_after_loop.py": [("TRN204", 20)],
}

SEVERITY = {"xmod/main_metrics.py": "error", "max_test_after_loop.py": "error",
            "test_at_best_valid_after_loop.py": "info"}


@pytest.mark.parametrize("name", sorted(SEVERITY))
def test_severity_follows_the_result_past_the_loop(found, name):
    assert [f["severity"] for f in found[name]] == [SEVERITY[name]]

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

# -- TRN202: fitted data handed through helpers, methods and hand-written statistics.
PRE = """
import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler, PowerTransformer
from sklearn.model_selection import train_test_split
"""

LEAKS = {
    # A helper that returns what a fitting helper returned is a fitting helper too.
    "chain_fit_then_split.py": PRE + """
class Hmlc:
    def prep_numeric(self, X):
        cols = X.columns
        df_num = X[cols].copy()
        df_num[cols] = StandardScaler().fit_transform(df_num[cols])
        return df_num

    def prep_input(self, X):
        if self.numeric:
            df_num = self.prep_numeric(X[self.numeric].copy())
        return X[self.categorical], df_num

    def fit(self, X, y):
        df_cat, df_num = self.prep_input(X)
        df = pd.concat([df_cat, df_num, y], axis=1).dropna()
        X = df.drop(columns=["y"])
        _, X_test, _, y_test = train_test_split(X, y, train_size=0.8)
        return X_test
""",
    # The same chain, called on the training part after the split.
    "chain_after_split_ok.py": PRE + """
class Hmlc:
    def prep_numeric(self, X):
        cols = X.columns
        df_num = X[cols].copy()
        df_num[cols] = StandardScaler().fit_transform(df_num[cols])
        return df_num

    def prep_input(self, X):
        return self.prep_numeric(X)

    def fit(self, X, y):
        X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.8)
        X_train = self.prep_input(X_train)
        return X_train
""",
    # Statistics taken in steps, applied through a hand-written scaler object; the caller
    # splits with a helper whose results are named as the parts.
    "stats_in_steps_split_helper.py": PRE + """
class Scaler:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def transform(self, data):
        return (data - self.mean) / self.std

def normalize_dataset(data, column_wise):
    if column_wise:
        mean = data.mean(axis=0, keepdims=True)
        std = data.std(axis=0, keepdims=True)
    else:
        mean = data.mean()
        std = data.std()
    scaler = Scaler(mean, std)
    data = scaler.transform(data)
    return data, scaler

def split_by_ratio(data, val_ratio, test_ratio):
    n = len(data)
    test = data[-int(n * test_ratio):]
    val = data[-int(n * (test_ratio + val_ratio)):-int(n * test_ratio)]
    train = data[:-int(n * (test_ratio + val_ratio))]
    return train, val, test

def get_data(raw, args):
    data, scaler = normalize_dataset(raw, args.column_wise)
    data_train, data_val, data_test = split_by_ratio(data, args.val_ratio, args.test_ratio)
    return data_train, data_val, data_test
""",
    "stats_from_train_part_ok.py": PRE + """
def split_by_ratio(data, val_ratio, test_ratio):
    n = len(data)
    return data[:n // 2], data[n // 2: 3 * n // 4], data[3 * n // 4:]

def get_data(raw, args):
    data_train, data_val, data_test = split_by_ratio(raw, args.val_ratio, args.test_ratio)
    mean = data_train.mean(axis=0)
    std = data_train.std(axis=0)
    data_train = (data_train - mean) / std
    data_test = (data_test - mean) / std
    return data_train, data_val, data_test
""",
    # One method scales `self.dat` by each series' largest magnitude over all rows; another,
    # called next from `__init__`, cuts `self.dat` into parts by index ranges.
    "method_scales_then_method_splits.py": PRE + """
class DataUtility:
    def __init__(self, path, train, valid):
        self.rawdat = np.loadtxt(path, delimiter=",")
        self.dat = np.zeros(self.rawdat.shape)
        self.n, self.m = self.dat.shape
        self._normalized()
        self._split(int(train * self.n), int((train + valid) * self.n))

    def _normalized(self):
        for i in range(self.m):
            self.dat[:, i] = self.rawdat[:, i] / np.max(np.abs(self.rawdat[:, i]))

    def _split(self, train, valid):
        train_set = range(0, train)
        valid_set = range(train, valid)
        test_set = range(valid, self.n)
        self.train = self._batchify(train_set)
        self.valid = self._batchify(valid_set)
        self.test = self._batchify(test_set)

    def _batchify(self, idx_set):
        return np.stack([self.dat[i] for i in idx_set])
""",
    # Split first, then scale (each part by the training rows' maximum): nothing leaks.
    "method_splits_then_scales_ok.py": PRE + """
class DataUtility:
    def __init__(self, path, train, valid):
        self.rawdat = np.loadtxt(path, delimiter=",")
        self.dat = self.rawdat.copy()
        self.n, self.m = self.dat.shape
        self._split(int(train * self.n), int((train + valid) * self.n))
        self._normalized()

    def _normalized(self):
        for i in range(self.m):
            self.dat[:, i] = self.rawdat[:, i] / np.max(np.abs(self.rawdat[:, i]))

    def _split(self, train, valid):
        test_set = range(valid, self.n)
        self.test = self._batchify(test_set)

    def _batchify(self, idx_set):
        return np.stack([self.dat[i] for i in idx_set])
""",
    # Max-abs scaling over all rows, then a slice named as test data.
    "maxabs_then_slice.py": PRE + """
X = np.loadtxt("series.csv", delimiter=",")
X = X / np.max(np.abs(X), axis=0)
n = int(0.8 * len(X))
X_test = X[n:]
""",
    # Per-sample scaling (no statistic over the rows) is not a fit.
    "per_sample_scale_ok.py": PRE + """
X = np.loadtxt("series.csv", delimiter=",")
X = X / np.max(np.abs(X), axis=1, keepdims=True)
n = int(0.8 * len(X))
X_test = X[n:]
""",
}

LEAK_EXPECTED = {
    "chain_fit_then_split.py": [("TRN202", 19)],
    "chain_after_split_ok.py": [],
    "stats_in_steps_split_helper.py": [("TRN202", 32)],
    "stats_from_train_part_ok.py": [],
    "method_scales_then_method_splits.py": [("TRN202", 16)],  # at the fit (s16: fits of own data)
    "method_splits_then_scales_ok.py": [],
    "maxabs_then_slice.py": [("TRN202", 7)],
    "per_sample_scale_ok.py": [],
}


@pytest.fixture(scope="module")
def leaks(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("leaks"), LEAKS, "TRN202")


@pytest.mark.parametrize("name", sorted(LEAK_EXPECTED))
def test_fit_before_split(leaks, name):
    assert codes_lines(leaks[name]) == LEAK_EXPECTED[name]


def test_fit_before_split_messages_name_the_path(leaks):
    assert "`prep_input()` returns data" in leaks["chain_fit_then_split.py"][0]["message"]
    assert "split_by_ratio(data" in leaks["stats_in_steps_split_helper.py"][0]["message"]
    assert "`_normalized()` leaves `self.dat`" in leaks["method_scales_then_method_splits.py"][0]["message"]


# -- TRN203: a project's own loader class whose constructor shuffles unless told not to.
LOADERS = {
    "ldr/batches.py": """
import random

class BatchLoader:
    def __init__(self, vocab, insts=None, batch_size=64, shuffle=True):
        self.vocab, self.insts, self.batch_size = vocab, insts, batch_size
        self._need_shuffle = shuffle
        if self._need_shuffle:
            random.shuffle(self.insts)

class OrderedLoader:
    def __init__(self, insts, shuffle=False):
        self.insts = insts
        if shuffle:
            random.shuffle(self.insts)
""",
    "ldr/translate.py": """
import torch
from batches import BatchLoader, OrderedLoader

def main(vocab, test_insts, train_insts):
    test_data = BatchLoader(vocab, insts=test_insts, batch_size=30)
    train_data = BatchLoader(vocab, insts=train_insts)
    kept = BatchLoader(vocab, insts=test_insts, shuffle=False)
    ordered = OrderedLoader(test_insts)
    return test_data, train_data, kept, ordered
""",
    "ldr/local_class.py": """
import random
import torch

class Batches:
    def __init__(self, insts, shuffle=True):
        self.insts = insts
        if shuffle:
            random.shuffle(self.insts)

valid_batches = Batches(valid_insts)
valid_kept = Batches(valid_insts, shuffle=False)
train_batches = Batches(train_insts)
""",
    # The same classes reached through a package that re-exports them (`from .batches import
    # *` in data/__init__.py): the shuffling one is still the project's.
    "pkg/data/__init__.py": "from .batches import *\n",
    "pkg/data/batches.py": """
import random

class BatchLoader:
    def __init__(self, insts, shuffle=True):
        self.insts = insts
        if shuffle:
            random.shuffle(self.insts)

class OrderedLoader:
    def __init__(self, insts, shuffle=False):
        self.insts = insts
        if shuffle:
            random.shuffle(self.insts)
""",
    "pkg/evaluate.py": """
import torch
from data import BatchLoader, OrderedLoader

def loaders(test_insts):
    test_data = BatchLoader(test_insts)
    ordered = OrderedLoader(test_insts)
    return test_data, ordered
""",
}

LOADER_EXPECTED = {
    "ldr/batches.py": [],
    "ldr/translate.py": [("TRN203", 5)],
    "ldr/local_class.py": [("TRN203", 10)],
    "pkg/data/batches.py": [],
    "pkg/evaluate.py": [("TRN203", 5)],
}


@pytest.fixture(scope="module")
def loaders(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loaders"), LOADERS, "TRN203")


@pytest.mark.parametrize("name", sorted(LOADER_EXPECTED))
def test_project_loader_class(loaders, name):
    assert codes_lines(loaders[name]) == LOADER_EXPECTED[name]


def test_project_loader_message_says_why(loaders):
    message = loaders["ldr/translate.py"][0]["message"]
    assert "`BatchLoader(...)`" in message and "shuffles by default" in message
    assert loaders["ldr/translate.py"][0]["fix"] is None  # a project class: no fix is certain


# `torch` reached through a star import (`from utils.metrics import *`): `torch.no_grad()` is
# still torch's, so the evaluation under it has autograd off (TRN102 silent), and without it on.
STAR = {
    "star/helpers.py": "import torch\n",
    "star/evaluate_star_ok.py": """
import torch.nn as nn
from helpers import *

def evaluate(model, data):
    scores = []
    for batch in [b for b in data.test_batches]:
        with torch.no_grad():
            out = model(batch)
        scores.append(out.cpu().numpy())
    return scores
""",
    "star/evaluate_star_bug.py": """
import torch.nn as nn
from helpers import *

def evaluate(model, data):
    scores = []
    for batch in [b for b in data.test_batches]:
        out = model(batch)
        scores.append(out.cpu().numpy())
    return scores
""",
}


def test_star_imported_no_grad(tmp_path):
    found = run_cases(tmp_path, STAR, "TRN102")
    assert codes_lines(found["star/evaluate_star_ok.py"]) == []
    assert codes_lines(found["star/evaluate_star_bug.py"]) == [("TRN102", 7)]
