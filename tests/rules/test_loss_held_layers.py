"""TRN301 through layers the model holds as attributes and chains in an nn.Sequential
(`self.head = nn.Sequential(self.fc, self.softmax)`, or one built inside `forward`): the last
layer is read through the attribute's binding. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # Bugs: the Sequential's last member is `self.softmax`, an nn.Softmax (danielkelshaw/ConcreteDropout's shape).
    "held_softmax.py": """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)
        self.softmax = nn.Softmax(dim=1)
        self.head = nn.Sequential(self.fc2, self.softmax)

    def forward(self, x):
        return self.head(torch.relu(self.fc1(x)))


class Inline(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return nn.Sequential(self.fc1, self.fc2, self.softmax)(x)


model = Net()
other = Inline()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
    criterion(other(x), y).backward()
""",
    # Look-alike: the same models whose held last layer is no softmax.
    "held_identity.py": """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)
        self.softmax = nn.Identity()
        self.head = nn.Sequential(self.fc2, self.softmax)

    def forward(self, x):
        return self.head(torch.relu(self.fc1(x)))


class Inline(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)
        self.softmax = nn.Identity()

    def forward(self, x):
        return nn.Sequential(self.fc1, self.fc2, self.softmax)(x)


model = Net()
other = Inline()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
    criterion(other(x), y).backward()
""",
}

EXPECTED = {
    "held_softmax.py": [("TRN301", 32), ("TRN301", 33)],
    "held_identity.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_held_layers"), CASES, "TRN301")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
