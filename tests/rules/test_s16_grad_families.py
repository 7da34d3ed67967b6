"""Families read in fresh dev repositories (session 16, gradient rules), each with the bug the
rule must find and the correct look-alike it must leave alone. Through the real command.

- TRN401: a window averaged at the gradients instead of the loss (MAML meta-batches:
  one backward per task, then `p.grad.data.mul_(1.0 / meta_batch_size)` or `p.grad /= k`
  before the step) is scaled; a rescale by the micro-batch counter is not.
- TRN401/TRN402/TRN403: optimizers held in a list or dict and stepped in a loop over it
  (`for optimizer in self.optimizers: scaler.step(optimizer)`, `for o in opts.values():
  o.step()`): that loop distributes one iteration's gradients, the training iteration is
  the loop around it; a loop variable over a collection of optimizers is an optimizer, and
  clears and steps through loops over the same collection pair up.
- TRN401: the loss handed to a per-micro-batch step method as a parameter (`def step(self,
  loss, global_step): backward; if (global_step + 1) % k == 0: opt.step()`) is judged by
  what the file's callers pass: undivided is found, `loss / k` is not.
- TRN403: an update method that back-propagates and steps without clearing, called once per
  iteration of a loop of the file, on a class built on `nn.Module` (an RL agent holding its
  optimizer) or `object`: a plain module has no hooks that clear; a framework base may.
- TRN401: a sum whose one term carries a literal weight (`ce + 0.1 * reg`) is not divided
  by the window: the weight is not the window's division.
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


_LISTED = """
import torch


def train(model_a, model_b, loader, crit, k):
    opts = {collection}
    for i, (x, y) in enumerate(loader):
        {clear_each}
        loss = crit(model_b(model_a(x)), y){divide}
        loss.backward()
        if {gate}:
            for opt in {iterated}:
                opt.step()
                {clear_after}
"""

_A_B = "torch.optim.Adam(model_a.parameters()), torch.optim.Adam(model_b.parameters())"


@pytest.mark.parametrize("collection, iterated, clear_each, divide, gate, clear_after, found", [
    # no window (step every batch) and nothing clears: TRN403 at the step in the loop over optimizers
    (f"[{_A_B}]", "opts", "pass", "", "True", "pass", [("TRN403", 12)]),
    (f"[{_A_B}]", "opts", "for o in opts:\n            o.zero_grad()", "", "True", "pass", []),
    # a window over k batches, undivided: TRN401; divided and cleared with the step: nothing
    (f"[{_A_B}]", "opts", "pass", "", "(i + 1) % k == 0", "opt.zero_grad()", [("TRN401", 9)]),
    (f"[{_A_B}]", "opts", "pass", " / k", "(i + 1) % k == 0", "opt.zero_grad()", []),
    # a dict of optimizers cleared on every micro-batch of the window: TRN402
    (f'{{"a": {_A_B.split(", torch")[0]}, "b": torch{_A_B.split(", torch")[1]}}}', "opts.values()",
     "for o in opts.values():\n            o.zero_grad()", " / k", "(i + 1) % k == 0", "pass", [("TRN402", 8)]),
])
def test_optimizers_stepped_in_a_loop_over_them(tmp_path, collection, iterated, clear_each, divide, gate,
                                                clear_after, found):
    source = _LISTED.format(collection=collection, iterated=iterated, clear_each=clear_each, divide=divide,
                            gate=gate, clear_after=clear_after)
    report = run_cases(tmp_path, {"train.py": source}, "TRN401,TRN402,TRN403")
    assert codes_lines(report["train.py"]) == found


_WEIGHTED = """
import torch
import torch.nn.functional as F


def train(model, loader, opt, k):
    for i, (x, y) in enumerate(loader):
        out, reg = model(x)
        loss = {loss}
        loss.backward()
        if (i + 1) % k == 0:
            opt.step()
            opt.zero_grad()
"""


@pytest.mark.parametrize("loss, found", [
    ("F.mse_loss(out, y) + 0.1 * reg", [("TRN401", 9)]),
    ("(F.mse_loss(out, y) + 0.1 * reg) / k", []),
    ("F.mse_loss(out, y) / k + 0.1 * reg / k", []),
])
def test_weighted_term_of_a_sum_is_not_the_window(tmp_path, loss, found):
    report = run_cases(tmp_path, {"train.py": _WEIGHTED.format(loss=loss)}, "TRN401")
    assert codes_lines(report["train.py"]) == found


_STEP_METHOD = """
import torch


class StepOptimizer:
    def __init__(self, model, k):
        self.optimizer = torch.optim.Adam(model.parameters())
        self.k = k

    def step(self, loss, global_step):
        loss.backward()
        if (global_step + 1) % self.k == 0:
            self.optimizer.step()
            self.optimizer.zero_grad()


def train(model, loader, crit, k):
    stepper = StepOptimizer(model, k)
    for i, (x, y) in enumerate(loader):
        loss = crit(model(x), y)
        stepper.step({argument}, i)
"""


@pytest.mark.parametrize("argument, found", [("loss", [("TRN401", 10)]), ("loss / k", [])])
def test_loss_handed_to_a_step_method(tmp_path, argument, found):
    report = run_cases(tmp_path, {"train.py": _STEP_METHOD.format(argument=argument)}, "TRN401")
    assert codes_lines(report["train.py"]) == found


_AGENT = """
import torch
import torch.nn as nn


class Agent({base}):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.optimizer = torch.optim.Adam(net.parameters())

    def update(self, batch):
        {clear}
        loss = self.net(batch).mean()
        loss.backward()
        self.optimizer.step()

    def run(self, env, n):
        for _ in range(n):
            self.update(env.sample())
"""


@pytest.mark.parametrize("base, clear, found", [
    ("nn.Module", "pass", [("TRN403", 19)]),
    ("object", "pass", [("TRN403", 19)]),
    ("nn.Module", "self.optimizer.zero_grad()", []),
    ("pl.LightningModule", "pass", []),  # a framework base: its hooks may clear
])
def test_update_method_of_a_module_agent(tmp_path, base, clear, found):
    report = run_cases(tmp_path, {"agent.py": _AGENT.format(base=base, clear=clear)}, "TRN403")
    assert codes_lines(report["agent.py"]) == found
