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


def _editing_during_the_check(project, target, text):
    """An environment in which `target` is rewritten right before the engine reads the files
    (after the run's key was computed from the old bytes): a save during the check."""
    hook = project.parent / f"{project.name}-editor"
    write(hook, "sitecustomize.py", f"""
        import importlib.util
        import sys

        class _EditBeforeCheck:
            def find_spec(self, name, path=None, target=None):
                if name != "auditor.engine":
                    return None
                sys.meta_path.remove(self)
                spec = importlib.util.find_spec(name)
                load = spec.loader.exec_module

                def exec_module(module):
                    load(module)
                    real = module.check_files

                    def check_files(paths, options):
                        with open({str(target)!r}, "w", encoding="utf-8") as handle:
                            handle.write({text!r})
                        return real(paths, options)

                    module.check_files = check_files

                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, _EditBeforeCheck())
        """)
    return {"PYTHONPATH": f"{hook}{os.pathsep}{REPO_ROOT}"}


def test_a_file_saved_during_the_check_records_no_replay(project):
    write(project, "a.py", SHUFFLED_VAL)
    fixed = SHUFFLED_VAL.replace("shuffle=True", "shuffle=False")
    during = run_auditor("check", ".", cwd=project, env=_editing_during_the_check(project, project / "a.py", fixed))
    assert during.returncode == 0 and "TRN203" not in during.stdout  # it read the saved version
    write(project, "a.py", SHUFFLED_VAL)  # back to the bytes the run was keyed on
    again = run_auditor("check", ".", cwd=project, env=_without_libcst(project))
    # Replaying "no findings" for the shuffled loader would be wrong: it must check for real.
    assert "blocked in this test" in again.stderr
    real = run_auditor("check", ".", cwd=project)
    assert real.returncode == 1 and "TRN203" in real.stdout
