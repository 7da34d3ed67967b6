"""TRN204 through a split alias: a validation name bound to the test split on some path
(`val_set = test_set` when no validation data is configured), and the look-alikes where the
alias never reaches a decision inside training. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import torch

def train_epoch(model, loader, opt):
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

CASES = {
    # Bug: with no validation ratio, the "validation" set is the test set, and the best
    # epoch is chosen (and saved) on it.
    "alias_in_else_selects.py": HELPERS + """
def fit(args, model, opt, train_set, test_set, val_set_or_none):
    if args.val_ratio != 0.0:
        val_set = val_set_or_none
    else:
        val_set = test_set
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=32)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        val_acc = evaluate(model, val_loader)
        if val_acc > best:
            best = val_acc
            torch.save(model.state_dict(), "best.pt")
""",
    # Bug: the loader itself is aliased, and the evaluation is inline in the epoch loop.
    "alias_inline_loop_stops.py": HELPERS + """
def fit(args, model, opt, train_loader, valid_loader, test_loader):
    if args.no_validation:
        valid_loader = test_loader
    best, patience = 0.0, 0
    for epoch in range(100):
        train_epoch(model, train_loader, opt)
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in valid_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        model.train()
        if correct > best:
            best, patience = correct, 0
        else:
            patience += 1
            if patience > 5:
                break
""",
    # Look-alike: the aliased validation score is only printed (monitoring, no decision).
    "alias_only_printed.py": HELPERS + """
def fit(args, model, opt, train_loader, test_loader, val_loader=None):
    if val_loader is None:
        val_loader = test_loader
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        print("epoch", epoch, "val", evaluate(model, val_loader))
""",
    # Look-alike: the alias is made on an evaluate-only path that returns before training.
    "alias_on_eval_only_path.py": HELPERS + """
def main(args, model, opt, train_loader, val_loader, test_loader):
    if args.test_only:
        val_loader = test_loader
        print(evaluate(model, val_loader))
        return
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
""",
    # Look-alike: the name is rebound to the test loader only after training, to score it once.
    "alias_after_training.py": HELPERS + """
def main(args, model, opt, train_loader, val_loader, test_loader):
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    val_loader = test_loader
    print("test", evaluate(model, val_loader))
""",
    # Look-alike: both branches give real validation data (a held-out part of training data).
    "val_from_train_in_else.py": HELPERS + """
def fit(args, model, opt, train_set, test_set, given_val):
    if given_val is not None:
        val_set = given_val
    else:
        n = len(train_set) // 10
        train_set, val_set = torch.utils.data.random_split(train_set, [len(train_set) - n, n])
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=32)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    print(evaluate(model, torch.utils.data.DataLoader(test_set)))
""",
    # Bug: the loader named for validation is built from the test split (`train=False`), and
    # the best epoch is chosen on it (CutMix-PyTorch, densenet-pytorch).
    "val_built_from_test_selects.py": HELPERS + """
import torchvision

def main(args, model, opt, train_loader):
    val_loader = torch.utils.data.DataLoader(
        torchvision.datasets.CIFAR10("data", train=False), batch_size=128)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        prec = evaluate(model, val_loader)
        is_best = prec > best
        best = max(prec, best)
""",
    # Look-alike: the same loader, only printed each epoch (monitoring, nothing chosen).
    "val_built_from_test_printed.py": HELPERS + """
import torchvision

def main(args, model, opt, train_loader):
    val_loader = torch.utils.data.DataLoader(
        torchvision.datasets.CIFAR10("data", train=False), batch_size=128)
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        print("epoch", epoch, evaluate(model, val_loader))
""",
    # Look-alike: the user's own dataset class with `train=False` is the held-out rows of the
    # training folder (a train/valid split of one labelled set), not a test split.
    "val_built_from_own_class_selects.py": HELPERS + """
class MyDataset(torch.utils.data.Dataset):
    def __init__(self, root, train=True):
        self.items = sorted(root)
        cut = int(0.7 * len(self.items))
        self.items = self.items[:cut] if train else self.items[cut:]

def main(args, model, opt, train_loader, sched):
    val_loader = torch.utils.data.DataLoader(MyDataset("data", train=False), batch_size=8)
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        sched.step(evaluate(model, val_loader))
""",
    # Look-alike: the validation loader is a part of the training set (`train=True`).
    "val_built_from_train_part_selects.py": HELPERS + """
import torchvision

def main(args, model, opt):
    full = torchvision.datasets.CIFAR10("data", train=True)
    val_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(full, range(45000, 50000)))
    train_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(full, range(45000)), shuffle=True)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        prec = evaluate(model, val_loader)
        best = max(prec, best)
""",
}

OFFSET = HELPERS.count("\n")
EXPECTED = {
    "alias_in_else_selects.py": [("TRN204", OFFSET + 11)],
    "alias_inline_loop_stops.py": [("TRN204", OFFSET + 11)],
    "alias_only_printed.py": [],
    "alias_on_eval_only_path.py": [],
    "alias_after_training.py": [],
    "val_from_train_in_else.py": [],
    "val_built_from_test_selects.py": [("TRN204", OFFSET + 9)],
    "val_built_from_test_printed.py": [],
    "val_built_from_own_class_selects.py": [],
    "val_built_from_train_part_selects.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("aliases"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_split_alias(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_built_from_test_message_says_so(found):
    finding = found["val_built_from_test_selects.py"][0]
    assert "built from the test split" in finding["message"] and finding["severity"] == "error"


def test_alias_message_names_the_binding(found):
    message = found["alias_in_else_selects.py"][0]["message"]
    assert "`val_loader`" in message and "`val_set = test_set`" in message
    assert found["alias_in_else_selects.py"][0]["severity"] == "error"
