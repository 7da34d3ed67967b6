"""TRN301/TRN302 across modules and inside a model's own class, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        out = F.softmax(self.fc(x), 1)
        return out

class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        logits = self.fc(x)
        return F.softmax(logits, dim=-1), logits

class LogitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)
"""

CASES = {
    "pkg/__init__.py": "",
    "pkg/models.py": MODELS,
    # A model class of another module whose forward ends in softmax, trained with CE.
    "pkg/train.py": """
import torch.nn as nn
from .models import LogitsNet, Net, TupleNet

model = Net()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()

pair = TupleNet()
for x, y in loader:
    probs, logits = pair(x)
    nn.functional.cross_entropy(probs, y).backward()
""",
    # Look-alikes: the logits of the same tuple, and a model that returns logits.
    "pkg/train_ok.py": """
import torch.nn as nn
from .models import LogitsNet, TupleNet

pair = TupleNet()
for x, y in loader:
    probs, logits = pair(x)
    nn.functional.cross_entropy(logits, y).backward()
    accuracy = (probs.argmax(1) == y).float().mean()

plain = LogitsNet()
for x, y in loader:
    nn.functional.cross_entropy(plain(x), y).backward()
""",
    # Inside the model's own class: `self(x)` in training_step.
    "own_class.py": """
import torch
import torch.nn as nn
import torch.nn.functional as F
import lightning as L

class Lit(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.binary_cross_entropy_with_logits(self(x), y)
""",
    # The softmax only for metrics: `logits, loss = model(X, Y)` computes the loss on logits.
    "own_class_ok.py": """
import torch.nn as nn
import torch.nn.functional as F

class Same(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, y=None):
        logits = self.fc(x)
        probs = F.softmax(logits, dim=-1)
        loss = None if y is None else F.cross_entropy(logits, y)
        return probs, loss

    def training_step(self, batch, batch_idx):
        x, y = batch
        _, loss = self(x, y)
        return loss

model = Same()
logits, loss = model(X, Y)
loss.backward()
""",
}

EXPECTED = {
    "pkg/__init__.py": [],
    "pkg/models.py": [],
    "pkg/train.py": [("TRN301", 7), ("TRN301", 12)],
    "pkg/train_ok.py": [],
    "own_class.py": [("TRN302", 16)],
    "own_class_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_boundaries"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_class_and_its_module(found):
    first = min(found["pkg/train.py"], key=lambda f: f["line"])
    assert "Net" in first["message"] and "pkg.models" in first["message"]
