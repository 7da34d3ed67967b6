"""Tasks, losses and targets; the monitored metric; evaluation of models that keep tensors."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch", reason="the reference loop needs torch (the runtime extra)")

import numpy as np
import torch
from torch import nn

from reference_loop import DataError, evaluate, fit, test
from reference_loop.optim import param_groups
from reference_loop.steps import optimizer_step
from reference_loop.tasks import load_task

from tests.runtime.helpers import mlp


def _blobs(n=120, d=4, c=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    X = (rng.normal(size=(n, d)) + y[:, None] * 3.0).astype("float32")
    return X, y


def _fit(model, train, val, **kw):
    kw.setdefault("epochs", 3)
    return fit(model, train, val, progress=False, probes=False, **kw)


# ----------------------------------------------------------------------------- targets

def test_float_class_labels_holding_whole_numbers_are_converted():
    X, y = _blobs()
    runs = []
    for labels in (y, y.astype("float64")):  # as read from a CSV: 0.0, 1.0, 2.0
        torch.manual_seed(0)
        runs.append(_fit(mlp(4, 3), (X[:90], labels[:90]), (X[90:], labels[90:].astype(labels.dtype)), epochs=5))
    ints, floats = runs
    assert floats.objective.kind == "multiclass" and floats.findings == []
    assert any("float class labels holding whole numbers were converted" in n for n in floats.notes)
    assert not ints.notes
    assert floats.history == [dict(r, epoch_seconds=f["epoch_seconds"], seconds=f["seconds"])
                              for r, f in zip(ints.history, floats.history)]  # the same run, number for number


def test_one_hot_float_targets_are_class_probabilities_not_regression():
    X, y = _blobs()
    onehot = np.eye(3, dtype="float32")[y]
    torch.manual_seed(0)
    result = _fit(mlp(4, 3), (X[:90], onehot[:90]), (X[90:], onehot[90:]), epochs=5)
    assert result.objective.kind == "multiclass" and result.report["config"]["loss"] == "CrossEntropyLoss"
    torch.manual_seed(0)
    indices = _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), epochs=5)
    for a, b in zip(result.history, indices.history):  # one-hot CE is index CE: the same run
        assert a["val_accuracy"] == b["val_accuracy"] and a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)


def test_fractional_float_labels_against_class_scores_are_refused_with_the_fix():
    X, y = _blobs()
    soft = y.astype("float32") + 0.5
    with pytest.raises(DataError, match=r"not whole numbers \(e\.g\. \d\.5\).*outputs 3 class scores.*integer class "
                                        r"indices 0\.\.2.*--loss mse"):
        _fit(mlp(4, 3), (X[:90], soft[:90]), (X[90:], soft[90:]))


def test_regression_targets_n_against_n1_outputs_are_reshaped_not_broadcast():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype("float32")
    y = (X @ np.array([1.0, -2.0, 0.5], dtype="float32")).astype("float32")  # (N,)
    torch.manual_seed(0)
    result = _fit(mlp(3, 1), (X[:150], y[:150]), (X[150:], y[150:]), epochs=30, lr=1e-2)
    assert result.objective.kind == "regression"
    assert any("reshaped to match the model's output (N, 1)" in n for n in result.notes)
    best = result.history[result.best_epoch - 1]
    # Broadcasting (N,) against (N, 1) would fit the mean of y only: R² near 0.
    assert best["val_r2"] > 0.9 and best["val_rmse"] == pytest.approx(math.sqrt(best["val_loss"]), rel=1e-4)


def test_targets_that_cannot_match_the_output_are_one_clear_line():
    X = np.random.default_rng(0).normal(size=(60, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(60, 3)).astype("float32")
    with pytest.raises(DataError, match=r"targets of shape \(45, 3\) but the model outputs \(2,\) per sample"):
        _fit(mlp(3, 2), (X[:45], y[:45]), (X[45:], y[45:]), loss="mse")


def test_binary_with_one_logit_trains_with_bce_and_reports_accuracy():
    X, y = _blobs(c=2)
    torch.manual_seed(0)
    result = _fit(mlp(4, 1), (X[:90], y[:90]), (X[90:], y[90:]), epochs=15, lr=1e-2)
    assert result.objective.kind == "binary" and result.report["config"]["loss"] == "BCEWithLogitsLoss"
    assert result.history[-1]["val_accuracy"] > 0.9


def test_loss_by_name_huber_and_regression_metrics_on_diabetes():
    task = load_task("diabetes")
    torch.manual_seed(0)
    result = _fit(task.model(), task.splits.train, task.splits.val, loss="huber", epochs=5)
    assert result.report["config"]["loss"] == "HuberLoss"
    metrics = test(result, task.splits.test).metrics
    assert set(metrics) == {"loss", "n", "rmse", "mae", "r2"} and metrics["n"] == len(task.splits.test[1])
    assert 0 < metrics["mae"] < metrics["rmse"] and metrics["r2"] > 0
    assert "val_accuracy" not in result.history[0]


# ----------------------------------------------------------------------------- best epoch

def test_accuracy_monitor_breaks_ties_with_the_loss_and_respects_min_delta():
    X, y = _blobs(n=200)
    torch.manual_seed(0)
    result = _fit(mlp(4, 3), (X[:150], y[:150]), (X[150:], y[150:]), epochs=15, lr=1e-2, monitor="val_accuracy")
    rows = result.history
    top = max(r["val_accuracy"] for r in rows)
    tied = [r for r in rows if r["val_accuracy"] == top]
    assert result.history[result.best_epoch - 1]["val_loss"] == min(r["val_loss"] for r in tied)
    torch.manual_seed(0)
    strict = _fit(mlp(4, 3), (X[:150], y[:150]), (X[150:], y[150:]), epochs=15, lr=1e-2, min_delta=10.0)
    assert strict.best_epoch == 1  # no later epoch lowers the loss by 10


def test_monitor_must_fit_the_task():
    X, y = _blobs()
    with pytest.raises(DataError, match="cannot monitor 'val_r2' on a multiclass task"):
        _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), monitor="val_r2")


# ----------------------------------------------------------------------------- models that keep tensors

class LazyScale(nn.Module):
    """Builds a per-class scale on its first forward and keeps it (no parameter, no buffer)."""

    def __init__(self, d: int, c: int) -> None:
        super().__init__()
        self.body = mlp(d, c)
        self.scale = None

    def forward(self, x):
        out = self.body(x)
        if self.scale is None or self.scale.shape[0] != len(x):
            self.scale = torch.ones(len(x), out.shape[1])  # rebuilt whenever the batch size changes
        return out * self.scale  # saved for backward: an inference tensor here cannot be


def test_a_model_that_keeps_tensors_from_its_forward_trains_and_says_so():
    X, y = _blobs()
    torch.manual_seed(0)
    model = LazyScale(4, 3)
    result = fit(model, (X[:90], y[:90]), (X[90:], y[90:]), epochs=3, batch_size=32, progress=False)
    assert len(result.history) == 3 and result.findings == []
    assert any("keeps tensors created in its forward (LazyScale.scale)" in n and "no_grad" in n for n in result.notes)
    assert test(result, (X[90:], y[90:])).metrics["n"] == 30


def test_lazy_linear_trains():
    X, y = _blobs()
    torch.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(16), nn.ReLU(), nn.Linear(16, 3))
    result = _fit(model, (X[:90], y[:90]), (X[90:], y[90:]), epochs=10, lr=1e-2)
    assert result.history[-1]["val_accuracy"] > 0.6 and not any("keeps" in n for n in result.notes)


class BuiltOnce(LazyScale):
    """Builds its per-class scale on the first forward only."""

    def forward(self, x):
        out = self.body(x)
        if self.scale is None:
            self.scale = torch.ones(out.shape[1])
        return out * self.scale


class ForceHead(nn.Module):
    """Differentiates an energy with respect to its input inside forward (as force fields do)."""

    def __init__(self) -> None:
        super().__init__()
        self.energy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        with torch.enable_grad():  # cannot turn autograd back on inside inference mode
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x).sum(), x, create_graph=self.training)
        return self.head(grad + x.detach())


def test_a_model_that_fails_under_inference_mode_is_evaluated_under_no_grad():
    X, y = _blobs()
    torch.manual_seed(0)
    result = _fit(ForceHead(), (X[:90], y[:90]), (X[90:], y[90:]), epochs=2)
    assert len(result.history) == 2 and math.isfinite(result.history[-1]["val_loss"])
    assert any(n.startswith("evaluation under inference mode failed (element 0 of tensors does not require grad")
               for n in result.notes)


def test_inference_tensors_kept_from_the_users_own_evaluation_are_repaired_before_training():
    X, y = _blobs()
    torch.manual_seed(0)
    model = BuiltOnce(4, 3)
    with torch.inference_mode():
        model(torch.tensor(X[:8]))  # the user's own look at the model: the scale is now an inference tensor
    result = _fit(model, (X[:90], y[:90]), (X[90:], y[90:]))
    assert any("held inference tensors from an earlier forward (BuiltOnce.scale)" in n for n in result.notes)
    assert len(result.history) == 3 and not model.scale.is_inference()


def test_evaluate_keeps_inference_mode_for_ordinary_models():
    seen = []
    model = mlp(4, 3)
    model.register_forward_pre_hook(lambda m, a: seen.append(torch.is_inference_mode_enabled()))
    evaluate(model, _blobs(n=20), batch_size=8)
    assert seen == [False, True, True, True]  # shape check under no_grad, then the batches


# ----------------------------------------------------------------------------- optimizer and scheduler

def test_adamw_decays_weights_but_not_biases_or_norms():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    decay, no_decay = param_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(no_decay["params"]) == 6  # two biases, the norms' weights and biases
    X, y = _blobs()
    result = _fit(model, (X[:90], y[:90]), (X[90:], y[90:]), epochs=1, weight_decay=0.05)
    assert result.report["config"]["weight_decay"] == 0.05


class _SkippingScaler:
    """A GradScaler whose step was skipped (inf gradients): its scale drops on update()."""

    def __init__(self):
        self.scale = 1024.0

    def get_scale(self):
        return self.scale

    def step(self, opt):
        pass

    def update(self):
        self.scale /= 2

    def unscale_(self, opt):
        pass


def test_scheduler_is_not_stepped_when_the_scaler_skipped_the_update():
    model = mlp(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
    assert optimizer_step(model, opt, _SkippingScaler(), None, sched) is False
    assert opt.param_groups[0]["lr"] == 0.1
    assert optimizer_step(model, opt, None, None, sched) is True
    assert opt.param_groups[0]["lr"] == 0.05


def test_plateau_scheduler_steps_per_epoch_on_the_monitored_metric():
    X, y = _blobs()
    torch.manual_seed(0)
    seen = []

    def plateau(opt):
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", patience=0, factor=0.5)
        step = sched.step
        sched.step = lambda metric: (seen.append(metric), step(metric))
        return sched

    result = _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), epochs=4, scheduler=plateau)
    assert seen == [r["val_loss"] for r in result.history]
    torch.manual_seed(0)
    per_epoch = _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), epochs=3, scheduler_interval="epoch",
                     scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, 0.5))
    assert [r["lr"] for r in per_epoch.history] == [1e-3, 5e-4, 2.5e-4]  # the rate each epoch trained with


# ----------------------------------------------------------------------------- non-finite loss

def _exploding(after):
    calls = []
    ce = nn.CrossEntropyLoss()

    def cross_entropy(out, y):
        calls.append(1)
        loss = ce(out, y)
        return loss * float("nan") if len(calls) > after else loss

    return cross_entropy


@pytest.mark.parametrize("guards", [True, False])
def test_a_non_finite_loss_stops_the_run_with_its_finding(guards):
    X, y = _blobs()
    torch.manual_seed(0)
    result = _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), epochs=10, batch_size=30, loss=_exploding(8),
                  guards=guards)
    assert len(result.history) == 3 and result.stopped["reason"].startswith("non-finite training loss")
    assert [f.code for f in result.findings] == ["TRN407"]
    assert result.best_epoch == 2 and all(torch.isfinite(v).all() for v in result.best_state.values())


def test_on_nonfinite_continue_trains_on():
    X, y = _blobs()
    torch.manual_seed(0)
    result = _fit(mlp(4, 3), (X[:90], y[:90]), (X[90:], y[90:]), epochs=5, batch_size=30, loss=_exploding(7),
                  on_nonfinite="continue")
    assert len(result.history) == 5 and result.stopped is None and [f.code for f in result.findings] == ["TRN407"]
