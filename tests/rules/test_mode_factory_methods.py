"""TRN101 on a trainer class that builds its network with its own factory method
(`self.phi = self.get_model()`), seen in research code (domain-generalisation algorithms
sharing a base class): the method returns a newly built model, so the network is in
training mode wherever the class never switches it, and an accuracy method that runs it
without `eval()` evaluates it with dropout on.

Look-alikes: the same method that puts the model in eval mode before returning it, a
subclass that overrides the factory with one that cannot be read, and a class that does
switch the model in its accuracy method.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))
"""

ALGO = """

class Algo:
    def __init__(self, train_loader, val_loader, kind):
        self.kind = kind
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.phi = self.get_model()
        self.opt = torch.optim.SGD(self.phi.parameters(), lr=0.1)
        self.val_acc = []

    def get_model(self):
        if self.kind == "net":
            phi = Net()
        else:
            phi = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 2))
        phi = phi.to("cpu")
        return phi

    def get_test_accuracy(self, loader):
        correct = 0
        for x, y in loader:
            with torch.no_grad():
                out = self.phi(x)
            correct += (out.argmax(1) == y).sum().item()
        return correct

    def train(self, epochs):
        for epoch in range(epochs):
            for x, y in self.train_loader:
                self.opt.zero_grad()
                loss = F.cross_entropy(self.phi(x), y)
                loss.backward()
                self.opt.step()
            self.val_acc.append(self.get_test_accuracy(self.val_loader))
"""

BAD = NET + ALGO

# The factory hands back a model it switched to eval mode itself: not a fresh model.
RETURNS_EVAL = NET + ALGO.replace('        phi = phi.to("cpu")\n',
                                  '        phi = phi.to("cpu")\n        phi.eval()\n')

# A subclass of the file builds the network another way (a checkpoint in whatever mode).
OVERRIDDEN = BAD + """

class Loaded(Algo):
    def get_model(self):
        return torch.load("model.pt")
"""

SWITCHED = NET + ALGO.replace("        correct = 0\n", "        correct = 0\n        self.phi.eval()\n").replace(
    "        for epoch in range(epochs):\n", "        for epoch in range(epochs):\n            self.phi.train()\n")

LENET = """
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))
"""

# The factory imports the project's model class inside the method (one per configuration).
PROJECT = NET.replace("\n\nclass Net(nn.Module):", "\n\nclass Unused:").split("class Unused:")[0] + ALGO.replace(
    "            phi = Net()\n", "            from models.lenet import LeNet5\n            phi = LeNet5()\n")

CASES = {
    "bad.py": BAD,
    "returns_eval.py": RETURNS_EVAL,
    "overridden.py": OVERRIDDEN,
    "switched.py": SWITCHED,
    "models/__init__.py": "",
    "models/lenet.py": LENET,
    "project_bad.py": PROJECT,
}

EXPECTED = {
    "bad.py": [("TRN101", 37)],
    "returns_eval.py": [],
    "overridden.py": [],
    "switched.py": [],
    "project_bad.py": [("TRN101", 30)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_factory_methods"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_layer_inside_the_factory_makes_it_an_error(found):
    [finding] = found["bad.py"]
    assert finding["severity"] == "error" and "Dropout" in finding["message"]
