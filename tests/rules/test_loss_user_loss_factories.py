"""TRN302 through a loss factory returning the user's own loss class (`get_loss(name)` in
losses.py returning a DiceBCELoss whose forward hands its input to
binary_cross_entropy_with_logits), here or imported, on the output of a sigmoid model."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch
import torch.nn as nn

class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        return torch.sigmoid(self.c(x))
"""

LOSSES = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class DiceBCELoss(nn.Module):
    def forward(self, inputs, targets, smooth=1):
        bce = F.binary_cross_entropy_with_logits(inputs, targets)
        inputs = torch.sigmoid(inputs)
        inter = (inputs * targets).sum()
        return bce + 1 - (2 * inter + smooth) / (inputs.sum() + targets.sum() + smooth)

class SigmoidBCELoss(nn.Module):
    def forward(self, inputs, targets):
        return F.binary_cross_entropy(torch.sigmoid(inputs), targets)

def get_loss(name):
    if name == 'dice':
        return DiceBCELoss()
    return {fallback}()
"""

TRAIN = """
import torch
from models import UNet
from losses import get_loss

model = UNet()
criterion = get_loss(cfg.loss)
for img, mask in loader:
    loss = criterion(model(img), mask)
    loss.backward()
"""


def _train_findings(tmp_path, fallback: str) -> list:
    found = run_cases(tmp_path, {"models.py": MODELS, "losses.py": LOSSES.format(fallback=fallback),
                                 "train.py": TRAIN}, "TRN302")
    return codes_lines(found["train.py"])


def test_imported_factory_of_a_logits_loss_class(tmp_path):
    assert _train_findings(tmp_path, "DiceBCELoss") == [("TRN302", 8)]


def test_factory_that_may_return_a_probability_loss_is_silent(tmp_path):
    assert _train_findings(tmp_path, "SigmoidBCELoss") == []


def test_factory_that_may_return_a_regression_loss_is_silent(tmp_path):
    assert _train_findings(tmp_path, "nn.MSELoss") == []


def test_local_factory_of_a_logits_loss_class(tmp_path):
    source = MODELS + LOSSES.format(fallback="DiceBCELoss") + """
model = UNet()
criterion = get_loss('dice')
for img, mask in loader:
    loss = criterion(model(img), mask)
"""
    found = run_cases(tmp_path, {"main.py": source}, "TRN302")
    assert codes_lines(found["main.py"]) == [("TRN302", 35)]
