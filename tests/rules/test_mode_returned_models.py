"""TRN101 on a model handed back by a training function of another module.

`model = train_model(model, ...)` (the function returns the model it was given) and
`model = train_model(epochs, loader)` (it builds the model, trains it and returns it), both
imported from `train.py`, then `eval_model(model, test_loader)` imported from `evaluate.py`,
whose evaluation never switches to eval mode: the test accuracy is measured in training
mode. Before, the assignment from another module's function forgot the model's mode.

Look-alikes: the training function ending with `model.eval()`, and the caller switching the
model to eval before evaluating.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NET = """
import torch.nn as nn


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.drop(self.fc(x)))
"""

EVALUATE = """
import torch


def eval_model(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            outputs = model(x)
            correct += (outputs.argmax(1) == y).sum().item()
    return correct
"""

TRAIN_GIVEN = """
import torch
import torch.nn as nn


def train_model(model, epochs, loader):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step(){end}
    return model
"""

TRAIN_BUILT = """
import torch
import torch.nn as nn
from net import CNN


def train_model(epochs, loader):
    model = CNN()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step(){end}
    return model
"""

MAIN_GIVEN = """
from net import CNN
from train import train_model
from evaluate import eval_model

train_loader, test_loader = [], []
model = CNN()
model = train_model(model, 5, train_loader){switch}
print(eval_model(model, test_loader))
"""

MAIN_BUILT = """
from train import train_model
from evaluate import eval_model

train_loader, test_loader = [], []
model = train_model(5, train_loader){switch}
print(eval_model(model, test_loader))
"""

CASES = {}
for kind, train, main in (("given", TRAIN_GIVEN, MAIN_GIVEN), ("built", TRAIN_BUILT, MAIN_BUILT)):
    for case, end, switch in (("bug", "", ""), ("train_ends_eval", "\n    model.eval()", ""),
                              ("caller_eval", "", "\nmodel.eval()")):
        folder = f"{kind}_{case}"
        CASES[f"{folder}/net.py"] = NET
        CASES[f"{folder}/evaluate.py"] = EVALUATE
        CASES[f"{folder}/train.py"] = train.replace("{end}", end)
        CASES[f"{folder}/main.py"] = main.replace("{switch}", switch)

EXPECTED = {f"{kind}_{case}/evaluate.py": [("TRN101", 8)] if case == "bug" else []
            for kind in ("given", "built") for case in ("bug", "train_ends_eval", "caller_eval")}
EXPECTED.update({f"{kind}_bug/{name}": [] for kind in ("given", "built") for name in ("main.py", "train.py")})


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    # One run per case: the cases' modules share names (`train.py`), and a project run
    # holds one project.
    results = {}
    for folder in sorted({name.split("/", 1)[0] for name in CASES}):
        cases = {name: source for name, source in CASES.items() if name.startswith(folder + "/")}
        results.update(run_cases(tmp_path_factory.mktemp(folder), cases, "TRN101,TRN103"))
    return results


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
