"""TRN204 when the epoch loop trains through a method its trainer's class inherits: `trainer =
Trainer(model)` of another module, `class Trainer(BaseTrainer)` there, and `train` (backward,
step) defined only on the base. The loop trains, so the test split evaluated in it and deciding
the best epoch is an error. Look-alikes: the same loop deciding on the validation split; a
subclass that overrides `train` with a method that does not train (then the loop does not
train either). Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

TRAINERS = """
import torch


class BaseTrainer(object):
    def __init__(self, model):
        self.model = model

    def train(self, epoch, loader, optimizer):
        self.model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = self._forward(x, y)
            loss.backward()
            optimizer.step()

    def _forward(self, x, y):
        raise NotImplementedError


class Trainer(BaseTrainer):
    def _forward(self, x, y):
        return torch.nn.functional.cross_entropy(self.model(x), y)


class Replayer(BaseTrainer):
    def train(self, epoch, loader, optimizer):
        print(epoch, len(loader))
"""

MAIN = """
import torch
from trainers import {cls}


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


def run(model, optimizer, train_loader, val_loader, test_loader, epochs):
    trainer = {cls}(model)
    best = 0
    for epoch in range(epochs):
        trainer.train(epoch, train_loader, optimizer)
        top1 = evaluate(model, {held_out})
        if top1 > best:
            best = top1
            torch.save(model.state_dict(), "best.pt")
"""

CASES = {
    "bug/trainers.py": TRAINERS,
    "bug/main.py": MAIN.format(cls="Trainer", held_out="test_loader"),
    "val/trainers.py": TRAINERS,
    "val/main.py": MAIN.format(cls="Trainer", held_out="val_loader"),
    "overridden/trainers.py": TRAINERS,
    "overridden/main.py": MAIN.format(cls="Replayer", held_out="test_loader"),
}

EVAL_LINE = MAIN.lstrip("\n").splitlines().index("        top1 = evaluate(model, {held_out})") + 1


def test_loop_trains_through_an_inherited_method(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["bug/main.py"]) == [("TRN204", EVAL_LINE)]
    assert [f["severity"] for f in found["bug/main.py"]] == ["error"]


def test_validation_decides_or_override_does_not_train(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert found["val/main.py"] == []
    assert found["overridden/main.py"] == []
