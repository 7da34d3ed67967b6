"""TRN301/TRN302 on a model class that inherits its `forward` from a base class of the same
module (the layers in the subclass's `__init__`), through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NETS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Base(nn.Module):
    def forward(self, x):
        x = self.features(x)
        return F.softmax(self.classifier(x), dim=1)

class Small(Base):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(4, 8)
        self.classifier = nn.Linear(8, 3)

class Wide(Small):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(4, 32)

class Logits(Base):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(4, 8)
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.features(x))

class BinaryBase(nn.Module):
    def forward(self, x):
        return self.out(x)

class Binary(BinaryBase):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 1)
"""

CASES = {
    "nets.py": NETS,
    # Bugs: subclasses whose inherited forward ends in a softmax, trained with CE.
    "train.py": """
import torch.nn as nn
from nets import Small, Wide

criterion = nn.CrossEntropyLoss()
small = Small()
for x, y in loader:
    criterion(small(x), y).backward()

wide = Wide()
for x, y in loader:
    criterion(wide(x), y).backward()
""",
    # Look-alikes: a subclass overriding forward with logits; an inherited forward ending in
    # a Linear, with the sigmoid applied for predictions only.
    "train_ok.py": """
import torch
import torch.nn as nn
from nets import Binary, Logits

criterion = nn.CrossEntropyLoss()
plain = Logits()
for x, y in loader:
    criterion(plain(x), y).backward()

binary = Binary()
bce = nn.BCEWithLogitsLoss()
for x, y in loader:
    out = binary(x)
    bce(out, y).backward()
    predicted = torch.sigmoid(out) > 0.5
""",
}

EXPECTED = {
    "nets.py": [],
    "train.py": [("TRN301", 7), ("TRN301", 11)],
    "train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_inherited"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
