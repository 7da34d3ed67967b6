"""TRN301/TRN302 on a model whose forward applies the activation under a flag its
constructor stores (`if self.task == "classification": x = F.softmax(x, 1)`,
`if self.use_sigmoid: return torch.sigmoid(x)`), read with the arguments of the
construction the loss sees, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, d, k, task):
        super().__init__()
        self.task = task
        self.fc = nn.Linear(d, k)

    def forward(self, x):
        x = self.fc(x)
        if self.task == "classification":
            x = F.softmax(x, dim=1)
        elif self.task == "binary":
            x = torch.sigmoid(x)
        return x


class Head(nn.Module):
    def __init__(self, d, k, use_softmax=True):
        super().__init__()
        self.use_softmax = use_softmax
        self.fc = nn.Linear(d, k)

    def forward(self, x):
        x = self.fc(x)
        if self.use_softmax:
            return F.softmax(x, dim=-1)
        return x
'''

CASES = {
    # Bugs: the construction the loss sees switches the activation on.
    "flags.py": MODELS + '''

def train(loader):
    clf = MLP(10, 3, task="classification")
    binary = MLP(10, 1, "binary")
    head = Head(10, 3)
    ce = nn.CrossEntropyLoss()
    bce = nn.BCEWithLogitsLoss()
    for x, y in loader:
        ce(clf(x), y).backward()
        bce(binary(x), y).backward()
        ce(head(x), y).backward()
''',
    # Look-alikes: the flag is off, or not known where the model is built.
    "flags_ok.py": MODELS + '''

def train(loader, args):
    reg = MLP(10, 3, task="regression")
    head = Head(10, 3, use_softmax=False)
    unknown = MLP(10, 3, task=args.task)
    ce = nn.CrossEntropyLoss()
    bce = nn.BCEWithLogitsLoss()
    for x, y in loader:
        ce(reg(x), y).backward()
        bce(reg(x), y).backward()
        ce(head(x), y).backward()
        ce(unknown(x), y).backward()
''',
}

EXPECTED = {
    "flags.py": [("TRN301", 41), ("TRN301", 43), ("TRN302", 42)],
    "flags_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_flags"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
