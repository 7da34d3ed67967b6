"""TRN204 in a search: each run trains a fresh model (a setting of a grid, a seed) and its
test score decides which run or setting wins (`if acc > best_acc: best_lr = lr`), also when
the run is Lightning's `trainer.fit` and the score `trainer.test(...)`. Look-alikes: each
run's final test score only collected (a mean over seeds), a search scored on validation
data. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import torch

def train(model, loader, lr, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

PL = """
import pytorch_lightning as pl
"""

CASES = {
    # Bug: the learning rate is picked by test accuracy.
    "grid_on_test.py": HELPERS + """
def search(train_loader, test_loader, make_model):
    best_acc, best_lr = 0, None
    for lr in [0.1, 0.01, 0.001]:
        model = make_model()
        train(model, train_loader, lr, 10)
        acc = evaluate(model, test_loader)
        if acc > best_acc:
            best_acc, best_lr = acc, lr
    return best_lr
""",
    # Bug: the same with Lightning, each setting fitted and then scored by trainer.test.
    "lightning_grid_on_test.py": PL + """
def search(make_model, train_dl, val_dl, test_dl):
    best, best_lr = 0.0, None
    for lr in [1e-2, 1e-3]:
        model = make_model(lr)
        trainer = pl.Trainer(max_epochs=10)
        trainer.fit(model, train_dl, val_dl)
        result = trainer.test(model, dataloaders=test_dl)
        if result[0]["test_acc"] > best:
            best, best_lr = result[0]["test_acc"], lr
    return best_lr
""",
    # Look-alike: independent seeds, each final test score collected and averaged.
    "seeds_averaged.py": HELPERS + """
def repeats(train_loader, test_loader, make_model):
    accs = []
    for seed in range(5):
        model = make_model()
        train(model, train_loader, 0.1, 10)
        accs.append(evaluate(model, test_loader))
    return sum(accs) / len(accs)
""",
    # Look-alike: the grid is scored on validation data, the test split once at the end.
    "grid_on_validation.py": HELPERS + """
def search(train_loader, val_loader, test_loader, make_model):
    best_acc, best_model = 0, None
    for lr in [0.1, 0.01]:
        model = make_model()
        train(model, train_loader, lr, 10)
        acc = evaluate(model, val_loader)
        if acc > best_acc:
            best_acc, best_model = acc, model
    return evaluate(best_model, test_loader)
""",
    # Look-alike: Lightning folds, each fresh model's test score only collected.
    "lightning_seeds_collected.py": PL + """
def repeats(make_model, train_dl, val_dl, test_dl):
    results = []
    for seed in range(3):
        model = make_model()
        trainer = pl.Trainer(max_epochs=10)
        trainer.fit(model, train_dl, val_dl)
        results.append(trainer.test(model, dataloaders=test_dl)[0]["test_acc"])
    return results
""",
}

OFFSET = HELPERS.count("\n")
EXPECTED = {
    "grid_on_test.py": [("TRN204", OFFSET + 6)],
    "lightning_grid_on_test.py": [("TRN204", 9)],
    "seeds_averaged.py": [],
    "grid_on_validation.py": [],
    "lightning_seeds_collected.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("search"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_search_on_test(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_says_a_search_decides(found):
    finding = found["grid_on_test.py"][0]
    assert "after each run of a search" in finding["message"] and "`acc > best_acc`" in finding["message"]
    assert finding["severity"] == "error"
