"""TRN301/TRN302 on averaged outputs: an ensemble's or a test-time augmentation's mean of
probabilities (`(p1 + p2) / 2`, `torch.stack([...]).mean(0)`, `0.5 * p1 + 0.5 * p2`) is
still probabilities, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class ProbNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)

class SigmoidNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))

class LogitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        return self.fc(x)
"""

CASES = {
    "models.py": MODELS,
    "ensemble.py": """
import torch
import torch.nn as nn
from models import ProbNet, SigmoidNet

def fit(loader):
    a, b = ProbNet(), ProbNet()
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        p1, p2 = a(x), b(x)
        criterion((p1 + p2) / 2, y).backward()
        criterion(torch.stack([a(x), b(x)]).mean(0), y).backward()
        averaged = torch.mean(torch.stack([a(x), b(x)]), dim=0)
        criterion(averaged, y).backward()
        criterion(0.5 * p1 + 0.5 * p2, y).backward()

def tta(loader):
    d = SigmoidNet()
    bce = nn.BCEWithLogitsLoss()
    for x, y in loader:
        bce((d(x) + d(torch.flip(x, [3]))) / 2.0, y).backward()
""",
    # Look-alikes: averaged logits; probabilities mixed with logits; probabilities scaled by
    # a tensor (not known to be a number); a difference.
    "ensemble_ok.py": """
import torch
import torch.nn as nn
from models import LogitNet, ProbNet

def fit(loader, temperature):
    a, b = LogitNet(), LogitNet()
    p = ProbNet()
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        l1, l2 = a(x), b(x)
        criterion((l1 + l2) / 2, y).backward()
        criterion(torch.stack([l1, l2]).mean(0), y).backward()
        criterion((p(x) + l1) / 2, y).backward()
        criterion(p(x) / temperature, y).backward()
        criterion(p(x) - p(x).mean(0), y).backward()
""",
}

EXPECTED = {
    "models.py": [],
    "ensemble.py": [("TRN301", 10), ("TRN301", 11), ("TRN301", 13), ("TRN301", 14), ("TRN302", 20)],
    "ensemble_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_averaged"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
