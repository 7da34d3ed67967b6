"""TRN101 on a trainer class used from another file: `Learner.__init__` builds its network
with the project's factory (`self.model = build_model(cfg)`), `fit_one_epoch()` calls
`self.model.train()` and `score()` runs it on validation data without `eval()`. The driver
(`learner.fit_one_epoch(...); learner.score(...)`) lives in another module, so the flow has
no caller to learn the mode from; but nothing in the class ever switches the network out of
training mode, so it is in training mode in every method.

Look-alikes: the same class whose `score()` calls `self.model.eval()`, and one whose
`prepare()` puts the network in eval mode (its mode then depends on the caller: silent).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NETS = """
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, hidden), nn.Dropout(0.3), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.body(x)


def build_model(cfg):
    return MLP(cfg.hidden)
"""

LEARNER = """
import torch
import torch.nn as nn
from models import build_model


class Learner:
    def __init__(self, cfg):
        self.model = build_model(cfg)
        self.opt = torch.optim.Adam(self.model.parameters())

    def fit_one_epoch(self, loader):
        self.model.train()
        for x, y in loader:
            self.opt.zero_grad()
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()

    def score(self, loader):
        with torch.no_grad():
            return sum((self.model(x).argmax(1) == y).float().mean().item() for x, y in loader)
"""

EVAL_LEARNER = LEARNER.replace("    def score(self, loader):\n",
                               "    def score(self, loader):\n        self.model.eval()\n")

PREPARED = LEARNER.replace("    def score(self, loader):\n",
                           "    def prepare(self):\n        self.model.eval()\n\n    def score(self, loader):\n")

MAIN = """
from {module} import Learner


def run(cfg, train_loader, val_loader):
    learner = Learner(cfg)
    for epoch in range(3):
        learner.fit_one_epoch(train_loader)
        print(learner.score(val_loader))
"""

CASES = {
    "models/__init__.py": "from .nets import build_model\n",
    "models/nets.py": NETS,
    "learner.py": LEARNER,
    "main.py": MAIN.format(module="learner"),
    "eval_learner.py": EVAL_LEARNER,
    "main_eval.py": MAIN.format(module="eval_learner"),
    "prepared_learner.py": PREPARED,
    "main_prepared.py": MAIN.format(module="prepared_learner"),
}

EXPECTED = {"learner.py": [("TRN101", 20)], "eval_learner.py": [], "prepared_learner.py": []}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_trainer_attribute"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_factory_s_dropout_makes_it_an_error(found):
    [finding] = found["learner.py"]
    assert finding["severity"] == "error" and "Dropout" in finding["message"]
