"""TRN301-303 on what really reaches the loss: rebound variables, reshapes, the user's own
losses, and criteria installed from another module. Each family with its correct look-alike,
through the real command on real files."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

CASES = {
    # `y_hat = torch.softmax(y_hat, 1)` replaces the logits before the loss (Lightning step).
    "rebound.py": HEAD + """
import lightning as L

class Lit(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.linear(x)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        y_hat = torch.softmax(y_hat, dim=1)
        loss = self.criterion(y_hat, y)
        return loss

def evaluate(model, feats):
    for x, y in feats:
        output = model(x)
        output = F.softmax(output, dim=1)
        nll = F.nll_loss(output, y)
""",
    # Look-alikes: the loss is taken before the softmax, the softmax only on one branch,
    # the probabilities turned back into log-probabilities before NLLLoss.
    "rebound_ok.py": HEAD + """
import lightning as L

class Lit(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.linear(x)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        loss = self.criterion(y_hat, y)
        y_hat = torch.softmax(y_hat, dim=1)
        self.log("confidence", y_hat.max())
        return loss

    def test_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        if self.calibrated:
            y_hat = torch.softmax(y_hat, dim=1)
        return self.criterion(y_hat, y)

def evaluate(model, feats):
    for x, y in feats:
        output = model(x)
        output = F.softmax(output, dim=1)
        output = torch.log(output)
        nll = F.nll_loss(output, y)
""",
    # The model's softmax output reshaped (`resize`, `torch.squeeze`) on its way to the loss.
    "reshaped.py": HEAD + """
class Ranker(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = nn.Linear(1, 1)

    def forward(self, q):
        return F.softmax(self.gamma(q))

model = Ranker()
criterion = nn.CrossEntropyLoss()
for q, y in data:
    y_pred = model(q)
    loss = criterion(y_pred.resize(1, 4), y)
    squeezed = torch.squeeze(y_pred)
    loss = criterion(squeezed, y)
""",
    "reshaped_ok.py": HEAD + """
class Ranker(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = nn.Linear(1, 1)

    def forward(self, q):
        return self.gamma(q)

model = Ranker()
criterion = nn.CrossEntropyLoss()
for q, y in data:
    y_pred = model(q)
    loss = criterion(y_pred.resize(1, 4), y)
    probs = torch.squeeze(F.softmax(y_pred, 1))
""",
    # A model whose own training method calls `self.loss_op(self.__call__(x), y)`: NLLLoss of
    # the softmax forward, in its own class.
    "own_nll.py": HEAD + """
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.Softmax(dim=1)
        self.loss_op = nn.NLLLoss()

    def forward(self, x):
        return self.softmax(self.fc(x))

    def run_epoch(self, batches):
        for x, y in batches:
            y_pred = self.__call__(x)
            self.loss_op(y_pred, y).backward()

    def predict(self, x):
        return self(x).argmax(1)
""",
    # Look-alike: the forward returns logits; only predict() softmaxes.
    "own_nll_ok.py": HEAD + """
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.loss_op = nn.NLLLoss()

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

    def predict(self, x):
        return F.softmax(self.fc(x), dim=1)

    def run_epoch(self, batches):
        for x, y in batches:
            self.loss_op(self(x), y).backward()
""",
}

# Two modules: the user's own loss in one, the model in another, the training in a third.
PACKAGE = {
    "app/__init__.py": "",
    "app/losses.py": HEAD + """
class FocalLoss(nn.Module):
    def __init__(self, gamma=2):
        super().__init__()
        self.gamma = gamma

    def forward(self, inputs, targets):
        bce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        pt = torch.exp(-bce)
        return ((1 - pt) ** self.gamma * bce).mean()

class SwitchFocal(nn.Module):
    def __init__(self, logits=False):
        super().__init__()
        self.logits = logits

    def forward(self, inputs, targets):
        if self.logits:
            return F.binary_cross_entropy_with_logits(inputs, targets)
        return F.binary_cross_entropy(inputs, targets)

class LogitFocal(nn.Module):
    def __init__(self):
        super().__init__()
        self.crit = nn.BCEWithLogitsLoss(reduction="none")

    def forward(self, logits, label):
        probs = torch.sigmoid(logits)
        weight = torch.where(label == 1, 1 - probs, probs).detach()
        return (weight * self.crit(logits, label)).mean()

def focal(inputs, targets):
    return F.binary_cross_entropy_with_logits(inputs, targets)
""",
    "app/nets.py": HEAD + """
class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls = nn.Linear(8, 1)
        self.map = nn.Linear(8, 4)

    def forward(self, x):
        depth = self.map(x)
        x = self.cls(x)
        x = torch.sigmoid(x)
        return x, depth

class RawDetector(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls = nn.Linear(8, 1)

    def forward(self, x):
        return self.cls(x)
""",
    "app/train.py": HEAD + """
from .losses import FocalLoss, focal
from .nets import Detector

model = Detector().cuda()
criterion = FocalLoss(gamma=2).cuda()
for images, labels in loader:
    pred, depth = model(images)
    pred = torch.squeeze(pred)
    loss = criterion(pred.float(), labels.float())
    loss = loss + focal(pred, labels)
    loss.backward()
""",
    # Look-alikes: a probability loss fed probabilities, a with-logits loss fed logits, the
    # depth map (the tuple's other element), and a loss whose sigmoid only builds a weight.
    "app/train_ok.py": HEAD + """
from .losses import FocalLoss, LogitFocal, SwitchFocal
from .nets import Detector, RawDetector

model = Detector()
raw = RawDetector()
switch = SwitchFocal()
focal = FocalLoss()
weighted = LogitFocal()
for images, labels in loader:
    pred, depth = model(images)
    loss = switch(pred, labels) + focal(depth, labels)
    logits = raw(images)
    loss = loss + focal(logits, labels) + weighted(logits, labels)
    loss.backward()
""",
}

# The criterion is installed on the model by another module, through a setter, as the
# AnubhavGupta3377 text classifiers do; the model consumes it through `self(...)`.
INSTALLED = {
    "model.py": HEAD + """
class TextClf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(x))

    def add_loss_op(self, loss_op):
        self.loss_op = loss_op

    def run_epoch(self, batches):
        for x, y in batches:
            y_pred = self.__call__(x)
            self.loss_op(y_pred, y).backward()

class LogClf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

    def add_loss_op(self, loss_op):
        self.loss_op = loss_op

    def run_epoch(self, batches):
        for x, y in batches:
            self.loss_op(self(x), y).backward()

class Trainer:
    def __init__(self, net, criterion):
        self.net = net
        self.criterion = criterion

    def step(self, x, y):
        return self.criterion(F.softmax(self.net(x), dim=1), y)

class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))

    def fit(self, x, y):
        return self.loss_fn(self(x), y)
""",
    "train.py": """
from model import *
from torch import nn

model = TextClf()
model.add_loss_op(nn.NLLLoss())
model.run_epoch(batches)

ok = LogClf()
nll = nn.NLLLoss()
ok.add_loss_op(nll)
ok.run_epoch(batches)

trainer = Trainer(model, criterion=nn.CrossEntropyLoss())
scorer = Scorer()
scorer.loss_fn = nn.BCEWithLogitsLoss()
""",
}

EXPECTED = {
    "rebound.py": [("TRN301", 20), ("TRN303", 27)],
    "rebound_ok.py": [],
    "reshaped.py": [("TRN301", 17), ("TRN301", 19)],
    "reshaped_ok.py": [],
    "own_nll.py": [("TRN303", 18)],
    "own_nll_ok.py": [],
}
EXPECTED_PACKAGE = {
    "app/__init__.py": [],
    "app/losses.py": [],
    "app/nets.py": [],
    "app/train.py": [("TRN302", 13), ("TRN302", 14)],
    "app/train_ok.py": [],
}
EXPECTED_INSTALLED = {
    "model.py": [("TRN301", 43), ("TRN302", 54), ("TRN303", 20)],
    "train.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_flow"), CASES, "TRN301,TRN302,TRN303")


@pytest.fixture(scope="module")
def found_package(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_package"), PACKAGE, "TRN301,TRN302,TRN303")


@pytest.fixture(scope="module")
def found_installed(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_installed"), INSTALLED, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_PACKAGE))
def test_user_loss_of_another_module(found_package, name):
    assert codes_lines(found_package[name]) == EXPECTED_PACKAGE[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_INSTALLED))
def test_criterion_installed_by_another_module(found_installed, name):
    assert codes_lines(found_installed[name]) == EXPECTED_INSTALLED[name]


def test_messages_say_how_the_loss_reaches_the_input(found_package, found_installed):
    first = min(found_package["app/train.py"], key=lambda f: f["line"])
    assert "FocalLoss" in first["message"] and "binary_cross_entropy_with_logits" in first["message"]
    nll = [f for f in found_installed["model.py"] if f["code"] == "TRN303"][0]
    assert "add_loss_op" in nll["message"] and "probabilities" in nll["message"]


def test_installed_criterion_is_not_fixed_automatically(found_package):
    # The loss is another module's class: removing the sigmoid here is left to the user.
    assert all(not f.get("fix") for f in found_package["app/train.py"])
