"""`auditor train`: defaults reach the target on digits, user factories work, bad input is one line."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import json
import subprocess
import sys
import textwrap
import time

from click.testing import CliRunner

from auditor.commands.train import train
from tests.conftest import REPO_ROOT, auditor_env


def _invoke(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(train, list(args), catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(train, list(args), catch_exceptions=False)


def test_defaults_reach_95_percent_on_digits_within_a_minute(tmp_path):
    start = time.perf_counter()
    result = _invoke("--output-format", "json", "--out", str(tmp_path / "run"))
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run"]["test"]["accuracy"] >= 0.95
    assert payload["findings"] == [] and payload["summary"]["findings"] == 0
    assert elapsed < 60
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"report.json", "curves.png", "best_state_dict.pt"}
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
