"""TRN204 when a dataset class of the file is built with its training flag off and its own code
reads test files on that side (`Faces(root, is_train=False)` whose constructor opens `test.txt`
when the flag is False), or with a split string that its code maps to the test files
(`Aircraft(phase='val')` where every phase but 'train' reads the test list): the caller gets
the test split, whatever the loader is named.

Look-alikes: the same class whose False side reads the validation list; a flag that selects
no test files; a 'val' phase that has a list of its own. Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

SCRIPT = """
import os

import torch
from torch.utils.data import DataLoader, Dataset


class Faces(Dataset):
    def __init__(self, root, is_train=True):
        self.is_train = is_train
        {choice}
        self.rows = open(os.path.join(root, listing)).read().split()

    def __getitem__(self, i):
        return torch.zeros(3), int(self.rows[i])

    def __len__(self):
        return len(self.rows)


def main(model, opt):
    train_loader = DataLoader(Faces("r", is_train=True), batch_size=32, shuffle=True)
    eval_loader = DataLoader(Faces("r", is_train=False), batch_size=32)
    best = 0
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in eval_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        if correct > best:
            best = correct
            torch.save(model.state_dict(), "best.pt")
"""

PHASES = """
import os

import torch
from torch.utils.data import DataLoader, Dataset


class Aircraft(Dataset):
    def __init__(self, phase="train"):
        self.phase = phase
        {choice}
        self.rows = open(os.path.join("data", listing)).read().split()

    def __getitem__(self, i):
        return torch.zeros(3), int(self.rows[i])

    def __len__(self):
        return len(self.rows)


def main(model, opt):
    train_loader = DataLoader(Aircraft(phase="train"), batch_size=32, shuffle=True)
    validate_loader = DataLoader(Aircraft(phase="val"), batch_size=32)
    best = 0
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in validate_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        if correct > best:
            best = correct
            torch.save(model.state_dict(), "best.pt")
"""

CASES = {
    # Bug: every phase but 'train' reads the test list, so phase='val' is the test split.
    "phase_bug.py": PHASES.format(
        choice='if phase == "train":\n            listing = "trainval.txt"\n        else:\n            listing = "test.txt"'),
    # Look-alike: 'val' has a list of its own.
    "phase_ok.py": PHASES.format(
        choice='if phase == "train":\n            listing = "train.txt"\n        elif phase == "val":\n'
               '            listing = "val.txt"\n        else:\n            listing = "test.txt"'),
    # Bug: False reads the test list.
    "test_list_bug.py": SCRIPT.format(choice='listing = "train_list.txt" if is_train else "test_list.txt"'),
    # Bug: the same through `if self.is_train:` / `else:` statements.
    "test_branch_bug.py": SCRIPT.format(
        choice='if self.is_train:\n            listing = "train.txt"\n        else:\n            listing = "test.txt"'),
    # Look-alike: False reads the validation list.
    "val_list_ok.py": SCRIPT.format(choice='listing = "train_list.txt" if is_train else "val_list.txt"'),
    # Look-alike: the flag only switches augmentation; one listing for both.
    "no_test_ok.py": SCRIPT.format(choice='listing = "all.txt" if is_train else "all.txt"'),
}

PHASE_LINE = PHASES.lstrip("\n").splitlines().index("                correct += (model(x).argmax(1) == y).sum().item()") + 1
EVAL_LINE = SCRIPT.lstrip("\n").splitlines().index("                correct += (model(x).argmax(1) == y).sum().item()") + 1


def test_flag_off_reads_the_test_files(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["test_list_bug.py"]) == [("TRN204", EVAL_LINE)]
    # The branch version has three more lines before the loop.
    assert codes_lines(found["test_branch_bug.py"]) == [("TRN204", EVAL_LINE + 3)]
    assert [f["severity"] for f in found["test_list_bug.py"]] == ["error"]


def test_flag_off_reads_validation_or_shared_files(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert found["val_list_ok.py"] == []
    assert found["no_test_ok.py"] == []


def test_split_string_mapped_to_the_test_files(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["phase_bug.py"]) == [("TRN204", PHASE_LINE + 3)]
    assert [f["severity"] for f in found["phase_bug.py"]] == ["error"]
    assert found["phase_ok.py"] == []
