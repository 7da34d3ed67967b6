"""TRN103 when the switch to eval mode happens in another module, through the real command.

- an evaluation function of another module (`from utils import evaluate`) that calls
  `model.eval()` and never switches back, called in the epoch loop of a training function
  that sets train mode only once, before the loop;
- a method of the project's model class that switches its own mode (`def predict(self, x):
  self.eval(); ...`), called on the model after each optimizer step (seen in a CTC captcha
  recogniser: every later step of the epoch trained the batch-norm network in eval mode).

- a step made by a library from the parameters (`train_op = tx.core.get_train_op(params=
  model.parameters())`) and run as `train_op()`, after a periodic evaluation inside the batch
  loop that leaves the model in eval mode (texar's examples).

Each with the correct look-alike: the helper restores the mode it found, `model.train()`
follows the call, or the method switches back to training itself.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import torch


def evaluate(model, loader):
    {enter}
    with torch.no_grad():
        for x, y in loader:
            model(x)
    {leave}
"""

FIT = """
import torch
import torch.nn as nn
from {package}.helpers import evaluate


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

    def forward(self, x):
        return self.body(x)


def fit(train_loader, val_loader):
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        evaluate(model, val_loader)
"""

NETWORK = """
import torch
import torch.nn as nn


class Recogniser(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(10))

    def forward(self, x):
        return self.body(x)

    def {method}(self, x):
        self.eval()
        with torch.no_grad():
            out = self.forward(x).argmax(1)
        {leave}
        return out
"""

EPOCH = """
import torch
import torch.nn as nn
from {package}.network import Recogniser


def train_epoch(model, loader, optimizer):
    model.train()
    correct = 0
    for images, labels in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        predictions = model.{method}(images)
        {after}
        correct += (predictions == labels).sum().item()
    return correct


def main(loader):
    model = Recogniser()
    optimizer = torch.optim.Adam(model.parameters())
    for epoch in range(5):
        train_epoch(model, loader, optimizer)
"""

STEP_CALLABLE = """
import torch
import texar.torch as tx


def main(model, train_data, val_data, eval_steps=100):
    train_op = tx.core.get_train_op(params=model.parameters(), hparams={{"lr": 1e-4}})

    def _eval_epoch():
        model.eval()
        with torch.no_grad():
            for batch in val_data:
                model(batch)

    def _train_epoch():
        model.train()
        for step, batch in enumerate(train_data):
            {before}
            loss = model(batch).mean()
            loss.backward()
            train_op()
            if step % eval_steps == 0:
                _eval_epoch()

    for epoch in range(3):
        _train_epoch()
"""


def _helper_project(package: str, enter: str, leave: str) -> dict:
    return {
        f"{package}/__init__.py": "",
        f"{package}/helpers.py": HELPERS.format(enter=enter, leave=leave),
        f"{package}/fit.py": FIT.format(package=package),
    }


def _method_project(package: str, leave: str, after: str, method: str) -> dict:
    # One method name per project: the run's model classes defining a name must agree on
    # what it does to `self` before a caller that cannot see the class relies on it.
    return {
        f"{package}/__init__.py": "",
        f"{package}/network.py": NETWORK.format(leave=leave, method=method),
        f"{package}/epoch.py": EPOCH.format(package=package, after=after, method=method),
    }


CASES = {
    # The helper leaves the model in eval mode: from the second epoch on it trains so.
    **_helper_project("helper_bad", enter="model.eval()", leave="pass"),
    # It restores what it found (`model.train(mode=was)`), or switches back to training.
    **_helper_project("helper_restores_ok", enter="was = model.training\n    model.eval()",
                      leave="model.train(mode=was)"),
    **_helper_project("helper_switches_back_ok", enter="model.eval()", leave="model.train()"),
    # The model's own decoding method switches it to eval mode after every step.
    **_method_project("method_bad", leave="pass", after="pass", method="decode_greedy"),
    # The loop switches back at once; or the method restores training itself.
    **_method_project("method_restored_ok", leave="pass", after="model.train()", method="predict_text"),
    **_method_project("method_switches_back_ok", leave="self.train()", after="pass", method="sample_text"),
    # Two model classes define the name, one never switches: which one the loop holds is
    # unknown here, so nothing is said.
    **_method_project("method_ambiguous_ok", leave="pass", after="pass", method="transcribe"),
    "method_ambiguous_ok/other.py": """
import torch.nn as nn


class Other(nn.Module):
    def forward(self, x):
        return x

    def transcribe(self, x):
        return self.forward(x)
""",
    "step_callable_bad.py": STEP_CALLABLE.format(before="pass"),
    "step_callable_ok.py": STEP_CALLABLE.format(before="model.train()"),
}

EXPECTED = {
    "step_callable_bad.py": [("TRN103", 20)],
    "step_callable_ok.py": [],
    "helper_bad/fit.py": [("TRN103", 23)],
    "helper_restores_ok/fit.py": [],
    "helper_switches_back_ok/fit.py": [],
    "method_bad/epoch.py": [("TRN103", 13)],
    "method_restored_ok/epoch.py": [],
    "method_switches_back_ok/epoch.py": [],
    "method_ambiguous_ok/epoch.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_project_switches"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_nothing_else_is_reported(found):
    extra = {name: codes_lines(findings) for name, findings in found.items() if findings and name not in EXPECTED}
    assert extra == {}
