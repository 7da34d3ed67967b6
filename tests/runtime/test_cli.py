"""`auditor train`: defaults reach the target on digits, user factories work, bad input is one line."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import json
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from auditor.commands.train import train
from tests.conftest import REPO_ROOT, auditor_env


def _invoke(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(train, list(args), catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(train, list(args), catch_exceptions=False)


def test_defaults_reach_95_percent_on_digits(tmp_path):
    # No time is asserted (these machines are shared): the run's seconds are in docs/.
    result = _invoke("--output-format", "json", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run"]["test"]["accuracy"] >= 0.95
    assert payload["findings"] == [] and payload["summary"]["findings"] == 0
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"report.json", "curves.png", "best_state_dict.pt",
                                                             "checkpoint.pt"}
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["test"]["accuracy"] == payload["run"]["test"]["accuracy"]
    assert "best epoch" in result.stderr and "TRN902" in result.stderr  # the table goes to stderr in json mode


USER_MODULE = '''
import numpy as np
import torch
from torch import nn

def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")
    return (X[:200], y[:200]), (X[200:250], y[200:250]), (X[250:], y[250:])

def model():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))

def softmax_model():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2), nn.Softmax(dim=1))

def wrong_width():
    return nn.Sequential(nn.Linear(5, 2))

def not_a_model():
    return 42
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_project.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_project"
    sys.modules.pop("my_project", None)


def test_user_factories_text_output(user_module):
    result = _invoke("--model", f"{user_module}:model", "--data", f"{user_module}:data", "--epochs", "5")
    assert result.exit_code == 0, result.output
    assert "test" in result.stdout and "Found 0 findings." in result.stdout


def test_error_findings_exit_1_with_locations(user_module):
    result = _invoke("--model", f"{user_module}:softmax_model", "--data", "my_project.py:data", "--epochs", "2",
                     "--output-format", "json")
    assert result.exit_code == 1
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert {"TRN301", "TRN902"} <= codes
    assert all(f["source"] == "runtime" for f in json.loads(result.stdout)["findings"])


@pytest.mark.parametrize("args, message", [
    (["--task", "mnist"], "unknown task 'mnist'; choose from iris, digits, wine, breast_cancer"),
    (["--device", "cuda:7"], "device 'cuda:7' does not exist on this machine"),
    (["--model", "no_such_pkg.models:make", "--data", "x:y"], "cannot import no_such_pkg.models"),
    (["--model", "my_project:model"], "--model and --data go together"),
    (["--model", "my_project:nothing", "--data", "my_project:data"], "has no callable 'nothing'"),
    (["--model", "my_project:not_a_model", "--data", "my_project:data"], "must return a torch.nn.Module"),
    (["--model", "my_project:wrong_width", "--data", "my_project:data"],
     "samples of shape (6,) (batch (2, 6)), which the model cannot take; the model's first layer expects 5"),
])
def test_bad_input_is_one_line_and_exit_2(user_module, args, message):
    result = _invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_importing_the_command_does_not_import_torch():
    code = "import sys, auditor.cli; assert 'torch' not in sys.modules and 'reference_loop' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], env=auditor_env(), cwd=str(REPO_ROOT),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_findings_point_at_the_users_factories(user_module):
    result = _invoke("--model", f"{user_module}:softmax_model", "--data", f"{user_module}:data", "--epochs", "1",
                     "--no-probes", "--output-format", "json")
    findings = json.loads(result.stdout)["findings"]
    line = textwrap.dedent(USER_MODULE).splitlines().index("def softmax_model():") + 1
    assert [(f["code"], f["path"], f["line"]) for f in findings] == [("TRN301", "my_project.py", line)]


def _train(*args, cwd=None):
    """`auditor train` as a user runs it: a subprocess, JSON on stdout."""
    proc = subprocess.run([sys.executable, "-m", "auditor", "train", "--threads", "1", *args], env=auditor_env(),
                          cwd=str(cwd or REPO_ROOT), capture_output=True, text=True, timeout=180)
    return proc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iris_100_epochs_keeps_a_later_epoch_and_reaches_90_percent(seed, tmp_path):
    proc = _train("--task", "iris", "--epochs", "100", "--seed", str(seed), "--no-probes", "--output-format", "json",
                  "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)["run"]
    assert run["best_epoch"] > 1 and run["monitor"] == "val_loss"
    assert run["test"]["accuracy"] >= 0.90
    assert all(0 <= row["train_accuracy"] <= 1 and row["epoch_seconds"] >= 0 for row in run["history"])
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_diabetes_is_regression_and_reports_r2(tmp_path):
    proc = _train("--task", "diabetes", "--epochs", "40", "--loss", "huber", "--monitor", "val_rmse")
    assert proc.returncode == 0, proc.stderr
    assert "rmse" in proc.stdout and "r2" in proc.stdout and "accuracy" not in proc.stdout.split("probes:")[0]
    proc = _train("--task", "diabetes", "--epochs", "40", "--output-format", "json")
    run = json.loads(proc.stdout)["run"]
    assert run["kind"] == "regression" and run["test"]["r2"] > 0.2 and run["test"]["rmse"] > run["test"]["mae"] > 0


FLOAT_LABELS = '''
import numpy as np
import torch
from torch import nn

def _xy(shift):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    X = (rng.normal(size=(240, 4)) + 3 * y[:, None]).astype("float32")
    return X, y.astype("float64") + shift   # as read from a CSV

def _split(X, y):
    return (X[:160], y[:160]), (X[160:200], y[160:200]), (X[200:], y[200:])

def whole():
    return _split(*_xy(0.0))

def fractional():
    return _split(*_xy(0.5))

def model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

class LazyScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = model()
        self.register_buffer("scale", None)

    def forward(self, x):
        out = self.body(x)
        if self.scale is None or self.scale.shape[0] != len(x):
            self.scale = torch.ones(len(x), 3)   # a buffer built on the forward and kept
        return out * self.scale

def lazy():
    return LazyScale()
'''


def test_float_class_labels_train_and_fractional_ones_are_one_line(tmp_path):
    (tmp_path / "csv_data.py").write_text(FLOAT_LABELS)
    proc = _train("--model", "csv_data:model", "--data", "csv_data:whole", "--epochs", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "float class labels holding whole numbers were converted" in proc.stdout
    proc = _train("--model", "csv_data:model", "--data", "csv_data:fractional", "--epochs", "5", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not whole numbers" in lines[0] and "integer class indices" in lines[0]


def test_a_model_with_a_lazy_buffer_trains(tmp_path):
    (tmp_path / "lazy_model.py").write_text(FLOAT_LABELS)
    proc = _train("--model", "lazy_model:lazy", "--data", "lazy_model:whole", "--epochs", "5", "--batch-size", "32",
                  "--output-format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)["run"]
    assert len(run["history"]) == 5 and run["test"]["n"] == 40
    assert any("keeps tensors created in its forward (LazyScale.scale)" in n for n in run["notes"])


def test_monitor_that_does_not_fit_the_task_is_one_line():
    proc = _train("--task", "iris", "--monitor", "val_r2", "--epochs", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["Error: cannot monitor 'val_r2' on a multiclass task; choose from "
                                                "val_loss, val_accuracy"]


def test_cosine_scheduler_steps_once_per_epoch():
    proc = _train("--task", "iris", "--epochs", "4", "--scheduler", "cosine", "--no-probes", "--output-format", "json")
    assert proc.returncode == 0, proc.stderr
    rates = [row["lr"] for row in json.loads(proc.stdout)["run"]["history"]]
    # CosineAnnealingLR over 4 epochs: 1e-3, then (1 + cos(pi k / 4)) / 2 of it.
    assert rates == pytest.approx([1e-3, 8.5355e-4, 5e-4, 1.4645e-4], rel=1e-3)
