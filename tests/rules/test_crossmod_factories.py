"""TRN204 across modules: a dataset factory whose split a parameter decides
(`build_dataset(is_train=False, args)` in another module reaching `CIFAR100(train=is_train)`),
and an epoch loop whose only training is an imported helper (`from engine import
train_one_epoch`, whose step may sit behind a loss scaler). Look-alikes: the factory called
with the training flag or a validation split, the test data scored once after training.
Through the real command."""

from __future__ import annotations

import textwrap

from tests.rules._core_cases import codes_lines, run_cases

DATASETS = """
from torchvision import datasets

def build_dataset(is_train, args):
    dataset = datasets.CIFAR100(args.data_path, train=is_train)
    return dataset, 100

def build_split(split, args):
    return datasets.VOCSegmentation(args.data_path, image_set=split)
"""

ENGINE = """
import torch

@torch.no_grad()
def evaluate(data_loader, model):
    model.eval()
    correct = 0
    for images, target in data_loader:
        correct += (model(images).argmax(1) == target).sum().item()
    return {"acc1": correct}

def train_one_epoch(model, criterion, data_loader, optimizer, loss_scaler):
    model.train()
    for x, y in data_loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss_scaler(loss, optimizer)
"""

MAIN = """
import torch
import torchvision
from datasets import build_dataset, build_split
from engine import evaluate, train_one_epoch

def main(args, loss_scaler):
    model = torchvision.models.resnet18()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    dataset_train, _ = build_dataset(is_train=True, args=args)
    data_loader_train = torch.utils.data.DataLoader(dataset_train, batch_size=64, shuffle=True)
"""

SELECTS = """
    max_accuracy = 0.0
    for epoch in range(args.epochs):
        train_one_epoch(model, criterion, data_loader_train, optimizer, loss_scaler)
        stats = evaluate(data_loader_val, model)
        if max_accuracy < stats["acc1"]:
            max_accuracy = stats["acc1"]
            torch.save(model.state_dict(), "best.pth")
"""

CASES = {
    # Bug (deit): the flag picks CIFAR100's test split in datasets.py; the loop keeps the best epoch on it.
    "flag/datasets.py": DATASETS, "flag/engine.py": ENGINE,
    "flag/main.py": MAIN + """
    dataset_val, _ = build_dataset(is_train=False, args=args)
    data_loader_val = torch.utils.data.DataLoader(dataset_val, batch_size=64)
""" + SELECTS,
    # Bug: the same flag passed by position.
    "positional/datasets.py": DATASETS, "positional/engine.py": ENGINE,
    "positional/main.py": MAIN + """
    dataset_val, _ = build_dataset(False, args)
    data_loader_val = torch.utils.data.DataLoader(dataset_val, batch_size=64)
""" + SELECTS,
    # Bug: the test split named as such; the only training in the loop is the imported helper.
    "imported_trainer/datasets.py": DATASETS, "imported_trainer/engine.py": ENGINE,
    "imported_trainer/main.py": MAIN + """
    data_loader_val = torch.utils.data.DataLoader(torchvision.datasets.CIFAR100("d", train=False), batch_size=64)
""" + SELECTS,
    # Look-alike: the validation split handed to the factory by string.
    "val_split/datasets.py": DATASETS, "val_split/engine.py": ENGINE,
    "val_split/main.py": MAIN + """
    data_loader_val = torch.utils.data.DataLoader(build_split("val", args), batch_size=64)
""" + SELECTS,
    # Look-alike: the test split from the factory is scored once, after training.
    "after/datasets.py": DATASETS, "after/engine.py": ENGINE,
    "after/main.py": MAIN + """
    dataset_test, _ = build_dataset(is_train=False, args=args)
    data_loader_test = torch.utils.data.DataLoader(dataset_test, batch_size=64)
    for epoch in range(args.epochs):
        train_one_epoch(model, criterion, data_loader_train, optimizer, loss_scaler)
    print(evaluate(data_loader_test, model))
""",
    # Bug: a factory of the same file, the flag reaching `train=` of a library dataset.
    "same_file/main.py": ENGINE.replace("loss_scaler(loss, optimizer)", "loss.backward(); optimizer.step()") + """
import torchvision

def make_set(train):
    return torchvision.datasets.MNIST("data", train=train)

def main(model, criterion, optimizer, loss_scaler, epochs):
    train_loader = torch.utils.data.DataLoader(make_set(True), batch_size=64, shuffle=True)
    val_loader = torch.utils.data.DataLoader(make_set(False), batch_size=64)
    best = 0
    for epoch in range(epochs):
        train_one_epoch(model, criterion, train_loader, optimizer, loss_scaler)
        acc = evaluate(val_loader, model)["acc1"]
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pth")
""",
}



