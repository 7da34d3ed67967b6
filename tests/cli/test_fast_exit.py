"""`check` leaves without interpreter teardown (auditor/speed/fast_replay.py `_exit_now`): the
report must still arrive whole, with the status Python would give; other commands exit
normally, so a script run by `auditor run` keeps its own exit handlers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import auditor_env, run_auditor, write

# `auditor run` needs the runtime extra; the linter's own Pythons (.ci/run) have no torch.
HAS_TORCH = importlib.util.find_spec("torch") is not None

TRAIN = """
import torch

model = torch.nn.Linear(4, 2)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 4)), shuffle=True)
test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 4)), shuffle=True)
state = torch.load("weights.pt")
"""
# TRAIN's findings are the info TRN203 and the opt-in warning TRN602: these flags run TRN602
# and let a warning fail the run, so a status of 1 shows the report was decided and delivered.
FAILING = ("--extend-select", "TRN602", "--fail-on", "warning")


def test_a_large_report_arrives_whole_through_a_pipe(tmp_path):
    for index in range(60):
        write(tmp_path, f"pkg/train_{index}.py", TRAIN)
    # Through a real pipe read to the end by another process, not a captured buffer.
    command = [sys.executable, "-m", "auditor", "check", "--no-cache", *FAILING, "--output-format", "json",
               str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=auditor_env()) as process:
        stdout, stderr = process.communicate(timeout=300)
    report = json.loads(stdout)
    assert process.returncode == 1, stderr
    assert len({f["path"] for f in report["findings"]}) == 60
    assert {f["code"] for f in report["findings"]} >= {"TRN203", "TRN602"}


def test_exit_statuses_are_kept(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    assert run_auditor("check", "--no-cache", *FAILING, str(tmp_path)).returncode == 1
    assert run_auditor("check", "--no-cache", *FAILING, "--exit-zero", str(tmp_path)).returncode == 0
    missing = run_auditor("check", "--no-cache", str(tmp_path / "missing.py"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    write(tmp_path, "clean/ok.py", "import torch\n\nx = torch.zeros(2)\n")
    assert run_auditor("check", "--no-cache", str(tmp_path / "clean")).returncode == 0


@pytest.mark.skipif(not HAS_TORCH, reason="auditor run needs torch (the runtime extra)")
def test_auditor_run_keeps_the_scripts_exit_handlers(tmp_path):
    script = write(tmp_path, "script.py", """
        import atexit

        atexit.register(lambda: print("handler ran", flush=True))
        print("body ran")
        """)
    proc = run_auditor("run", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "body ran" in proc.stdout and "handler ran" in proc.stdout


def test_closed_standard_streams_give_a_status_not_a_traceback(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    command = [sys.executable, "-m", "auditor", "check", "--no-cache", *FAILING, str(tmp_path)]
    # Python starts with descriptor 1 closed: sys.stdout is None.
    closed_out = subprocess.run(command, stderr=subprocess.PIPE, text=True, env=auditor_env(),
                                preexec_fn=lambda: os.close(1), timeout=300)
    assert closed_out.returncode == 1
    assert "Traceback" not in closed_out.stderr and "internal error" not in closed_out.stderr
    closed_err = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=auditor_env(),
                                preexec_fn=lambda: os.close(2), timeout=300)
    assert closed_err.returncode == 1 and "TRN602" in closed_err.stdout


def test_only_check_runs_with_the_collector_paused_from_the_start(tmp_path):
    # A hook records the collector's state when the CLI module is first imported.
    hook = tmp_path / "hook"
    log = tmp_path / "gc.log"
    write(hook, "sitecustomize.py", f"""
        import gc
        import sys

        class _Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "auditor.cli":
                    with open({str(log)!r}, "a", encoding="utf-8") as handle:
                        handle.write(f"{{sys.argv[1]}} {{gc.isenabled()}}\\n")
                return None

        sys.meta_path.insert(0, _Spy())
        """)
    env = {"PYTHONPATH": f"{hook}{os.pathsep}{auditor_env()['PYTHONPATH']}"}
    train = write(tmp_path, "train.py", TRAIN)
    script = write(tmp_path, "script.py", """
        import gc
        print("collector", gc.isenabled())
        """)
    checked = run_auditor("check", "--no-cache", "--fail-on", "info", str(train), cwd=tmp_path, env=env)
    assert checked.returncode == 1 and "TRN203" in checked.stdout  # the check itself is unchanged
    if not HAS_TORCH:
        pytest.skip("auditor run needs torch (the runtime extra); the check above held")
    ran = run_auditor("run", str(script), cwd=tmp_path, env=env)
    assert ran.returncode == 0 and "collector True" in ran.stdout  # a user's script keeps it
    assert log.read_text().splitlines() == ["check False", "run True"]
