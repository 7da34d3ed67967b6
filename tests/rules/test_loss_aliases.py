"""TRN301/TRN302/TRN303 through a loss reached by an alias: a lambda or `functools.partial`
wrapping a built-in loss, or a criterion kept as a class attribute (`CRITERION = ...` in
the class body, read as `self.CRITERION` or `Client.CRITERION`), through the real command."""

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
    # Bugs: the wrapped loss is a built-in one and gets the probabilities.
    "wrapped.py": """
import functools
from functools import partial
import torch.nn as nn
import torch.nn.functional as F
from models import LogitNet, ProbNet, SigmoidNet

def train(loader, w):
    net = ProbNet()
    loss_fn = lambda pred, target: F.cross_entropy(pred, target)
    swapped = lambda target, pred: nn.CrossEntropyLoss(weight=w)(pred, target)
    weighted = functools.partial(F.cross_entropy, weight=w)
    nll = partial(F.nll_loss, reduction="sum")
    for x, y in loader:
        out = net(x)
        loss_fn(out, y).backward()
        swapped(y, out).backward()
        weighted(out, y).backward()
        nll(out, y).backward()

def train_gan(loader):
    disc = SigmoidNet()
    adv = partial(F.binary_cross_entropy_with_logits, reduction="mean")
    for x, y in loader:
        adv(disc(x), y).backward()
""",
    # Look-alikes: logits into the wrapped loss; the probabilities go to the lambda's other
    # argument; a partial binding the input itself; a lambda over plain BCE.
    "wrapped_ok.py": """
import functools
import torch
import torch.nn as nn
import torch.nn.functional as F
from models import LogitNet, ProbNet, SigmoidNet

def train(loader, w):
    net = LogitNet()
    loss_fn = lambda pred, target: F.cross_entropy(pred, target)
    weighted = functools.partial(F.cross_entropy, weight=w)
    for x, y in loader:
        out = net(x)
        loss_fn(out, y).backward()
        weighted(out, y).backward()
        probs = F.softmax(out, dim=1)

def distill(loader, teacher_logits):
    net = ProbNet()
    soft = lambda target, pred: F.cross_entropy(target, pred)
    for x, y in loader:
        soft(teacher_logits, net(x)).backward()

def bce_probs(loader):
    disc = SigmoidNet()
    plain = lambda p, t: F.binary_cross_entropy(p, t)
    for x, y in loader:
        plain(disc(x), y).backward()
""",
    # Bugs: a wrapped loss handed to the training function, or its parameter's default.
    "handed.py": """
from functools import partial
import torch.nn.functional as F
from models import LogitNet, ProbNet

def fit(model, loader, criterion):
    for x, y in loader:
        criterion(model(x), y).backward()

def fit_default(model, loader, criterion=partial(F.nll_loss, reduction="sum")):
    for x, y in loader:
        criterion(model(x), y).backward()

def main(loader, w):
    fit(ProbNet(), loader, partial(F.cross_entropy, weight=w))
    fit_default(LogitNet(), loader)
""",
    # Look-alike: the same functions given logits and log-probabilities.
    "handed_ok.py": """
from functools import partial
import torch
import torch.nn.functional as F
from models import LogitNet, ProbNet

def fit(model, loader, criterion):
    for x, y in loader:
        criterion(model(x), y).backward()

def fit_log(model, loader, criterion=partial(F.nll_loss, reduction="sum")):
    for x, y in loader:
        criterion(torch.log(model(x)), y).backward()

def main(loader, w):
    fit(LogitNet(), loader, partial(F.cross_entropy, weight=w))
    fit_log(ProbNet(), loader)
""",
    # Bugs: a criterion kept in the class body.
    "clients.py": """
import torch.nn as nn
from models import ProbNet

class Client:
    CRITERION = nn.CrossEntropyLoss()

    def train(self, loader):
        net = ProbNet()
        criterion = Client.CRITERION
        for x, y in loader:
            criterion(net(x), y).backward()

class Trainer:
    criterion = nn.CrossEntropyLoss()

    def __init__(self):
        self.net = ProbNet()

    def fit(self, loader):
        for x, y in loader:
            self.criterion(self.net(x), y).backward()
            Trainer.criterion(self.net(x), y).backward()

""",
    # Look-alikes: the class attribute is another loss, or the instance replaces it.
    "clients_ok.py": """
import torch.nn as nn
from models import LogitNet, ProbNet

class Client:
    CRITERION = nn.CrossEntropyLoss()

    def train(self, loader):
        net = LogitNet()
        criterion = Client.CRITERION
        for x, y in loader:
            criterion(net(x), y).backward()

class Trainer:
    criterion = nn.CrossEntropyLoss()

    def __init__(self):
        self.net = LogitNet()

    def fit(self, loader):
        for x, y in loader:
            self.criterion(self.net(x), y).backward()

class ProbTrainer:
    criterion = nn.MSELoss()

    def __init__(self):
        self.net = ProbNet()

    def fit(self, loader):
        for x, y in loader:
            self.criterion(self.net(x), y).backward()

class Replaced:
    criterion = nn.CrossEntropyLoss()

    def __init__(self):
        self.net = ProbNet()
        self.criterion = nn.BCELoss()

    def fit(self, loader):
        for x, y in loader:
            self.criterion(self.net(x), y).backward()

""",
}

EXPECTED = {
    "models.py": [],
    "wrapped.py": [("TRN301", 15), ("TRN301", 16), ("TRN301", 17), ("TRN302", 24), ("TRN303", 18)],
    "wrapped_ok.py": [],
    "clients.py": [("TRN301", 11), ("TRN301", 21), ("TRN301", 22)],
    "clients_ok.py": [],
    "handed.py": [("TRN301", 7), ("TRN303", 11)],
    "handed_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_aliases"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_alias(found):
    first = min(found["wrapped.py"], key=lambda f: f["line"])
    assert "lambda" in first["message"]
