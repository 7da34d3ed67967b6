"""The whole-run memo: an unchanged tree re-checked with the same command replays the
report without importing libcst or the rules; any change runs the check for real."""

from __future__ import annotations

import os

from tests.conftest import REPO_ROOT, run_auditor, write

SHUFFLED_VAL = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
"""


def _without_libcst(project):
    """An environment in which importing libcst (or the rules) fails."""
    blocker = project.parent / f"{project.name}-blocker"
    write(blocker, "sitecustomize.py", """
        import sys

        class _Blocked:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("libcst", "rules"):
                    raise ImportError(f"{name} is blocked in this test")
                return None

        sys.meta_path.insert(0, _Blocked())
        """)
    return {"PYTHONPATH": f"{blocker}{os.pathsep}{REPO_ROOT}"}


def test_second_identical_run_replays_without_libcst(project):
    write(project, "a.py", SHUFFLED_VAL)
    (project / "bad.py").write_bytes(b"import torch\n\xff\n")
    first = run_auditor("check", ".", cwd=project)
    assert first.returncode == 1 and "TRN203" in first.stdout and "bad.py: error" in first.stderr
    second = run_auditor("check", ".", cwd=project, env=_without_libcst(project))
    assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, first.stderr)


def test_a_changed_file_or_option_runs_the_check_again(project):
    write(project, "a.py", SHUFFLED_VAL)
    run_auditor("check", ".", cwd=project)
    blocked = _without_libcst(project)
    write(project, "a.py", SHUFFLED_VAL.replace("shuffle=True", "shuffle=False"))
    changed = run_auditor("check", ".", cwd=project, env=blocked)
    assert changed.returncode != 0 and "blocked in this test" in changed.stderr  # it had to really check
    fresh = run_auditor("check", ".", cwd=project)
    assert fresh.returncode == 0 and "TRN203" not in fresh.stdout
    as_json = run_auditor("check", ".", "--output-format", "json", cwd=project, env=blocked)
    assert "blocked in this test" in as_json.stderr


def test_no_cache_neither_replays_nor_records(project):
    write(project, "a.py", SHUFFLED_VAL)
    run_auditor("check", ".", "--no-cache", cwd=project)
    assert not (project / ".auditor_cache").exists()
    run_auditor("check", ".", cwd=project)
    again = run_auditor("check", ".", "--no-cache", cwd=project, env=_without_libcst(project))
    assert "blocked in this test" in again.stderr
