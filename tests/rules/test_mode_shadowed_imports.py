"""TRN101/TRN102 in a helper whose parameter shares its name with a module-level import.

Tutorial chapters import the model another chapter trained (`from course.lesson9 import model`,
a module the run may not hold) and
define `def compute_accuracy(model, loader)` beside it. Inside the function `model` is the
parameter, whatever the module imports under that name. Before, the call `model(x)` was read
through the import (`lesson9.model(...)`, a library call): no forward pass, no finding.

Look-alikes: the same helpers written correctly (`torch.no_grad()`, `model.eval()` before the
evaluation); a parameter that defaults to the import (`def f(x, F=F)`) still is the import.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

ACCURACY = """
import torch
from course.lesson import model, train_loader


def compute_accuracy(model, loader):
    model.eval()
    correct = 0
    for x, y in loader:
        {guard}logits = model(x)
        correct += (logits.argmax(1) == y).sum().item()
    return correct


print(compute_accuracy(model, train_loader))
"""

# Trains the parameter, then evaluates it on validation data without switching it.
EPOCHS = """
import torch
import torch.nn.functional as F
from course.lesson import model


def train_one(model, loader, opt):
    model.train()
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def evaluate(model, loader):
    {switch}
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


def main(model, train_loader, val_loader, opt):
    for epoch in range(3):
        train_one(model, train_loader, opt)
        print(evaluate(model, val_loader))
"""

CASES = {
    "no_grad_bug.py": ACCURACY.replace("{guard}", ""),
    "no_grad_fixed.py": ACCURACY.replace("{guard}", "with torch.no_grad():\n            "),
    "eval_bug.py": EPOCHS.replace("{switch}", "pass"),
    "eval_fixed.py": EPOCHS.replace("{switch}", "model.eval()"),
}

EXPECTED = {
    "no_grad_bug.py": [("TRN102", 9)],
    "no_grad_fixed.py": [],
    "eval_bug.py": [("TRN101", 17)],
    "eval_fixed.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_shadowed_imports"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
