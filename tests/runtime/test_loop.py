"""The reference loop: clean on every built-in task, reproducible, and right in each step."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import json

import numpy as np
import torch
from torch import nn

from reference_loop import DataError, DeviceError, choose_device, evaluate, fit, prepare_splits, test
from reference_loop.steps import windows
from reference_loop.tasks import TASKS, load_task

from tests.runtime.helpers import mlp


def _strip(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "epoch_seconds")} for row in history]


@pytest.mark.parametrize("name", TASKS)
def test_every_built_in_task_runs_clean(name):
    task = load_task(name)
    torch.manual_seed(0)
    result = fit(task.model(), task.splits.train, task.splits.val, epochs=3, progress=False,
                 test_data=task.splits.test)
    tested = test(result, task.splits.test)
    assert result.findings == [] and tested.findings == []
    verdicts = {p.code: p.verdict for p in result.probes}
    # No chance-level loss is known for a regression loss: TRN901 says so rather than guess.
    initial = "skipped" if task.kind == "regression" else "pass"
    assert verdicts == {"TRN207": "pass", "TRN901": initial, "TRN903": "pass", "TRN904": "pass",
                        "TRN905": "skipped", "TRN902": "pass"}


def test_accumulation_amp_clipping_and_scheduler_run_clean():
    task = load_task("digits")
    torch.manual_seed(0)
    # 1257 training rows / 32 = 40 batches: windows of 3 leave a last, shorter window of 1.
    result = fit(task.model(), task.splits.train, task.splits.val, epochs=2, batch_size=32, accumulation_steps=3,
                 grad_clip=1.0, amp="bf16", scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 10, 0.5),
                 progress=False)
    assert result.findings == []
    assert {p.code: p.verdict for p in result.probes}["TRN905"] == "pass"
    assert result.report["config"]["precision"] == "bf16"
    assert result.history[-1]["lr"] < 1e-3  # the scheduler stepped once per optimizer step (14 per epoch)


def test_windows_include_the_last_shorter_one():
    assert [windows(7, 3, i) for i in range(7)] == [
        (3, False), (3, False), (3, True), (3, False), (3, False), (3, True), (1, True)]
    assert [windows(2, 1, i) for i in range(2)] == [(1, True), (1, True)]


def test_same_seed_same_numbers():
    task = load_task("wine")
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = task.model()
        result = fit(model, task.splits.train, task.splits.val, epochs=3, seed=5, progress=False)
        runs.append((_strip(result.history), [v.clone() for v in result.best_state.values()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    torch.manual_seed(1)
    other = fit(task.model(), task.splits.train, task.splits.val, epochs=3, seed=6, progress=False)
    assert _strip(other.history) != runs[0][0]


def test_test_split_twice_is_trn204():
    task = load_task("iris")
    torch.manual_seed(0)
    result = fit(task.model(), task.splits.train, task.splits.val, epochs=1, progress=False, probes=False)
    first = test(result, task.splits.test)
    assert first.findings == [] and 0 <= first["accuracy"] <= 1
    second = test(result, task.splits.test)
    assert [f.code for f in second.findings] == ["TRN204"]
    assert "evaluated 2 times" in second.findings[0].message
    assert second.findings[0].path.endswith("test_loop.py")
    assert [f.code for f in result.findings] == ["TRN204"]


def test_test_on_a_bare_model_counts_too():
    model = mlp(4, 3)
    data = (np.random.rand(10, 4), np.arange(10) % 3)
    assert test(model, data).findings == []
    assert [f.code for f in test(model, data).findings] == ["TRN204"]


def test_evaluate_restores_train_mode_and_uses_no_grad():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append((m.training, torch.is_grad_enabled())))
    model.train()
    metrics = evaluate(model, (np.random.rand(20, 4), np.arange(20) % 3), batch_size=8)
    assert model.training and metrics["n"] == 20
    assert seen == [(False, False)] * (1 + 3)  # the shape check on two samples, then 3 batches


def test_best_checkpoint_early_stopping_and_artifacts(tmp_path):
    task = load_task("iris")
    torch.manual_seed(0)
    result = fit(task.model(), task.splits.train, task.splits.val, epochs=40, lr=0.05, patience=2,
                 out_dir=str(tmp_path), progress=False, probes=False)
    assert len(result.history) < 40  # stopped early
    # By validation loss (the default monitor): the best epoch has the lowest one.
    assert result.history[result.best_epoch - 1]["val_loss"] == min(r["val_loss"] for r in result.history)
    assert len(result.history) == result.best_epoch + 2
    assert result.stopped["epoch"] == len(result.history) and "early stopping" in result.stopped["reason"]
    # The model holds the best weights, not the last ones.
    assert all(torch.equal(v, result.model.state_dict()[k]) for k, v in result.best_state.items())
    test(result, task.splits.test, out_dir=str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["best_epoch"] == result.best_epoch and report["test"]["n"] == len(task.splits.test[1])
    assert report["findings"] == [] and report["config"]["patience"] == 2
    assert report["config"]["monitor"] == "val_loss"
    assert all(row["epoch_seconds"] >= 0 and 0 <= row["train_accuracy"] <= 1 for row in report["history"])
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    state = torch.load(tmp_path / "best_state_dict.pt", weights_only=True)
    assert set(state) == set(result.best_state)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == len(result.history)


def test_prepare_splits_is_stratified_disjoint_and_fits_on_train_only():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    s = prepare_splits(X, y, val_size=0.2, test_size=0.2, seed=3)
    sizes = [len(part[1]) for part in (s.train, s.val, s.test)]
    assert sum(sizes) == 150
    for part in (s.val, s.test):
        assert np.bincount(part[1]).max() - np.bincount(part[1]).min() <= 1  # stratified
    raw = [s.preprocessor.inverse_transform(part[0]) for part in (s.train, s.val, s.test)]
    np.testing.assert_allclose(s.preprocessor.mean_, raw[0].mean(0))  # statistics of train only
    rows = [{r.round(6).tobytes() for r in part} for part in raw]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    again = prepare_splits(X, y, val_size=0.2, test_size=0.2, seed=3)
    np.testing.assert_array_equal(again.test[0], s.test[0])


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(DeviceError, match="does not exist on this machine; available: cpu"):
        choose_device("cuda:3")
    with pytest.raises(DataError, match=r"samples of shape \(13,\).*expects 4 features"):
        task = load_task("wine")
        fit(mlp(4, 3), task.splits.train, task.splits.val, epochs=1, progress=False)
    with pytest.raises(DataError, match="class labels up to 2 but the model outputs 2 scores"):
        task = load_task("iris")
        fit(mlp(4, 2), task.splits.train, task.splits.val, epochs=1, progress=False)
    assert choose_device("auto").type == "cpu"


def test_hooks_come_off_when_training_raises():
    task = load_task("iris")
    model = mlp(4, 3)

    def failing(out, y):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(model, task.splits.train, task.splits.val, loss=failing, epochs=1, progress=False, probes=False)
    assert not model._forward_pre_hooks


def test_test_split_is_evaluated_in_the_precision_of_validation():
    task = load_task("wine")
    torch.manual_seed(0)
    result = fit(task.model(), task.splits.train, task.splits.val, epochs=3, amp="bf16", batch_size=32,
                 progress=False, probes=False)
    assert result.precision.label == "bf16"
    # The validation split through test(): exactly the numbers that chose the best epoch.
    again = test(result, task.splits.val, batch_size=32).metrics
    best = result.history[result.best_epoch - 1]
    assert (again["loss"], again["accuracy"]) == (best["val_loss"], best["val_accuracy"])
    assert evaluate(result.model, task.splits.val, batch_size=32)["loss"] != best["val_loss"]  # fp32 differs
