"""TRN204 when the test split reaches the evaluation under another name, through a call:

- a training function whose validation parameter a caller fills with the test split
  (`def fit(model, opt, train_loader, val_loader)` called as `fit(model, opt, train_loader,
  test_loader)`), in the same file or from another module of the project;
- a trainer class whose `__init__` stores that parameter (`self.val_loader = val_loader`) and
  whose `validate()` loops over it, built by a caller with the test loader;
- a helper handed the test split alone, whose results the caller names for validation
  (`val_loss, val_acc = evaluate(model, test_loader)`): they are test scores all the same.

Look-alikes: every caller hands a validation split; the results named for validation come from
the validation loader; a test loader handed in and only printed. Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

FIT = """
import torch


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


def fit(model, optimizer, train_loader, val_loader, epochs):
    best = 0
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    return best
"""

TRAINER = """
import torch


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.best = 0

    def validate(self):
        correct = 0
        with torch.no_grad():
            for x, y in self.val_loader:
                correct += (self.model(x).argmax(1) == y).sum().item()
        return correct

    def train(self, epochs):
        for epoch in range(epochs):
            for x, y in self.train_loader:
                self.optimizer.zero_grad()
                torch.nn.functional.cross_entropy(self.model(x), y).backward()
                self.optimizer.step()
            acc = self.validate()
            if acc > self.best:
                self.best = acc
                torch.save(self.model.state_dict(), "best.pt")
"""

LOADERS = """
import torch
import torchvision
from torch.utils.data import DataLoader, Subset

full = torchvision.datasets.CIFAR10("data", train=True)
train_loader = DataLoader(Subset(full, range(45000)), shuffle=True)
val_loader = DataLoader(Subset(full, range(45000, 50000)))
test_loader = DataLoader(torchvision.datasets.CIFAR10("data", train=False))
model = torch.nn.Linear(3, 10)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""

RENAMED_RESULTS = """
import torch


def evaluate(model, loader):
    total, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            total += torch.nn.functional.cross_entropy(out, y).item()
            correct += (out.argmax(1) == y).sum().item()
    return total, correct


def run(model, optimizer, train_loader, {held_out}, epochs):
    best_acc = 0
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        val_loss, val_acc = evaluate(model, {held_out})
        print(epoch, val_loss, val_acc)
        if val_acc > best_acc:
            best_acc = val_acc
            torch.save(model.state_dict(), "best.pt")
"""

CASES = {
    # Bug: the only caller hands fit() the test loader as its validation data.
    "same_file_bug.py": FIT + LOADERS + "fit(model, opt, train_loader, test_loader, 10)\n",
    # Look-alike: the caller hands the validation split; the test loader is scored once after.
    "same_file_ok.py": FIT + LOADERS + "fit(model, opt, train_loader, val_loader, 10)\n"
                       "print(evaluate(model, test_loader))\n",
    # Bug across modules: fit() of trainer_mod, called from main with the test loader.
    "xmod/trainer_mod.py": FIT,
    "xmod/main.py": LOADERS + "from trainer_mod import fit\nfit(model, opt, train_loader, test_loader, 10)\n",
    # Look-alike across modules: main hands the validation loader.
    "xmod_ok/trainer_ok.py": FIT,
    "xmod_ok/main.py": LOADERS + "from trainer_ok import fit\nfit(model, opt, train_loader, val_loader, 10)\n",
    # Bug: a Trainer built with the test loader in its validation slot, in another module.
    "cls/trainer_cls.py": TRAINER,
    "cls/main.py": LOADERS + "from trainer_cls import Trainer\nTrainer(model, opt, train_loader, test_loader).train(10)\n",
    # Look-alike: the same Trainer built with the validation loader.
    "cls_ok/trainer_cls_ok.py": TRAINER,
    "cls_ok/main.py": LOADERS + "from trainer_cls_ok import Trainer\nTrainer(model, opt, train_loader, val_loader).train(10)\n",
    # Look-alike: one evaluator class, two instances; the one built on validation data selects,
    # the one built on the test loader runs once after training.
    "two_evaluators_ok.py": """
import torch
from torch.utils.data import DataLoader


class Evaluator:
    def __init__(self, loader):
        self.loader = loader

    def __call__(self, model):
        correct = 0
        with torch.no_grad():
            for x, y in self.loader:
                correct += (model(x).argmax(1) == y).sum().item()
        return correct


def main(model, opt, train_loader, val_loader, test_loader, epochs):
    validate, final_test = Evaluator(val_loader), Evaluator(test_loader)
    best = 0
    for epoch in range(epochs):
        for x, y in train_loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        acc = validate(model)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    print(final_test(model))
""",
    # Bug: results named for validation, computed on the test loader, pick the checkpoint.
    "renamed_bug.py": RENAMED_RESULTS.format(held_out="test_loader"),
    # Look-alike: the same names and decision on the validation loader.
    "renamed_ok.py": RENAMED_RESULTS.format(held_out="val_loader"),
}

FIT_EVAL_LINE = FIT.lstrip("\n").splitlines().index("        acc = evaluate(model, val_loader)") + 1
TRAINER_EVAL_LINE = TRAINER.lstrip("\n").splitlines().index("            acc = self.validate()") + 1
RENAMED_LINE = RENAMED_RESULTS.lstrip("\n").splitlines().index(
    "        val_loss, val_acc = evaluate(model, {held_out})") + 1


def test_test_split_handed_to_a_validation_parameter(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["same_file_bug.py"]) == [("TRN204", FIT_EVAL_LINE)]
    assert codes_lines(found["xmod/trainer_mod.py"]) == [("TRN204", FIT_EVAL_LINE)]
    assert codes_lines(found["cls/trainer_cls.py"]) == [("TRN204", TRAINER_EVAL_LINE)]
    for name in ("same_file_bug.py", "xmod/trainer_mod.py", "cls/trainer_cls.py"):
        assert [f["severity"] for f in found[name]] == ["error"], name
        assert "hands the test split" in found[name][0]["message"]


def test_validation_parameter_given_validation_data(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    for name in ("two_evaluators_ok.py", "same_file_ok.py", "xmod_ok/trainer_ok.py", "xmod_ok/main.py", "cls_ok/trainer_cls_ok.py",
                 "cls_ok/main.py", "xmod/main.py", "cls/main.py"):
        assert found[name] == [], name


def test_results_named_for_validation_from_the_test_loader(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["renamed_bug.py"]) == [("TRN204", RENAMED_LINE)]
    assert [f["severity"] for f in found["renamed_bug.py"]] == ["error"]
    assert found["renamed_ok.py"] == []
