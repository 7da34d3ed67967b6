"""TRN303 on a model class of another module that ends in an nn.Linear (logits), through
the real command: the usual layout of `models.py` plus `train.py`."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch.nn as nn
import torch.nn.functional as F

class LogitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        return self.fc2(x)

class SequentialHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        return self.head(x)

class LogNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

class LogHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.head(x)

class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, log=True):
        if log:
            return F.log_softmax(self.fc(x), dim=1)
        return self.fc(x)
"""

CASES = {
    "models.py": MODELS,
    # A models file that never names a softmax: its summary still says what it returns.
    "plain.py": """
import torch.nn as nn

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.body(x).relu())
""",
    "train_plain.py": """
import torch.nn as nn
from plain import Classifier

net = Classifier()
loss_fn = nn.NLLLoss()
for x, y in loader:
    loss_fn(net(x), y).backward()
""",
    # Bugs: NLLLoss given the raw output of a model whose forward ends in a Linear.
    "train.py": """
import torch.nn as nn
import torch.nn.functional as F
from models import LogitsNet, SequentialHead

model = LogitsNet()
criterion = nn.NLLLoss()
for x, y in loader:
    out = model(x)
    loss = criterion(out, y)
    loss.backward()

head = SequentialHead()
for x, y in loader:
    F.nll_loss(head(x), y).backward()
""",
    # Look-alikes: log-probabilities from the model or from the loop, and a model that
    # returns logits only on one path.
    "train_ok.py": """
import torch.nn as nn
import torch.nn.functional as F
from models import LogHead, LogitsNet, LogNet, Mixed

criterion = nn.NLLLoss()
model = LogNet()
for x, y in loader:
    criterion(model(x), y).backward()

head = LogHead()
for x, y in loader:
    criterion(head(x), y).backward()

plain = LogitsNet()
for x, y in loader:
    criterion(F.log_softmax(plain(x), dim=1), y).backward()
    nn.CrossEntropyLoss()(plain(x), y).backward()

mixed = Mixed()
for x, y in loader:
    criterion(mixed(x), y).backward()
""",
    # A tutorial rebinds one criterion name: CrossEntropyLoss on the logits first (correct), then
    # NLLLoss on a LogSoftmax model (correct), then NLLLoss on the logits (the bug). Only the
    # binding that reaches a call says which loss it is.
    "rebound.py": """
import torch.nn as nn

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
criterion = nn.CrossEntropyLoss()
loss = criterion(model(images), labels)

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
criterion = nn.NLLLoss()
loss = criterion(model(images), labels)

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
loss = criterion(model(images), labels)
""",
}

EXPECTED = {
    "rebound.py": [("TRN303", 12)],
    "models.py": [],
    "train.py": [("TRN303", 9), ("TRN303", 14)],
    "train_ok.py": [],
    "plain.py": [],
    "train_plain.py": [("TRN303", 7)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_nll_modules"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_class_and_its_module(found):
    first = min(found["train.py"], key=lambda f: f["line"])
    assert "logits" in first["message"] and "LogitsNet" in first["message"] and "models" in first["message"]
