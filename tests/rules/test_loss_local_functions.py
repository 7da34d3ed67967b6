"""TRN301/TRN302 through a loss function defined inside the function that trains
(`def main(): def criterion(logits, labels): return F.binary_cross_entropy_with_logits(...)`,
YXNTU/GeneralDyG's train.py): the local function hands its argument to the built-in loss.
Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_MODEL = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x)).squeeze(1)
"""

CASES = {
    # Bug: the local criterion applies BCE-with-logits to the sigmoid's output.
    "local_with_logits.py": _MODEL + """

def main(loader):
    def criterion(logits, labels):
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        return loss.mean()

    model = Net()
    for x, y in loader:
        loss = criterion(model(x), y.float())
        loss.backward()
""",
    # Look-alikes: the local criterion is plain BCE (right for probabilities); a function of
    # the same name wrapping BCE-with-logits exists, but inside another function (not in scope).
    "local_plain_bce.py": _MODEL + """

def other():
    def criterion(logits, labels):
        return F.binary_cross_entropy_with_logits(logits, labels)
    return criterion


def main(loader):
    def criterion(probs, labels):
        return F.binary_cross_entropy(probs, labels)

    model = Net()
    for x, y in loader:
        loss = criterion(model(x), y.float())
        loss.backward()
""",
    "out_of_scope.py": _MODEL + """

def other():
    def criterion(logits, labels):
        return F.binary_cross_entropy_with_logits(logits, labels)
    return criterion


def main(loader, criterion):
    model = Net()
    for x, y in loader:
        loss = criterion(model(x), y.float())
        loss.backward()
""",
}

EXPECTED = {
    "local_with_logits.py": [("TRN302", 22)],
    "local_plain_bce.py": [],
    "out_of_scope.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_local_functions"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
