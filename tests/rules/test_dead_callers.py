"""Callers in dead code do not decide how a function runs (TRN102, TRN101), through the real command.

A prediction helper called under `no_grad` by the live code and also by a leftover
forwarding wrapper that nothing calls or names (`def predict_args(a): predict(*a)`): the
wrapper's path never runs, so the helper is not reported. Look-alikes that stay reported:
the same wrapper handed to a pool (it is named, so it runs), and a helper whose only live
caller runs it with autograd on.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))


def predict_one(model, batch):
    model.eval()
    return model(batch).argmax(1)


"""

DEAD_WRAPPER = HEAD + """
def predict_one_args(args):
    predict_one(*args)


@torch.no_grad()
def run_predictions(model, loader):
    return [predict_one(model, batch) for batch in loader]


run_predictions(net, [torch.randn(2, 4)])
"""

# The wrapper is handed to a pool: named, so it runs, and with autograd on.
POOLED_WRAPPER = DEAD_WRAPPER + """
import multiprocessing

multiprocessing.Pool(2).map(predict_one_args, [(net, torch.randn(2, 4))])
"""

# The only other caller is live and runs the helper with autograd on.
LIVE_GRAD_CALLER = HEAD + """
def predict_all(model, loader):
    return [predict_one(model, batch) for batch in loader]


@torch.no_grad()
def run_predictions(model, loader):
    return [predict_one(model, batch) for batch in loader]


run_predictions(net, [torch.randn(2, 4)])
predict_all(net, [torch.randn(2, 4)])
"""

CASES = {
    "dead_wrapper.py": DEAD_WRAPPER,
    "pooled_wrapper.py": POOLED_WRAPPER,
    "live_grad_caller.py": LIVE_GRAD_CALLER,
}

EXPECTED = {
    "dead_wrapper.py": [],
    "pooled_wrapper.py": [("TRN102", 9)],
    "live_grad_caller.py": [("TRN102", 9)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("dead_callers"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(CASES))
def test_dead_caller(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
