"""The benchmark scripts still run end to end (on the bundled examples, peers absent).

They time nothing here: the figures they print are read by people, never asserted on
(these machines are shared and noisy). What is checked is that each script finishes,
measures every tool it names and prints the issue's goals.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT, auditor_env

EXAMPLES = str(REPO_ROOT / "examples")


def _run(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_lint_speed_measures_every_auditor_variant_and_prints_the_goals():
    out = _run("lint_speed.py", EXAMPLES, "--repeat", "1", "--peers", "/nonexistent")
    rows = {line.split("  ")[0] for line in out.splitlines()}
    for tool in ("auditor check -j1 --no-cache", "auditor check -j1 warm cache", "libcst parse only",
                 "auditor's parse only (floor)"):
        assert tool in rows, out
    assert "TorchFix" not in out  # no peers in /nonexistent: nothing claimed about them
    assert "CPU vs bare libcst parse:" in out and "warm vs cold cache, wall:" in out
    assert "one file, wall incl. start-up:" in out
    assert "(exit" not in out  # every measured command exited 0 or 1


def test_growth_prints_one_row_per_size():
    out = _run("growth.py", EXAMPLES, "--sizes", "3,6")
    rows = [line.split() for line in out.splitlines()[2:]]  # after the source line and the header
    assert [row[0] for row in rows] == ["3", "6"] and all(len(row) == 7 for row in rows), out


def test_single_vs_whole_checks_files_whose_names_hold_spaces(tmp_path):
    # Course notebooks and scripts are often named "Part 3 - Training.py": each is one file.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Part 3 - Training.py").write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "criterion = nn.CrossEntropyLoss()\nloss = criterion(F.softmax(model(x), dim=1), y)\n")
    (repo / "plain.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    env_python = f"{sys.executable} -m auditor"
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "single_vs_whole.py"),
                           "--auditor", env_python, str(repo)],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, env=auditor_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 files checked alone (1 with findings), 0 differ" in proc.stdout
