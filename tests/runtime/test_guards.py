"""The guards, driven by hand-written loops: each fires on its bug, with evidence, and only then."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reference_loop.guards import GuardSet, is_shuffled, looks_like_log_probabilities, looks_like_probabilities

HERE = os.path.basename(__file__)


def _data(n=64, d=5, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def _loop(guards: GuardSet, model: nn.Module, *, softmax=False, accumulation=1, scale=True,
          zero_inside=False, eval_mode=True, no_grad=True, train_mode=True, crit=None, steps=12):
    """A small loop that reports its events the way an instrumented loop would."""
    x, y = _data()
    crit = crit or nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    guards.watch_model(model)
    for step in range(steps):
        if train_mode:
            model.train()
        for micro in range(accumulation):
            if zero_inside:
                opt.zero_grad()
                guards.on_zero_grad(opt)
            xb, yb = x[micro * 8:(micro + 1) * 8], y[micro * 8:(micro + 1) * 8]
            out = model(xb)
            guards.on_train_step(model)
            out = out.softmax(1) if softmax else out
            guards.on_loss_inputs(type(crit).__name__, out, yb)
            loss = crit(out, yb)
            guards.on_loss_value(loss)
            to_backward = loss / accumulation if scale else loss
            guards.on_backward(to_backward)
            to_backward.backward()
        guards.on_optimizer_step(opt)
        opt.step()
        opt.zero_grad()
        guards.on_zero_grad(opt)
    if eval_mode:
        model.eval()
    with torch.set_grad_enabled(not no_grad):
        model(x)
        guards.on_eval_forward(model)
    model.train()
    return guards.finish()


def _codes(findings):
    return [f.code for f in findings]


def test_correct_loop_is_silent():
    torch.manual_seed(0)
    assert _loop(GuardSet(), nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))) == []
    assert _loop(GuardSet(), nn.Linear(5, 3), accumulation=4) == []


def test_softmax_into_cross_entropy_is_trn301_with_evidence():
    findings = _loop(GuardSet(), nn.Linear(5, 3), softmax=True)
    assert _codes(findings) == ["TRN301"]
    f = findings[0]
    assert f.name == "softmax-before-cross-entropy" and f.source == "runtime"
    assert "sum to 1" in f.message and "8 of 8 sampled batches" in f.message
    assert f.path.endswith(HERE)


def test_log_softmax_into_cross_entropy_is_not_flagged():
    class LogSoftmaxNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 3)

        def forward(self, x):
            return self.fc(x).log_softmax(1)

    assert _loop(GuardSet(), LogSoftmaxNet()) == []
    assert _loop(GuardSet(), LogSoftmaxNet(), crit=nn.NLLLoss()) == []


def test_logits_into_nll_loss_is_trn303():
    findings = _loop(GuardSet(), nn.Linear(5, 3), crit=nn.NLLLoss())
    assert _codes(findings) == ["TRN303"]
    assert "not log-probabilities" in findings[0].message and "logsumexp" in findings[0].message


def test_sigmoid_into_bce_with_logits_is_trn302():
    guards = GuardSet()
    for _ in range(3):
        probs = torch.rand(16, 1)
        guards.on_loss_inputs("BCEWithLogitsLoss", probs, torch.ones(16, 1))
    findings = guards.finish()
    assert _codes(findings) == ["TRN302"] and "[0" in findings[0].message
    guards = GuardSet()
    for _ in range(3):
        guards.on_loss_inputs("BCEWithLogitsLoss", torch.randn(16, 1), torch.ones(16, 1))
    assert guards.finish() == []


def test_evaluation_in_train_mode_and_with_grad():
    findings = _loop(GuardSet(), nn.Linear(5, 3), eval_mode=False, no_grad=False)
    assert _codes(findings) == ["TRN101", "TRN102"]
    assert "1 of 1 evaluation forward passes" in findings[0].message


def test_training_in_eval_mode_is_trn103():
    model = nn.Linear(5, 3)
    model.eval()
    findings = _loop(GuardSet(), model, train_mode=False)
    assert "TRN103" in _codes(findings)
    msg = [f for f in findings if f.code == "TRN103"][0].message
    assert "12 of 12 training forward passes" in msg


def test_shuffled_eval_loader_is_trn203():
    ds = TensorDataset(*_data())
    guards = GuardSet()
    guards.on_loader(DataLoader(ds, shuffle=True), "train")
    guards.on_loader(DataLoader(ds, shuffle=False), "val")
    assert guards.finish() == []
    guards.on_loader(DataLoader(ds, shuffle=True), "val")
    findings = guards.finish()
    assert _codes(findings) == ["TRN203"] and "RandomSampler" in findings[0].message
    assert is_shuffled(DataLoader(ds, shuffle=True)) and not is_shuffled(DataLoader(ds))


def test_test_split_twice_or_mid_training_is_trn204():
    guards = GuardSet()
    guards.on_test_evaluated()
    assert guards.finish() == []
    guards.on_test_evaluated()
    findings = guards.finish()
    assert _codes(findings) == ["TRN204"] and "2 times" in findings[0].message

    guards = GuardSet()
    model = nn.Linear(2, 2)
    guards.on_test_evaluated()
    guards.on_train_step(model)
    findings = guards.finish()
    assert _codes(findings) == ["TRN204"] and "1 training forward passes followed" in findings[0].message


def test_unscaled_accumulation_is_trn401_and_scaled_is_silent():
    findings = _loop(GuardSet(), nn.Linear(5, 3), accumulation=4, scale=False)
    assert _codes(findings) == ["TRN401"]
    assert "4 backward calls" in findings[0].message and "1/4 = 0.250" in findings[0].message
    assert _loop(GuardSet(), nn.Linear(5, 3), accumulation=4, scale=True) == []


def test_loss_grad_hook_measures_the_scale():
    for scale, expect in ((True, []), (False, ["TRN401"])):
        guards = GuardSet()
        model, crit = nn.Linear(5, 3), nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = _data()
        for _ in range(3):
            for micro in range(2):
                guards.on_train_step(model)
                loss = crit(model(x[micro::2]), y[micro::2])
                loss.register_hook(guards.loss_grad_hook())
                (loss / 2 if scale else loss).backward()
            guards.on_optimizer_step(opt)
            opt.step()
            opt.zero_grad()
        assert _codes(guards.finish()) == expect


def test_zero_grad_inside_accumulation_is_trn402():
    findings = _loop(GuardSet(), nn.Linear(5, 3), accumulation=4, zero_inside=True)
    assert _codes(findings) == ["TRN402"]
    assert "12 of 12 sampled optimizer steps" not in findings[0].message  # only sampled steps counted
    assert "8 of 8 sampled optimizer steps" in findings[0].message


def test_nonfinite_loss_is_trn407():
    guards = GuardSet(check_every=4)
    for i in range(10):
        guards.on_loss_value(torch.tensor(float("nan") if i == 5 else 1.0))
    findings = guards.finish()
    assert _codes(findings) == ["TRN407"]
    assert "nan" in findings[0].message and "between loss evaluations 5 and 8" in findings[0].message


def test_unused_parameter_is_trn408():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 3)
            self.spare = nn.Linear(5, 3)

        def forward(self, x):
            return self.fc(x)

    findings = _loop(GuardSet(), Unused())
    assert _codes(findings) == ["TRN408"]
    assert "spare.weight, spare.bias" in findings[0].message and "2 trainable parameters" in findings[0].message


def test_frozen_parameter_is_not_trn408():
    model = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 3))
    model[0].requires_grad_(False)
    assert _loop(GuardSet(), model) == []


def test_pure_helpers():
    logits = torch.randn(4, 3)
    assert looks_like_probabilities(logits.softmax(1))
    assert not looks_like_probabilities(logits)
    assert looks_like_log_probabilities(logits.log_softmax(1))
    assert not looks_like_log_probabilities(logits.softmax(1))


@pytest.mark.parametrize("code", ["TRN301", "TRN408"])
def test_codes_filter(code):
    guards = GuardSet(codes=[c for c in ("TRN301", "TRN408") if c != code])
    findings = _loop(guards, nn.Linear(5, 3), softmax=True)
    assert code not in _codes(findings)
