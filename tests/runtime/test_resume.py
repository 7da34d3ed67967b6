"""A run interrupted at epoch k and resumed ends with the numbers of an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="the reference loop needs torch (the runtime extra)")

import torch

from reference_loop import DataError, fit
from reference_loop.tasks import load_task
from tests.conftest import REPO_ROOT, auditor_env


def _strip(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "epoch_seconds")} for row in history]


def _interrupt_at(model, forwards):
    """A Ctrl-C during training forward number `forwards` of this very model (not the probes' copies)."""
    seen = []

    def hook(module, args):
        if module is model and module.training and torch.is_grad_enabled():
            seen.append(1)
            if len(seen) == forwards:
                raise KeyboardInterrupt

    model.register_forward_pre_hook(hook)


def _run(out_dir, interrupt_at=None, **kw):
    task = load_task("iris")
    torch.manual_seed(0)
    model = task.model()  # dropout 0.1: the RNG state matters
    if interrupt_at is not None:
        _interrupt_at(model, interrupt_at)
    return fit(model, task.splits.train, task.splits.val, epochs=8, batch_size=16, seed=3, progress=False,
               out_dir=str(out_dir), scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 5, 0.7),
               test_data=task.splits.test, **kw)


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    whole = _run(tmp_path / "whole")
    # 103 training rows / 16: 7 batches per epoch, so forward 31 is in the middle of epoch 5.
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", interrupt_at=31)
    saved = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 4
    resumed = _run(tmp_path / "cut", resume=str(tmp_path / "cut"))
    assert _strip(resumed.history) == _strip(whole.history)
    assert resumed.best_epoch == whole.best_epoch
    final = {k: v for k, v in resumed.model.state_dict().items()}
    assert all(torch.equal(final[k], v) for k, v in whole.model.state_dict().items())
    assert [p.to_dict()["verdict"] for p in resumed.probes] == [p.to_dict()["verdict"] for p in whole.probes]
    assert any("resumed from" in n and "after epoch 4" in n for n in resumed.notes)
    report = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert len(report["history"]) == 8


def test_resume_needs_a_checkpoint_that_fits(tmp_path):
    with pytest.raises(DataError, match="no checkpoint.pt in"):
        _run(tmp_path / "elsewhere", resume=str(tmp_path))
    _run(tmp_path / "run", probes=False)
    task = load_task("wine")
    with pytest.raises(DataError, match="the checkpoint does not fit this model"):
        fit(task.model(), task.splits.train, task.splits.val, epochs=9, progress=False, resume=str(tmp_path / "run"))


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "auditor", "train", "--task", "iris", "--threads", "1",
                           "--no-probes", "--output-format", "json", *args], env=auditor_env(), cwd=str(REPO_ROOT),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["run"]


def test_cli_resume_continues_to_the_same_numbers(tmp_path):
    whole = _cli("--epochs", "6", "--seed", "1")
    _cli("--epochs", "3", "--seed", "1", "--out", str(tmp_path))
    resumed = _cli("--epochs", "6", "--seed", "1", "--resume", str(tmp_path))
    assert _strip(resumed["history"]) == _strip(whole["history"])
    assert resumed["test"] == whole["test"]
