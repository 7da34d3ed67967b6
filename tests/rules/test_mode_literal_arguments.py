"""TRN103 on one epoch runner shared by training and evaluation, through the real command.

`_run_epoch(mode)` steps the optimizer only `if mode == "train"`; the epoch loop calls it
with the literal `"train"` after `model.train()` and with `"val"` after `model.eval()`
(texar's sentence classifier). The literal binds the parameter on each call, so the step
is only reached on the path that set train mode. The bug: the training call follows the
evaluation of the previous epoch with no `model.train()` in between.

A backward the literals cut off on every path (a runner only ever called with
`optimizer=None`, on the test data inside the training loop) is not a training call of
that path: the forward there is still the test evaluation TRN204 reports.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

RUNNER = """
import torch
import torch.nn as nn


def main(model, loader, epochs=5):
    opt = torch.optim.Adam(model.parameters())

    def _run_epoch(mode, epoch):
        correct = 0
        for x, y in loader:
            out = model(x)
            if mode == "train":
                opt.zero_grad()
                nn.functional.cross_entropy(out, y).backward()
                opt.step()
            correct += (out.argmax(1) == y).sum().item()
        return correct

    model.train()
    for epoch in range(epochs):
        {switch}
        _run_epoch("train", epoch)
        model.eval()
        with torch.no_grad():
            _run_epoch("val", epoch)
"""

TEST_ONLY_RUNNER = """
import torch
import torch.nn.functional as F


def fit(model, opt, tr_dl, te_dl, epochs=10):
    def standard_epoch(loader, model, optimizer=None):
        total_err = 0.0
        model = model.eval() if optimizer is None else model.train()
        update_params = optimizer is not None
        with torch.set_grad_enabled(update_params):
            for xb, yb in loader:
                yp = model(xb)
                loss = F.cross_entropy(yp, yb)
                if update_params:
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                total_err += (yp.max(dim=1)[1] != yb).sum().item()
        return total_err

    for epoch in range(epochs):
        model.train()
        for xb, yb in tr_dl:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        print(epoch, standard_epoch(te_dl, model, optimizer=None))
"""

CASES = {
    "test_only_runner.py": TEST_ONLY_RUNNER,
    "runner_ok.py": RUNNER.format(switch="model.train()"),
    "runner_bad.py": RUNNER.format(switch="pass"),
}

EXPECTED = {
    "test_only_runner.py": [("TRN204", 12)],
    "runner_ok.py": [],
    "runner_bad.py": [("TRN103", 15)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_literal_arguments"), CASES, "TRN101,TRN103,TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
