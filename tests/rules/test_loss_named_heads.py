"""TRN301/TRN303 on a fine-tuned torchvision model whose head is built under a name first and
then installed (`classifier = nn.Sequential(OrderedDict([...])); model.classifier = classifier`,
the transfer-learning tutorial shape)."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
from collections import OrderedDict
import torch.nn as nn
from torchvision import models

model = models.vgg16(pretrained=True)
for p in model.parameters():
    p.requires_grad = False
classifier = nn.Sequential(OrderedDict([
    ('fc1', nn.Linear(25088, 500)),
    ('relu', nn.ReLU()),
    ('fc2', nn.Linear(500, 102)),{last}
]))
model.classifier = classifier
criterion = nn.{loss}()

def train(model, loader):
    for x, y in loader:
        out = model.forward(x)
        loss = criterion(out, y)

train(model, loader)
"""


def _findings(tmp_path, last: str, loss: str) -> list:
    found = run_cases(tmp_path, {"main.py": HEAD.format(last=last, loss=loss)}, "TRN301,TRN303")
    return codes_lines(found["main.py"])


def test_named_softmax_head_into_cross_entropy(tmp_path):
    assert _findings(tmp_path, "\n    ('output', nn.Softmax(dim=1)),", "CrossEntropyLoss") == [("TRN301", 20)]


def test_named_softmax_head_into_nll(tmp_path):
    assert _findings(tmp_path, "\n    ('output', nn.Softmax(dim=1)),", "NLLLoss") == [("TRN303", 20)]


def test_named_linear_head_into_nll(tmp_path):
    assert _findings(tmp_path, "", "NLLLoss") == [("TRN303", 19)]


def test_named_log_softmax_head_into_nll_is_silent(tmp_path):
    assert _findings(tmp_path, "\n    ('output', nn.LogSoftmax(dim=1)),", "NLLLoss") == []


def test_named_linear_head_into_cross_entropy_is_silent(tmp_path):
    assert _findings(tmp_path, "", "CrossEntropyLoss") == []
