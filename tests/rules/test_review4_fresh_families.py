"""Families behind the false alarms of a precision review on fresh repositories (session 14:
RL evaluation helpers, a VAE zoo's unit tests), each with the bug the rule must keep and the
correct look-alike it must leave alone. Through the real command.

- TRN102: a network *class* handed to an evaluation helper (`Model: torch.nn.Module`, the
  annotation loose) and instantiated there, `model = Model(envs).to(device)`: the call builds
  a module (its result is loaded, switched to eval), it is no forward pass; the forward of the
  instance it builds, and a module parameter with the same annotation that is called on
  evaluation data, still are;
- TRN102 (and TRN101, which reads the same forwards): a `unittest.TestCase` test method that smoke-tests a model on random input,
  in a test file whose name pytest would not collect (`tests/bvae.py`): the runner is unittest,
  the method is a test, not an evaluation; a plain class's `test_loss` over a test loader in
  the same folder still evaluates.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_EVAL_HELPER = """
import torch
import torch.nn as nn


def evaluate(model_path: str, episodes: int, Model: torch.nn.Module, device="cpu"):
    model = Model(4).to(device)
    model.load_state_dict(torch.load(model_path, map_location=device))
    model.eval()
    returns = []
    for _ in range(episodes):
{forward}
    return returns
"""

_NO_GRAD_FORWARD = """\
        with torch.no_grad():
            q = model(torch.zeros(1, 4))
        returns.append(q.argmax().item())"""

_GRAD_FORWARD = """\
        q = model(torch.zeros(1, 4))
        returns.append(q.argmax().item())"""

# The class built first and loaded on the next line (no `.to`), as c51's helper does.
_BUILT_THEN_LOADED = """
import torch


def evaluate(model_path, Model: torch.nn.Module, n_atoms=51):
    model = Model(4, n_atoms=n_atoms)
    model.load_state_dict(torch.load(model_path))
    model = model.to("cpu")
    model.eval()
    with torch.no_grad():
        return model(torch.zeros(1, 4)).argmax().item()
"""

# The same annotation on an instance: the call is a forward pass on evaluation data.
_MODULE_PARAM = """
import torch


def evaluate(net: torch.nn.Module, test_loader):
    net.eval()
    correct = 0
    for x, y in test_loader:
        out = net(x)
        correct += (out.argmax(1) == y).sum().item()
    return correct
"""

_UNITTEST = """
import unittest

import torch
from models import BetaVAE


class TestBetaVAE(unittest.TestCase):
    def setUp(self) -> None:
        self.model = BetaVAE(3, 10)

    def test_loss(self):
        x = torch.randn(16, 3, 64, 64)
        result = self.model(x)
        loss = self.model.loss_function(*result, M_N=0.005)
        print(loss)
"""

# A plain class in the same folder whose `test_loss` scores the model on the test split.
_PLAIN_TESTER = """
import torch
from models import BetaVAE


class Tester:
    def __init__(self):
        self.model = BetaVAE(3, 10)

    def test_loss(self, test_loader):
        total = 0.0
        for x, _ in test_loader:
            result = self.model(x)
            total += self.model.loss_function(*result, M_N=0.005).item()
        return total
"""

CASES = {
    # Look-alike: the class parameter is instantiated; the forward runs under no_grad.
    "class_param_built_ok.py": _EVAL_HELPER.format(forward=_NO_GRAD_FORWARD),
    # Bug: the instance's forward builds graphs; the constructor line is still no forward.
    "class_param_built_bad.py": _EVAL_HELPER.format(forward=_GRAD_FORWARD),
    # Look-alike: built, then loaded and moved in later statements.
    "class_param_then_loaded_ok.py": _BUILT_THEN_LOADED,
    # Bug: a module parameter (same annotation) evaluated with autograd on.
    "module_param_eval_bad.py": _MODULE_PARAM,
    # Look-alike: a unittest test method in a file pytest would not collect.
    "tests/bvae.py": _UNITTEST,
    # Bug: a plain class's test_loss over test data, same folder.
    "tests/tester.py": _PLAIN_TESTER,
}

EXPECTED = {
    "class_param_built_ok.py": [],
    "class_param_built_bad.py": [("TRN102", 11)],
    "class_param_then_loaded_ok.py": [],
    "module_param_eval_bad.py": [("TRN102", 8)],
    "tests/bvae.py": [],
    "tests/tester.py": [("TRN102", 12)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review4"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fresh_rl_and_unittest_families(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
