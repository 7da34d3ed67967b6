"""TRN301/TRN302 on a model that returns probabilities in eval mode and logits in training
(`if not self.training: x = F.softmax(x, 1)`): a loss on its output after `model.eval()` (a
validation loss) gets probabilities; the training loss gets logits. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc(x)
        if not self.training:
            x = F.softmax(x, dim=1)
        return x

class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        out = self.conv(x)
        return out if self.training else torch.sigmoid(out)

class TrainProbs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc(x)
        if self.training:
            x = F.softmax(x, dim=1)
        return x
"""

CASES = {
    "models.py": MODELS,
    # Bugs: validation losses computed on what the model returns in eval mode.
    "train.py": """
import torch
import torch.nn as nn
from models import Classifier, Segmenter

model = Classifier()
criterion = nn.CrossEntropyLoss()

def validate(net, loader):
    net.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += criterion(net(x), y).item()
    return total

for epoch in range(10):
    model.train()
    for x, y in train_loader:
        criterion(model(x), y).backward()
    model.eval()
    with torch.no_grad():
        for x, y in val_loader:
            val_loss = criterion(model(x), y)
validate(model, val_loader)

seg = Segmenter()
bce = nn.BCEWithLogitsLoss()
seg.eval()
for x, y in val_loader:
    bce(seg(x), y)
""",
    # Look-alikes: the training losses (logits), a model switched back with train(), and a
    # model whose softmax is on the training branch only, evaluated.
    "train_ok.py": """
import torch.nn as nn
from models import Classifier, Segmenter, TrainProbs

criterion = nn.CrossEntropyLoss()
model = Classifier()
model.eval()
predictions = model(x).argmax(1)
model.train()
for x, y in train_loader:
    criterion(model(x), y).backward()

seg = Segmenter()
bce = nn.BCEWithLogitsLoss()
for x, y in train_loader:
    bce(seg(x), y).backward()

odd = TrainProbs()
odd.eval()
for x, y in val_loader:
    criterion(odd(x), y)

def main(args, net):
    if args.evaluate:
        net.eval()
        return
    for x, y in train_loader:
        criterion(net(x), y).backward()

main(args, Classifier())
""",
}

EXPECTED = {
    "models.py": [],
    "train.py": [("TRN301", 13), ("TRN301", 23), ("TRN302", 30)],
    "train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_eval_mode"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_says_eval_mode(found):
    assert found["train.py"] and all("eval mode" in f["message"] for f in found["train.py"])
