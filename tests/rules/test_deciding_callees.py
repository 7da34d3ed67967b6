"""TRN204 when the decision on the test score lives in the callee the loop hands it to: a
function that keeps the best in a global (`save_if_best(model, acc)`), a method of a
checkpoint object that compares with `self.best` (`saver.update(model, acc)`), a callable
early stopper whose `__call__` counts epochs without improvement (`stopper(acc)`), or a
helper that hands the score on to one of those. The loop itself compares nothing. Look-
alikes: the same callees fed the validation score (silent); the test score handed to a
helper that only prints it or compares it with a constant (info: reported, nothing chosen).
Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
import torch

best_acc = 0.0


def save_if_best(model, acc):
    global best_acc
    if acc > best_acc:
        best_acc = acc
        torch.save(model.state_dict(), "best.pt")


class Saver:
    def __init__(self):
        self.best = 0.0

    def update(self, model, acc):
        if acc > self.best:
            self.best = acc
            torch.save(model.state_dict(), "best.pt")


class Stopper:
    def __init__(self, patience):
        self.patience = patience
        self.best = None
        self.bad = 0

    def __call__(self, loss):
        if self.best is None or loss < self.best:
            self.best = loss
            self.bad = 0
        else:
            self.bad += 1
        return self.bad > self.patience


def record(model, acc, epoch):
    print(epoch, acc)
    save_if_best(model, acc)


def show(acc, epoch):
    if acc > 0.5:
        print("above chance", epoch)
    print(epoch, acc)


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


def run(model, optimizer, train_loader, val_loader, test_loader):
    saver = Saver()
    stopper = Stopper(5)
    for epoch in range(100):
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        acc = evaluate(model, {held_out})
        {use}
"""

USES = {
    "global": "save_if_best(model, acc)",
    "method": "saver.update(model, acc)",
    "callable": "stopper(acc)\n        if stopper.bad > stopper.patience:\n            break",
    "handed_on": "record(model, acc, epoch)",
}

CASES = {}
for kind, use in USES.items():
    CASES[f"bug_{kind}.py"] = HEAD.format(held_out="test_loader", use=use)
    CASES[f"val_{kind}.py"] = HEAD.format(held_out="val_loader", use=use)
CASES["shown.py"] = HEAD.format(held_out="test_loader", use="show(acc, epoch)")

EVAL_LINE = HEAD.lstrip("\n").splitlines().index("        acc = evaluate(model, {held_out})") + 1


def test_decision_in_the_callee_is_an_error(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    for kind in USES:
        assert codes_lines(found[f"bug_{kind}.py"]) == [("TRN204", EVAL_LINE)], kind
        assert [f["severity"] for f in found[f"bug_{kind}.py"]] == ["error"], kind


def test_validation_score_or_a_callee_that_only_reports(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    for kind in USES:
        assert found[f"val_{kind}.py"] == [], kind
    assert [(f["line"], f["severity"]) for f in found["shown.py"]] == [(EVAL_LINE, "info")]


TRAINER = """
import torch


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader, test_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.test_loader = test_loader
        self.best_acc = 0.0

    def train_epoch(self):
        for x, y in self.train_loader:
            self.optimizer.zero_grad()
            torch.nn.functional.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()

    def evaluate(self):
        correct = 0
        with torch.no_grad():
            for x, y in self.{held_out}:
                correct += (self.model(x).argmax(1) == y).sum().item()
        self.acc = correct

    def maybe_save(self):
        if self.acc > self.best_acc:
            self.best_acc = self.acc
            torch.save(self.model.state_dict(), "best.pt")

    def report(self):
        print("accuracy", self.acc)

    def cheer(self):
        if self.acc > 0.5:
            print("above chance")

    def fit(self, epochs):
        for epoch in range(epochs):
            self.train_epoch()
            self.evaluate()
            {use}
"""

TRAINER_CASES = {
    "kept_on_self.py": TRAINER.format(held_out="test_loader", use="self.maybe_save()"),
    "compared_in_loop.py": TRAINER.format(held_out="test_loader",
                                          use="if self.acc > self.best_acc:\n                self.best_acc = self.acc"),
    "kept_val.py": TRAINER.format(held_out="val_loader", use="self.maybe_save()"),
    "reported.py": TRAINER.format(held_out="test_loader", use="self.report()"),
    "thresholded.py": TRAINER.format(held_out="test_loader", use="self.cheer()"),
}

TRAINER_LINE = TRAINER.lstrip("\n").splitlines().index("            self.evaluate()") + 1


def test_result_kept_on_self_and_decided_by_a_sibling_method(tmp_path):
    found = run_cases(tmp_path, TRAINER_CASES, "TRN204")
    for name in ("kept_on_self.py", "compared_in_loop.py"):
        assert [(f["line"], f["severity"]) for f in found[name]] == [(TRAINER_LINE, "error")], name
    assert found["kept_val.py"] == []
    for name in ("reported.py", "thresholded.py"):
        assert [(f["line"], f["severity"]) for f in found[name]] == [(TRAINER_LINE, "info")], name


UTILS = """
import torch

best = {"acc": 0.0}


def save_best(model, acc, path="best.pt"):
    if acc > best["acc"]:
        best["acc"] = acc
        torch.save(model.state_dict(), path)


class Checkpointer:
    def __init__(self, path):
        self.path = path
        self.best = 0.0

    def update(self, model, acc):
        if acc > self.best:
            self.best = acc
            torch.save(model.state_dict(), self.path)


def show(acc, epoch):
    print(epoch, acc)
"""

MAIN = """
import torch
from utils import save_best, Checkpointer, show


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


def run(model, optimizer, train_loader, val_loader, test_loader):
    saver = Checkpointer("best.pt")
    for epoch in range(100):
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        acc = evaluate(model, {held_out})
        {use}
"""

MODULE_USES = {"function": "save_best(model, acc)", "method": "saver.update(model, acc)"}
MODULE_CASES = {}
for kind, use in MODULE_USES.items():
    MODULE_CASES[f"bug_{kind}/utils.py"] = UTILS
    MODULE_CASES[f"bug_{kind}/main.py"] = MAIN.format(held_out="test_loader", use=use)
    MODULE_CASES[f"val_{kind}/utils.py"] = UTILS
    MODULE_CASES[f"val_{kind}/main.py"] = MAIN.format(held_out="val_loader", use=use)
MODULE_CASES["shown/utils.py"] = UTILS
MODULE_CASES["shown/main.py"] = MAIN.format(held_out="test_loader", use="show(acc, epoch)")

MAIN_LINE = MAIN.lstrip("\n").splitlines().index("        acc = evaluate(model, {held_out})") + 1


def test_decision_in_a_callee_of_another_module(tmp_path):
    found = run_cases(tmp_path, MODULE_CASES, "TRN204")
    for kind in MODULE_USES:
        assert [(f["line"], f["severity"]) for f in found[f"bug_{kind}/main.py"]] == [(MAIN_LINE, "error")], kind
        assert found[f"val_{kind}/main.py"] == [], kind
    assert [(f["line"], f["severity"]) for f in found["shown/main.py"]] == [(MAIN_LINE, "info")]
