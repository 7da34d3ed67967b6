"""Each probe fires on a deliberately broken model or data set, with evidence, and passes otherwise."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import numpy as np
import torch
from torch import nn

from reference_loop import fit, probes
from reference_loop.overlap import split_overlap
from reference_loop.steps import micro_step

from tests.runtime.helpers import BatchMixingNet, OverconfidentNet, SoftmaxNet, UnusedParamNet, mlp, task


def _fit(model, t, **kw):
    torch.manual_seed(0)
    kw.setdefault("epochs", 2)
    return fit(model, t.splits.train, t.splits.val, progress=False, **kw)


def _by_code(result):
    return {f.code: f for f in result.findings}


def _probe(result, code):
    return next(p for p in result.probes if p.code == code)


def test_softmax_last_layer_cannot_overfit_and_feeds_probabilities():
    t = task("iris")
    torch.manual_seed(0)
    result = _fit(SoftmaxNet(4, 3), t)
    found = _by_code(result)
    assert {"TRN301", "TRN902"} <= set(found)
    p = _probe(result, "TRN902")
    assert p.verdict == "fail" and p.measured["final_loss"] > 0.3
    assert "cannot fit one batch of 16" in found["TRN902"].message
    assert "softmax" in found["TRN902"].message
    assert "sum to 1" in found["TRN301"].message
    # Findings about the model point at its forward, in this repository's helpers.
    assert found["TRN301"].path.endswith("helpers.py")


def test_unused_parameter_is_reported_by_the_guard():
    t = task("iris")
    torch.manual_seed(0)
    result = _fit(UnusedParamNet(4, 3), t)
    found = _by_code(result)
    assert set(found) == {"TRN408"}
    assert "unused_head.weight, unused_head.bias" in found["TRN408"].message


def test_parameters_left_out_of_the_optimizer():
    t = task("iris")
    torch.manual_seed(0)
    model = mlp(4, 3)
    optimizer = torch.optim.SGD(model[0].parameters(), lr=0.1)  # the last layer is left out
    result = _fit(model, t, optimizer=optimizer)
    found = _by_code(result)
    assert "TRN904" in found
    msg = found["TRN904"].message
    assert "2.weight" in msg and "2.bias" in msg and "not in the optimizer's param_groups" in msg
    assert _probe(result, "TRN904").measured["not_updated"] == ["2.weight", "2.bias"]


def test_batch_mixing_reshape():
    t = task("iris")
    torch.manual_seed(0)
    result = _fit(BatchMixingNet(4, 3), t)
    found = _by_code(result)
    assert "TRN903" in found
    leaking = _probe(result, "TRN903").measured["leaking"]
    assert leaking > 0
    assert f"gradient with respect to {leaking} of the 15 other samples" in found["TRN903"].message


def test_batch_norm_in_train_mode_is_not_batch_dependence():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    assert probes.batch_independence(model, torch.randn(8, 4)).verdict == "pass"
    assert model.training  # the probe worked on a copy


def test_integer_inputs_use_reordering():
    class Bag(nn.Module):
        def __init__(self, mix: bool):
            super().__init__()
            self.emb, self.mix = nn.Embedding(20, 4), mix

        def forward(self, x):
            h = self.emb(x).mean(1)
            return h + h.mean(0, keepdim=True) if self.mix else h

    x = torch.randint(0, 20, (6, 5))
    assert probes.batch_independence(Bag(False), x).verdict == "pass"
    bad = probes.batch_independence(Bag(True), x)
    assert bad.verdict == "fail" and "replacing the other samples" in bad.message


def test_overconfident_initialization():
    t = task("iris")
    torch.manual_seed(0)
    result = _fit(OverconfidentNet(4, 3), t, epochs=1)
    found = _by_code(result)
    assert "TRN901" in found
    p = _probe(result, "TRN901")
    assert p.measured["initial_loss"] > 5 and abs(p.measured["expected"] - np.log(3)) < 1e-3
    assert "expected about 1.099 (ln(3) for 3 classes)" in found["TRN901"].message


def test_overlapping_splits_exact_and_near():
    t = task("wine")
    (Xtr, ytr), (Xva, yva) = t.splits.train, t.splits.val
    leaked = np.concatenate([Xva, Xtr[:5], Xtr[5:8] + 1e-4])  # 5 copies, 3 near-copies
    leaked_y = np.concatenate([yva, ytr[:5], ytr[5:8]])
    torch.manual_seed(0)
    result = fit(mlp(13, 3), t.splits.train, (leaked, leaked_y), epochs=1, progress=False)
    found = _by_code(result)
    assert set(found) == {"TRN207"}
    assert f"8 of {len(leaked)} validation rows also occur in the training data (5 identical, 3 within" in found["TRN207"].message
    measured = _probe(result, "TRN207").measured["validation"]
    assert measured == {"rows": len(leaked), "identical": 5, "near": 3}


def test_no_overlap_on_disjoint_data():
    X = torch.randn(200, 6)
    assert split_overlap(X[:150], {"validation": X[150:175], "test": X[175:]}).verdict == "pass"


def _broken_step(model, criterion, x, y, window_len, *args):
    """Accumulation that forgets to divide the loss by the window: k times the gradient."""
    loss = criterion(model(x), y)
    loss.backward()
    return loss.detach()


def test_accumulation_probe_catches_a_broken_micro_step():
    torch.manual_seed(0)
    model, crit = mlp(5, 3), nn.CrossEntropyLoss()
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    good = probes.accumulation_matches(model, crit, x, y, 4, step_fn=micro_step)
    assert good.verdict == "pass" and good.measured["relative_error"] < 1e-5
    bad = probes.accumulation_matches(model, crit, x, y, 4, step_fn=_broken_step)
    assert bad.verdict == "fail" and abs(bad.measured["norm_ratio"] - 4) < 1e-3
    assert "norm ratio 4" in bad.message


def test_sum_reduced_loss_under_accumulation_is_trn905():
    t = task("iris")
    torch.manual_seed(0)
    result = _fit(mlp(4, 3), t, loss=nn.CrossEntropyLoss(reduction="sum"), accumulation_steps=2, batch_size=16)
    found = _by_code(result)
    assert "TRN905" in found and "norm ratio 0.5" in found["TRN905"].message
    assert "TRN401" not in found  # the loop itself scales correctly


def test_nonfinite_loss_during_fit():
    t = task("iris")
    calls = {"n": 0}

    def exploding(out, y):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("inf") if calls["n"] > 3 else loss

    torch.manual_seed(0)
    result = _fit(mlp(4, 3), t, loss=exploding, probes=False, epochs=3)
    assert "TRN407" in _by_code(result)
    assert "inf" in _by_code(result)["TRN407"].message or "nan" in _by_code(result)["TRN407"].message


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_probes_do_not_change_the_run(name):
    t = task(name)
    runs = []
    for use in (True, False):
        torch.manual_seed(0)
        runs.append(_fit(mlp(t.n_features, t.n_classes), t, probes=use).history)
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
