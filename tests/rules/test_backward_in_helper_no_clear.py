"""TRN403 when the loop steps but back-propagates through a helper of the file: nothing on
the way clears the gradients. Bugs and correct look-alikes through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

TRAINER = """
import torch
import torch.nn.functional as F


class Trainer:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def backward(self, loss):
        {helper_clear}
        loss.backward()

    def compute_loss(self, x, y):
        loss = F.cross_entropy(self.model(x), y)
        self.backward(loss)
        return loss

    def fit(self, loader):
        for x, y in loader:
            {loop_clear}
            self.compute_loss(x, y)
            self.opt.step()
"""

CASES = {
    "function_helper.py": """
import torch
import torch.nn.functional as F

def forward_backward(model, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.item()

def train(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        forward_backward(model, x, y)
        opt.step()
""",
    "method_helpers_never_clear.py": TRAINER.format(helper_clear="pass", loop_clear="pass"),
    "nested_helper_clears_ok.py": TRAINER.format(helper_clear="self.opt.zero_grad()", loop_clear="pass"),
    "loop_clears_ok.py": TRAINER.format(helper_clear="pass", loop_clear="self.opt.zero_grad()"),
    "loop_model_zero_grad_ok.py": TRAINER.format(helper_clear="pass", loop_clear="self.model.zero_grad()"),
    "init_alias_model_zero_grad_ok.py": """
import torch
import torch.nn.functional as F


class Trainer:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def fit(self, loader):
        for x, y in loader:
            self.model.zero_grad()
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.opt.step()
""",
}

EXPECTED = {
    "init_alias_model_zero_grad_ok.py": [],
    "function_helper.py": [("TRN403", 13)],
    "method_helpers_never_clear.py": [("TRN403", 23)],
    "nested_helper_clears_ok.py": [],
    "loop_clears_ok.py": [],
    "loop_model_zero_grad_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("backward_in_helper"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
