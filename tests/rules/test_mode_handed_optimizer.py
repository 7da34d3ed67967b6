"""TRN103 on a trainer class handed its optimizer by the caller (`Trainer(net, opt, ...)`,
`opt = SGD(net.parameters())` in `main`): the file's optimizers name `net`, the step trains
`self.model`, the same module under another name. The epoch loop calls `evaluate()`, which
switches `self.model` to eval mode, and the next `train_epoch()` never switches it back.

Look-alike: the same trainer whose `train_epoch` calls `self.model.train()`. A step that
also runs a frozen teacher kept in eval mode is still reported, for `self.model` only: the
constructor call `Trainer(net, opt, ...)` says `self.model` is `net`, whose parameters the
optimizer gets, while the teacher's reach no optimizer.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

TRAINER = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))


class Trainer:
    def __init__(self, model, opt, train_loader, val_loader):
        self.model = model
        self.opt = opt
        self.train_loader = train_loader
        self.val_loader = val_loader

    def train_epoch(self):
        for x, y in self.train_loader:
            self.opt.zero_grad()
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()

    def evaluate(self):
        self.model.eval()
        with torch.no_grad():
            return sum((self.model(x).argmax(1) == y).sum().item() for x, y in self.val_loader)

    def fit(self, epochs):
        self.model.train()
        for epoch in range(epochs):
            self.train_epoch()
            self.evaluate()


def main(train_loader, val_loader):
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    Trainer(net, opt, train_loader, val_loader).fit(3)
"""

SWITCHED = TRAINER.replace("    def train_epoch(self):\n", "    def train_epoch(self):\n        self.model.train()\n")

TEACHER = TRAINER.replace(
    "    def __init__(self, model, opt, train_loader, val_loader):\n        self.model = model\n",
    "    def __init__(self, model, opt, train_loader, val_loader):\n        self.model = model\n"
    "        self.teacher = Net()\n        self.teacher.eval()\n").replace(
    "            nn.functional.cross_entropy(self.model(x), y).backward()\n",
    "            soft = self.teacher(x).softmax(1)\n"
    "            nn.functional.cross_entropy(self.model(x), soft).backward()\n")

CASES = {"bad.py": TRAINER, "switched.py": SWITCHED, "teacher.py": TEACHER}

EXPECTED = {"bad.py": [("TRN103", 26)], "switched.py": [], "teacher.py": [("TRN103", 29)]}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_handed_optimizer"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_teacher_is_not_named(found):
    finding, = found["teacher.py"]
    assert "`self.model`" in finding["message"] and "teacher" not in finding["message"]
