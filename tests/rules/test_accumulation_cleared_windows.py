"""TRN401 and TRN402 on one accumulation loop. When the optimizer's gradients are cleared on
every micro-batch (`opt.zero_grad()` before each backward, the step every k batches), no
gradient is ever summed over the window: the step sees one micro-batch, which is TRN402's bug,
and TRN401's "the step sees their sum" would be false. TRN401 still flags an undivided loss
when the clear comes only after the step, and, with two optimizers, the one whose window does
accumulate (a head whose window is not cleared beside a model whose window is). Through the
real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

CLEARED = """
import torch


def train(model, loader, optimizer, accum_steps=4):
    model.train()
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
"""

CLEARED_AFTER_BACKWARD = """
import torch


def train(model, loader, optimizer, accum_steps=4):
    model.train()
    for i, (x, y) in enumerate(loader):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
"""

ACCUMULATES = """
import torch


def train(model, loader, optimizer, accum_steps=4):
    model.train()
    for i, (x, y) in enumerate(loader):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
"""

TWO_OPTIMIZERS = """
import torch


def train(model, head, loader, opt, head_opt, accum_steps=4):
    for i, (x, y) in enumerate(loader):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if (i + 1) % accum_steps == 0:
            opt.step()
        head_loss = torch.nn.functional.mse_loss(head(x), y)
        head_loss.backward()
        if (i + 1) % accum_steps == 0:
            head_opt.step()
            head_opt.zero_grad()
"""

CASES = {"cleared.py": CLEARED, "cleared_after_backward.py": CLEARED_AFTER_BACKWARD,
         "accumulates.py": ACCUMULATES, "two_optimizers.py": TWO_OPTIMIZERS}


def _found(tmp_path):
    return run_cases(tmp_path, CASES, "TRN401,TRN402")


def test_a_window_cleared_every_micro_batch_is_trn402_only(tmp_path):
    found = _found(tmp_path)
    assert codes_lines(found["cleared.py"]) == [("TRN402", 7)]
    assert codes_lines(found["cleared_after_backward.py"]) == [("TRN402", 9)]
    # Bug TRN401 must still catch: the clear comes after the step, the loss is undivided.
    assert codes_lines(found["accumulates.py"]) == [("TRN401", 8)]
    # The model's window is cleared every batch (TRN402); the head's accumulates (TRN401). (Which
    # optimizer each backward reaches is not paired: line 8 is still read with the head's window.)
    assert {("TRN401", 12), ("TRN402", 6)} <= set(codes_lines(found["two_optimizers.py"]))
