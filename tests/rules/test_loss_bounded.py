"""TRN301/TRN302 through an in-place activation (`x.sigmoid_()`) and a clamp of its output
(detection heads keep probabilities off 0 and 1), through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "heads.py": """
import torch
import torch.nn as nn

class Heatmap(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        return torch.clamp(self.conv(x).sigmoid_(), min=1e-4, max=1 - 1e-4)

class HeatmapLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        return self.conv(x).clamp(-10, 10)
""",
    # Bugs: clamped or in-place sigmoid (softmax) outputs into the losses that take logits.
    "train.py": """
import torch.nn as nn
import torch.nn.functional as F
from heads import Heatmap

bce = nn.BCEWithLogitsLoss()
model = Heatmap()
for x, y in loader:
    bce(model(x), y).backward()
    out = other(x)
    probs = F.softmax(out, dim=1).clamp(min=1e-8)
    F.cross_entropy(probs, y).backward()
""",
    # Look-alikes: clamped logits; the in-place sigmoid taken after the loss, for metrics.
    "train_ok.py": """
import torch.nn as nn
from heads import HeatmapLogits

bce = nn.BCEWithLogitsLoss()
model = HeatmapLogits()
for x, y in loader:
    out = model(x)
    bce(out, y).backward()
    hits = out.detach().sigmoid_() > 0.5
""",
}

EXPECTED = {
    "heads.py": [],
    "train.py": [("TRN302", 8), ("TRN301", 11)],
    "train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_bounded"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert sorted(codes_lines(found[name])) == sorted(EXPECTED[name])
