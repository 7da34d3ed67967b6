"""TRN204 for a helper that trains one epoch and then evaluates what it is handed
(`hit, mrr = train_test(model, train_data, test_data)`, SR-GNN and the session-based
recommenders built on it), called each epoch with the test split while the caller decides on
what it returns (best result, patience). In the same file, in another module imported by name
or star-imported. Look-alikes: the same helper handed the validation split, the test results
only printed, a helper whose second loop reads the training data again. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPER = """
import numpy as np
import torch


def forward(model, batch, data):
    inputs, targets = data.get(batch)
    return targets, model(inputs)


def train_test(model, train_data, test_data):
    model.train()
    slices = train_data.generate_batch(100)
    for batch in slices:
        model.optimizer.zero_grad()
        targets, scores = forward(model, batch, train_data)
        loss = model.loss_function(scores, targets)
        loss.backward()
        model.optimizer.step()
    model.eval()
    hits = []
    slices = test_data.generate_batch(100)
    for batch in slices:
        targets, scores = forward(model, batch, test_data)
        hits.append((scores.argmax(1) == targets).float().mean().item())
    return np.mean(hits)
"""

# The caller: the returned test score decides the best epoch and the early stop.
SELECTS = """
def main(model, Data, load):
    train_data = Data(load("train.txt"))
    test_data = Data(load("test.txt"))
    best, bad = 0.0, 0
    for epoch in range(30):
        hit = train_test(model, train_data, test_data)
        if hit >= best:
            best = hit
        else:
            bad += 1
        if bad >= 10:
            break
"""

CASES = {
    # Bug: the helper and its caller in one file.
    "same_file.py": HELPER + SELECTS,
    # Bug: the helper in another module, star-imported (as SR-GNN's main.py does).
    "star/model.py": HELPER,
    "star/main.py": "import torch\nfrom model import *\n" + SELECTS,
    # Bug: imported by name.
    "named/model.py": HELPER,
    "named/main.py": "import torch\nfrom model import train_test\n" + SELECTS,
    # Look-alike: the same helper handed the validation split.
    "validation.py": HELPER + SELECTS.replace("test_data", "valid_data").replace('"test.txt"', '"valid.txt"'),
    # Look-alike: the test results only printed; nothing is chosen on them.
    "printed.py": HELPER + """
def main(model, Data, load):
    train_data = Data(load("train.txt"))
    test_data = Data(load("test.txt"))
    for epoch in range(30):
        hit = train_test(model, train_data, test_data)
        print(epoch, hit)
""",
    # Look-alike: its second loop scores the training data again; the third argument is a
    # path to write to, not data it evaluates.
    "train_score.py": """
import torch


def train_eval(model, optimizer, train_loader, test_loader):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    correct = 0
    for x, y in train_loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct


def main(model, optimizer, train_loader, test_loader):
    best = 0
    for epoch in range(10):
        acc = train_eval(model, optimizer, train_loader, test_loader)
        if acc > best:
            best = acc
""",
    # Look-alike: the helper prints the test accuracy and returns the training loss, on which
    # the caller's scheduler steps.
    "returns_train_loss.py": """
import torch


def train_and_report(model, optimizer, train_loader, test_loader):
    model.train()
    total = 0.0
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    model.eval()
    correct = 0
    for x, y in test_loader:
        correct += (model(x).argmax(1) == y).sum().item()
    print("test accuracy", correct / len(test_loader.dataset))
    return total


def main(model, optimizer, scheduler, train_loader, test_loader):
    for epoch in range(10):
        train_loss = train_and_report(model, optimizer, train_loader, test_loader)
        scheduler.step(train_loss)
""",
    # Bug: a tuple of the training loss and the test score; the caller decides on the score.
    "tuple_result.py": """
import torch


def train_and_test(model, optimizer, train_loader, test_loader):
    model.train()
    total = 0.0
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    model.eval()
    correct = 0
    for x, y in test_loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return total, correct / len(test_loader.dataset)


def main(model, optimizer, scheduler, train_loader, test_loader):
    best = 0.0
    for epoch in range(10):
        train_loss, test_acc = train_and_test(model, optimizer, train_loader, test_loader)
        if test_acc > best:
            best = test_acc
            torch.save(model.state_dict(), "best.pt")
""",
}

EXPECTED = {
    "returns_train_loss.py": [],
    "tuple_result.py": [("TRN204", 23)],
    "same_file.py": [("TRN204", 32)],
    "star/main.py": [("TRN204", 9)],
    "named/main.py": [("TRN204", 9)],
    "star/model.py": [],
    "named/model.py": [],
    "validation.py": [],
    "printed.py": [],
    "train_score.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("train_then_test"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_train_then_test_helper(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_helper_and_the_decision(found):
    finding = found["same_file.py"][0]
    assert finding["severity"] == "error"
    assert "`train_test()` trains and then evaluates `test_data`" in finding["message"]
    assert "`hit >= best`" in finding["message"]
