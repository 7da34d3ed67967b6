"""benchmarks/realcode/safe_fixes.py applies the safe fixes to a manifest's trees (no network).

A tiny repository is committed with git in a temporary directory; its evaluation DataLoader
shuffles (TRN203, whose fix `shuffle=False` is safe), in a script and in a notebook. The real
script runs the real `auditor check --fix` on a copy of the committed tree.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO_ROOT, auditor_env

SCRIPT = REPO_ROOT / "benchmarks" / "realcode" / "safe_fixes.py"
REPO = "someone/tiny"

TRAIN = textwrap.dedent("""\
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    train_ds = TensorDataset(torch.randn(8, 4))
    val_ds = TensorDataset(torch.randn(8, 4))
    train_loader = DataLoader(train_ds, batch_size=4, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=4, shuffle=True)
    """)

CELLS = [
    "%matplotlib inline\nimport torch\nfrom torch.utils.data import DataLoader, TensorDataset\n",
    "test_ds = TensorDataset(torch.randn(8, 4))\ntest_loader = DataLoader(test_ds, batch_size=4, shuffle=True)\n",
]


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _tiny_repo(tmp_path: Path) -> str:
    """Commit the tiny repository as clones/someone+tiny and write its manifest; its commit."""
    where = tmp_path / "clones" / REPO.replace("/", "+")
    where.mkdir(parents=True)
    _git(where, "init", "-q")
    (where / "train.py").write_text(TRAIN)
    cells = [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
             for src in CELLS]
    (where / "demo.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                   "nbformat_minor": 5}))
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "one")
    commit = _git(where, "rev-parse", "HEAD")
    manifest = tmp_path / "manifest"
    manifest.mkdir()
    (manifest / "someone__tiny.jsonl").write_text(json.dumps(
        {"repo": REPO, "commit": commit, "path": "train.py", "line": 7, "rule": "TRN203",
         "label": "bug", "reason": "synthetic", "source": "reading"}) + "\n")
    return commit


def test_reports_the_safe_fixes_and_their_compile_check(tmp_path):
    commit = _tiny_repo(tmp_path)
    auditor = f"{shlex.quote(sys.executable)} -m auditor"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--clones", str(tmp_path / "clones"),
                           "--manifest", str(tmp_path / "manifest"), "--auditor", auditor,
                           "--diffs", str(tmp_path / "diffs"), "--json"],
                          capture_output=True, text=True, env=auditor_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    summary = result["summary"]
    assert summary["trees"] == 1 and summary["files_not_compiling"] == 0
    assert summary["files_changed"] == 2
    assert summary["per_rule"]["TRN203"] == {"applied": 2, "files_changed": 2, "files_not_compiling": 0}
    run = result["runs"][0]
    assert {f["path"] for f in run["files"]} == {"train.py", "demo.ipynb"}
    diff = (tmp_path / "diffs" / f"someone+tiny@{commit[:12]}.diff").read_text()
    assert "-val_loader = DataLoader(val_ds, batch_size=4, shuffle=True)" in diff
    assert "+val_loader = DataLoader(val_ds, batch_size=4, shuffle=False)" in diff
    assert "+test_loader = DataLoader(test_ds, batch_size=4, shuffle=False)" in diff
    assert "+train_loader" not in diff and "-train_loader" not in diff  # training keeps its shuffle
    # The committed tree is untouched: the fixes went to a copy.
    assert "shuffle=True)\n" in (tmp_path / "clones" / "someone+tiny" / "train.py").read_text()


def _module():
    spec = importlib.util.spec_from_file_location("realcode_safe_fixes", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compile_check_blames_only_what_the_fix_broke():
    mod = _module()
    good, broken = b"x = 1\nif x:\n    y = 2\n", b"x = 1\nif x:\ny = 2\n"
    assert mod.file_problems(good, broken, "a.py")  # a fix that breaks the file is caught
    assert mod.file_problems(broken, broken + b"z = 3\n", "a.py") == []  # broken before: not the fix
    assert mod.file_problems(good, good + b"z = 3\n", "a.py") == []

    def notebook(*sources: str) -> bytes:
        return json.dumps({"cells": [{"cell_type": "code", "source": s} for s in sources]}).encode()

    magic = "!pip install torch\nx = 1\n"
    assert mod.file_problems(notebook(magic, "y = 1\n"), notebook(magic, "y = 2\n"), "n.ipynb") == []
    assert mod.file_problems(notebook(magic, "y = 1\n"), notebook(magic, "if y:\ny = 2\n"), "n.ipynb")
    assert mod.file_problems(notebook("y = 1\n"), b"{not json", "n.ipynb")
