"""TRN301/TRN302 where the loss or the model is decided away from the call, through the
real command: a base class's `fit` trains `self.model`, which only its subclasses fill
(here and in another module); and a criterion chosen among built-in losses by the
branches of one `if` (the branch installing the matching loss is the buggy run)."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # A wrapper family: the base trains whatever model the subclass installs.
    "wrappers.py": '''
import torch
from torch import nn


class BaseModel:
    def __init__(self, args):
        self.args = args
        self.model = None

    def to_device(self):
        self.model = nn.DataParallel(self.model)

    def fit(self, loader):
        loss_func = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(self.model.parameters())
        for x, y in loader:
            out = self.model(x)
            loss = loss_func(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


class Wrapper:
    def __init__(self):
        self.model = None

    def fit(self, loader):
        loss_func = nn.CrossEntropyLoss()
        for x, y in loader:
            loss_func(self.model(x), y).backward()
''',
    "nets.py": '''
import torch.nn.functional as F
from torch import nn

from wrappers import BaseModel, Wrapper


class SoftmaxNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class LogitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


class MLP(BaseModel):
    def __init__(self, args):
        super().__init__(args)
        self.model = SoftmaxNet()

    def fit(self, loader):
        return super().fit(loader)


class Plain(Wrapper):
    def __init__(self):
        super().__init__()
        self.model = LogitNet()


class Own(Wrapper):
    def __init__(self):
        super().__init__()
        self.model = SoftmaxNet()

    def fit(self, loader):
        for x, y in loader:
            F.nll_loss(self.model(x).log(), y).backward()
''',
    # The criterion is one of several built-in losses, by configuration.
    "branches.py": '''
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))


def train(args, loader):
    model = Net()
    scorer = Scorer()
    if args.task == "regression":
        criterion = nn.MSELoss()
    else:
        criterion = nn.CrossEntropyLoss()
    if args.logits:
        binary = nn.BCEWithLogitsLoss()
    else:
        binary = nn.BCELoss()
    for x, y in loader:
        criterion(model(x), y).backward()
        binary(scorer(x), y).backward()
''',
    "branches_ok.py": '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


def train(args, loader):
    model = Net()
    if args.task == "regression":
        criterion = nn.MSELoss()
    else:
        criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))


def train_binary(args, loader):
    if args.probabilities:
        scorer = Scorer()
        loss_fn = nn.BCELoss()
    else:
        scorer = nn.Linear(4, 1)
        loss_fn = nn.BCEWithLogitsLoss()
    for x, y in loader:
        loss_fn(scorer(x), y).backward()
''',
}

EXPECTED = {
    "wrappers.py": [("TRN301", 18)],
    "nets.py": [],
    "branches.py": [("TRN301", 36), ("TRN302", 37)],
    "branches_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_installed"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
