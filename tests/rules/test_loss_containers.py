"""TRN301/TRN302 on the elements of a list or tuple of outputs (one per head, scale or
supervision level), walked by a loop or indexed, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEADS = """
import torch
import torch.nn as nn

class SideOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleList([nn.Conv2d(8, 1, 1) for _ in range(3)])

    def forward(self, x):
        outs = []
        for head in self.heads:
            outs.append(torch.sigmoid(head(x)))
        return outs

class RawOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleList([nn.Conv2d(8, 1, 1) for _ in range(3)])

    def forward(self, x):
        outs = []
        for head in self.heads:
            outs.append(head(x))
        return outs

class DetectionFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.det = nn.Conv2d(8, 4, 1)
        self.seg = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        outs = []
        outs.append(torch.sigmoid(self.seg(x)))
        outs.insert(0, self.det(x))
        return outs

class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 1)
        self.b = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.a(x)), self.b(x)
"""

CASES = {
    "heads.py": HEADS,
    # Bugs: every element of the model's list is a sigmoid, and the loss takes logits.
    "train.py": """
import torch.nn as nn
import torch.nn.functional as F
from heads import SideOutputs

model = SideOutputs()
bce = nn.BCEWithLogitsLoss()
for x, y in loader:
    loss = 0
    for side in model(x):
        loss = loss + bce(side, y)
    loss.backward()

for x, y in loader:
    outputs = model(x)
    for i, side in enumerate(outputs):
        F.binary_cross_entropy_with_logits(side, y).backward()
    first = bce(outputs[0], y)
""",
    # The same with softmax: a list comprehension of probabilities, walked with the targets.
    "softmax_list.py": """
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()
for x, ys in loader:
    probs = [F.softmax(o, dim=1) for o in model(x)]
    for p, y in zip(probs, ys):
        criterion(p, y).backward()
    sum(criterion(p, ys[0]) for p in probs).backward()
""",
    "softmax_list_ok.py": """
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()
for x, y in loader:
    logits = model(x)
    probs = [F.softmax(o, dim=1) for o in logits]
    sum(criterion(o, y) for o in logits).backward()
    confidence = [p.max(1).values for p in probs]
""",
    # Look-alikes: raw outputs (sigmoid only for predictions), a list with something other
    # than a sigmoid put in front, a tuple with one sigmoid and one logit, a plain BCELoss.
    "train_ok.py": """
import torch
import torch.nn as nn
from heads import DetectionFirst, Pair, RawOutputs, SideOutputs

bce = nn.BCEWithLogitsLoss()
raw = RawOutputs()
for x, y in loader:
    for side in raw(x):
        bce(side, y).backward()
        masks = torch.sigmoid(side) > 0.5

mixed = DetectionFirst()
for x, y in loader:
    for out in mixed(x):
        bce(out, y).backward()
    bce(mixed(x)[0], y).backward()

pair = Pair()
for x, y in loader:
    for out in pair(x):
        bce(out, y).backward()

plain = nn.BCELoss()
sides = SideOutputs()
for x, y in loader:
    for side in sides(x):
        plain(side, y).backward()
""",
}

EXPECTED = {
    "heads.py": [],
    "train.py": [("TRN302", 10), ("TRN302", 16), ("TRN302", 17)],
    "softmax_list.py": [("TRN301", 8), ("TRN301", 9)],
    "softmax_list_ok.py": [],
    "train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_containers"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_says_every_element(found):
    first = min(found["train.py"], key=lambda f: f["line"])
    assert "every element" in first["message"] and "SideOutputs" in first["message"]
