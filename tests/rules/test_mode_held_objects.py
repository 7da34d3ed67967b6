"""TRN101 when the model is evaluated through an object that holds it: an evaluator built
once from the caller's model (`evaluator = Evaluator(model, val_loader)`, whose `__init__`
keeps `self.model = model`) and run inside the epoch loop. `self.model` in `run()` is the
caller's model, in whatever mode the caller left it. Likewise TRN103 for a trainer object
built from the caller's model (`Trainer(model, opt)` keeping `self.net = net`) whose training
step runs after the caller's evaluation left the model in eval mode. Each bug beside its
look-alikes, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODEL = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))
"""

EVALUATOR = """
import torch
from model import Net


class Evaluator:
    def __init__(self, model, loader):
        self.model = model
        self.loader = loader

    def run(self):
        {switch}
        correct = 0
        with torch.no_grad():
            for x, y in self.loader:
                correct += (self.model(x).argmax(1) == y).sum().item()
        return correct


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
evaluator = Evaluator({handed})
for epoch in range(10):
    model.train()
    for x, y in train_loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    {before}
    print(evaluator.run())
"""


def _evaluator(switch: str = "pass", before: str = "pass", handed: str = "model, val_loader") -> str:
    return EVALUATOR.format(switch=switch, before=before, handed=handed)


CASES = {
    "model.py": MODEL,
    # Bug: the evaluator runs the caller's model straight after the training epoch.
    "held_in_train_mode.py": _evaluator(),
    # Bug: handed by keyword.
    "held_by_keyword.py": _evaluator(handed="loader=val_loader, model=model"),
    # Look-alike: the caller switches the model to eval mode before running the evaluator.
    "caller_switches.py": _evaluator(before="model.eval()"),
    # Look-alike: the evaluator switches its model itself.
    "evaluator_switches.py": _evaluator(switch="self.model.eval()"),
    # Look-alike: the evaluator holds a copy the caller never trains (its mode is unknown here).
    "held_copy.py": _evaluator(handed="copy.deepcopy(model), val_loader").replace("import torch\n", "import copy\nimport torch\n", 1),
}

TRAINER = """
import torch
from model import Net


class Trainer:
    def __init__(self, net, optimizer):
        self.net = net
        self.optimizer = optimizer

    def train_epoch(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            torch.nn.functional.cross_entropy(self.net(x), y).backward()
            self.optimizer.step()


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
trainer = Trainer(model, opt)
model.train()
for epoch in range(10):
    {before}
    trainer.train_epoch(train_loader)
    print(evaluate(model, val_loader))
"""

CASES.update({
    # Bug (TRN103): from the second epoch the trainer trains the model evaluate() left in eval mode.
    "trainer_after_eval.py": TRAINER.format(before="pass"),
    # Look-alike: the caller switches back to training mode before each epoch.
    "trainer_after_train.py": TRAINER.format(before="model.train()"),
})

EXPECTED = {
    "model.py": [],
    "held_in_train_mode.py": [("TRN101", 15)],
    "held_by_keyword.py": [("TRN101", 15)],
    "caller_switches.py": [],
    "evaluator_switches.py": [],
    "held_copy.py": [],
    "trainer_after_eval.py": [("TRN103", 14)],
    "trainer_after_train.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("held_objects"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_held_by_an_evaluator(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_held_model(found):
    finding, = found["held_in_train_mode.py"]
    assert "`self.model`" in finding["message"] and finding["severity"] == "error"
