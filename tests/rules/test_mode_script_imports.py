"""TRN103 across modules when a script imports its sibling by a bare name (session 18, found
by dropping `model.train()` from real projects), through the real command.

`run.py` loops `train(loader, model, opt)` then `test(loader, model)` (which calls
`model.eval()`), both imported with `from train import train, test` from the file beside it;
`train()` never switches the model back. Two shapes lost the sibling:
- the folder holds an `__init__.py` (module `speech.train`): Python runs `run.py` with its
  own folder first on `sys.path`, so the bare `train` is that sibling;
- another folder of the repository has its own top-level `train.py` (read after this one):
  the evaluation's effect was read from that one.
Look-alikes: `train()` calling `model.train()` first; the other folder's `train.py` alone.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

TRAIN = """
import torch
import torch.nn.functional as F


def train(loader, model, optimizer):
    {switch}
    for data, target in loader:
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()


def test(loader, model):
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            correct += model(data).argmax(1).eq(target).sum().item()
    return correct
"""

RUN = """
import torch
import torch.optim as optim
from model import Net
from train import train, test

model = Net()
optimizer = optim.SGD(model.parameters(), lr=0.1)
train_loader = valid_loader = []
for epoch in range(10):
    train(train_loader, model, optimizer)
    test(valid_loader, model)
"""

MODEL = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.body(x))
"""

OTHER_TRAIN = """
def train(pairs, encoder, decoder):
    return len(pairs)
"""


def _project(folder: str, switch: str, package: bool) -> dict:
    files = {f"{folder}/train.py": TRAIN.format(switch=switch), f"{folder}/run.py": RUN,
             f"{folder}/model.py": MODEL}
    if package:
        files[f"{folder}/__init__.py"] = ""
    return files


CASES = {
    **_project("pkg_bad", "pass", package=True),
    **_project("pkg_ok", "model.train()", package=True),
    **_project("twin_bad", "pass", package=False),
    **_project("twin_ok", "model.train()", package=False),
    "zother/train.py": OTHER_TRAIN  # read last: the one a bare `train` used to mean,
}

EXPECTED = {name: [] for name in CASES}
EXPECTED["pkg_bad/train.py"] = [("TRN103", 11)]
EXPECTED["twin_bad/train.py"] = [("TRN103", 11)]


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_script_imports"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(CASES))
def test_script_sibling_imports(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
