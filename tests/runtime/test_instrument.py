"""Guards installed by hooks (as on the reference loop) see what a loop really does."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reference_loop import instrument
from reference_loop.guards import GuardSet


def _setup(shuffle_val=False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    guards = GuardSet()
    hooks = instrument.install(guards, model, nn.CrossEntropyLoss(), opt, None, model_where=None,
                               where=("train.py", 7))
    ds = TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
    train = hooks.loader(DataLoader(ds, batch_size=8, shuffle=True), "train")
    val = hooks.loader(DataLoader(ds, batch_size=8, shuffle=shuffle_val), "val")
    return model, opt, guards, hooks, train, val


def _train_epoch(model, opt, hooks, train, k=1, scale=True):
    model.train()
    for i, (x, y) in enumerate(train):
        loss = hooks.criterion(model(x), y)
        (loss / k if scale else loss).backward()
        if (i + 1) % k == 0:
            opt.step()
            opt.zero_grad()


def test_correct_use_is_silent_and_hooks_come_off():
    model, opt, guards, hooks, train, val = _setup()
    _train_epoch(model, opt, hooks, train, k=2)
    model.eval()
    with torch.inference_mode():
        for x, _ in val:
            model(x)
    hooks.remove()
    assert guards.finish() == []
    assert not model._forward_pre_hooks and "zero_grad" not in opt.__dict__


def test_evaluation_left_in_train_mode_with_autograd():
    model, opt, guards, hooks, train, val = _setup()
    _train_epoch(model, opt, hooks, train)
    for x, _ in val:  # no model.eval(), no inference_mode
        model(x)
    findings = guards.finish()
    assert [f.code for f in findings] == ["TRN101", "TRN102"]
    assert "4 of 4 evaluation forward passes" in findings[0].message
    assert (findings[0].path, findings[0].line) == ("train.py", 7)


def test_shuffled_validation_loader_and_unscaled_accumulation():
    model, opt, guards, hooks, train, val = _setup(shuffle_val=True)
    _train_epoch(model, opt, hooks, train, k=2, scale=False)
    codes = [f.code for f in guards.finish()]
    assert codes == ["TRN203", "TRN401"]


def test_training_in_eval_mode():
    model, opt, guards, hooks, train, _ = _setup()
    model.eval()
    for x, y in train:
        hooks.criterion(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    assert [f.code for f in guards.finish()] == ["TRN103"]
