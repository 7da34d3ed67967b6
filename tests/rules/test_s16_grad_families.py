"""Families read in fresh dev repositories (session 16, gradient rules), each with the bug the
rule must find and the correct look-alike it must leave alone. Through the real command.

- TRN401: a window averaged at the gradients instead of the loss (MAML meta-batches:
  one backward per task, then `p.grad.data.mul_(1.0 / meta_batch_size)` or `p.grad /= k`
  before the step) is scaled; a rescale by the micro-batch counter is not.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_META_BATCH = """
import torch


def train(model, tasks, opt, loss_fn, meta_batch_size=4):
    for iteration in range(100):
        opt.zero_grad()
        for task in range(meta_batch_size):
            x, y = tasks.sample()
            error = loss_fn(model(x), y)
            error.backward()
        {rescale}
        opt.step()
"""

_GATED = """
import torch


def train(model, loader, opt, loss_fn, k=4):
    for i, (x, y) in enumerate(loader):
        loss = loss_fn(model(x), y)
        loss.backward()
        if (i + 1) % k == 0:
            for p in model.parameters():
                if p.grad is not None:
                    {rescale}
            opt.step()
            opt.zero_grad()
"""


@pytest.mark.parametrize("source, rescale, found", [
    (_META_BATCH, "pass", [("TRN401", 10)]),
    (_META_BATCH, "for p in model.parameters():\n            p.grad.data.mul_(1.0 / meta_batch_size)", []),
    (_META_BATCH, "for p in model.parameters():\n            p.grad = p.grad / meta_batch_size", []),
    (_GATED, "p.grad.data = p.grad.data", [("TRN401", 7)]),
    (_GATED, "p.grad /= k", []),
    (_GATED, "p.grad.div_(k)", []),
    (_GATED, "p.grad /= (i + 1)", [("TRN401", 7)]),
])
def test_window_averaged_at_the_gradients(tmp_path, source, rescale, found):
    report = run_cases(tmp_path, {"train.py": source.format(rescale=rescale)}, "TRN401")
    assert codes_lines(report["train.py"]) == found