def _line_of(name: str, text: str) -> int:
    lines = textwrap.dedent(CASES[name]).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_parameter_decided_splits_across_modules(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    for name in ("flag/main.py", "positional/main.py", "imported_trainer/main.py"):
        assert codes_lines(found[name]) == [("TRN204", _line_of(name, "stats = evaluate"))], name
    assert codes_lines(found["val_split/main.py"]) == []
    assert codes_lines(found["after/main.py"]) == []
    assert [c for c, _ in codes_lines(found["same_file/main.py"])] == ["TRN204"]
    for name in CASES:
        if not name.endswith("main.py"):
            assert found[name] == [], name


TRAINER = """
import torch

class Trainer:
    def __init__(self, model, optimizer, criterion):
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion

    def _step(self, x, y):
        self.optimizer.zero_grad()
        self.criterion(self.model(x), y).backward()
        self.optimizer.step()

    def train_epoch(self, loader):
        self.model.train()
        for x, y in loader:
            self._step(x, y)

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        return sum((self.model(x).argmax(1) == y).sum().item() for x, y in loader)
"""

RUN = """
import torch
import torchvision
from trainer import Trainer

def main(args):
    train_loader = torch.utils.data.DataLoader(torchvision.datasets.MNIST("d", train=True), batch_size=64)
    test_loader = torch.utils.data.DataLoader(torchvision.datasets.MNIST("d", train=False), batch_size=64)
    val_loader = torch.utils.data.DataLoader(torchvision.datasets.VOCSegmentation("d", image_set="val"))
    model = torchvision.models.resnet18()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.CrossEntropyLoss())
    best = 0
    for epoch in range(args.epochs):
        trainer.train_epoch(train_loader)
"""

DECIDE = """
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pth")
"""

INSTANCE_CASES = {
    # Bug: the epoch loop trains only through a method of another module's Trainer (which
    # steps in a helper method it calls on self) and keeps the best epoch on the test split.
    "instance/trainer.py": TRAINER,
    "instance/main.py": RUN + "        acc = trainer.evaluate(test_loader)\n" + DECIDE,
    # Look-alike: the same loop decides on the validation split.
    "instance_val/trainer.py": TRAINER,
    "instance_val/main.py": RUN + "        acc = trainer.evaluate(val_loader)\n" + DECIDE,
    # Look-alike: the test score of each epoch only printed; the training is seen only through
    # the other module's summary, too little to speak about a score nothing decides on.
    "instance_print/trainer.py": TRAINER,
    "instance_print/main.py": RUN + "        print(trainer.evaluate(test_loader))\n",
    # Look-alike: the test split scored once after the loop.
    "instance_after/trainer.py": TRAINER,
    "instance_after/main.py": RUN + "    print(trainer.evaluate(test_loader))\n",
}


def test_training_method_of_another_modules_class(tmp_path):
    found = run_cases(tmp_path, INSTANCE_CASES, "TRN204")
    lines = textwrap.dedent(INSTANCE_CASES["instance/main.py"]).lstrip("\n").splitlines()
    bug = next(i for i, line in enumerate(lines, 1) if "trainer.evaluate(test_loader)" in line)
    assert codes_lines(found["instance/main.py"]) == [("TRN204", bug)]
    assert codes_lines(found["instance_val/main.py"]) == []
    assert codes_lines(found["instance_after/main.py"]) == []
    assert codes_lines(found["instance_print/main.py"]) == []
    assert found["instance/trainer.py"] == []
