"""TRN204 when the validation data is read from the dataset's test folder: a dataset class
given a path whose last part is a split's folder (`ImageFolder(os.path.join(root, "test"))`,
`root + "/test"`) declares that split, as `train=False` does. Look-alikes: the `val` folder,
and the test folder scored once after training. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import os
import torch
from torchvision import datasets

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

LOOP = """
    train_loader = torch.utils.data.DataLoader(train_set, shuffle=True)
    val_loader = torch.utils.data.DataLoader(val_set)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
"""

CASES = {
    # Bug: the "validation" images are the test folder.
    "joined_test_folder.py": HELPERS + """
def main(args, model, opt, tf):
    train_set = datasets.ImageFolder(os.path.join(args.data, "train"), tf)
    val_set = datasets.ImageFolder(os.path.join(args.data, "test"), tf)""" + LOOP,
    # Bug: the same through a concatenated path and the `root=` keyword.
    "concatenated_test_folder.py": HELPERS + """
def main(args, model, opt, tf):
    train_set = datasets.ImageFolder(root=args.data + "/train/", transform=tf)
    val_set = datasets.ImageFolder(root=args.data + "/test/", transform=tf)""" + LOOP,
    # Look-alike: the validation folder.
    "val_folder.py": HELPERS + """
def main(args, model, opt, tf):
    train_set = datasets.ImageFolder(os.path.join(args.data, "train"), tf)
    val_set = datasets.ImageFolder(os.path.join(args.data, "val"), tf)""" + LOOP,
    # Look-alike: the test folder scored once, after training.
    "test_folder_after.py": HELPERS + """
def main(args, model, opt, tf):
    train_set = datasets.ImageFolder(os.path.join(args.data, "train"), tf)
    val_set = datasets.ImageFolder(os.path.join(args.data, "val"), tf)""" + LOOP + """
    final = datasets.ImageFolder(os.path.join(args.data, "test"), tf)
    print(evaluate(model, torch.utils.data.DataLoader(final)))
""",
}

OFFSET = HELPERS.count("\n")
EXPECTED = {
    "joined_test_folder.py": [("TRN204", OFFSET + 9)],
    "concatenated_test_folder.py": [("TRN204", OFFSET + 9)],
    "val_folder.py": [],
    "test_folder_after.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("folders"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_test_folder(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
