"""The whole-run memo: an unchanged tree re-checked with the same command replays the
report without importing libcst or the rules; any change runs the check for real."""

from __future__ import annotations

import os

from tests.conftest import REPO_ROOT, blocking_imports, run_auditor, write

SHUFFLED_VAL = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
"""


def _without_libcst(project):
    """An environment in which importing libcst (or the rules) fails."""
    return blocking_imports(project, "libcst", "rules")


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
    # TRN203 is an info finding: every run here uses --fail-on info so that it fails the run.
    during = run_auditor("check", "--fail-on", "info", ".", cwd=project,
                         env=_editing_during_the_check(project, project / "a.py", fixed))
    assert during.returncode == 0 and "TRN203" not in during.stdout  # it read the saved version
    write(project, "a.py", SHUFFLED_VAL)  # back to the bytes the run was keyed on
    again = run_auditor("check", "--fail-on", "info", ".", cwd=project, env=_without_libcst(project))
    # Replaying "no findings" for the shuffled loader would be wrong: it must check for real.
    assert "blocked in this test" in again.stderr
    real = run_auditor("check", "--fail-on", "info", ".", cwd=project)
    assert real.returncode == 1 and "TRN203" in real.stdout


def test_only_the_newest_records_are_kept(project):
    write(project, "a.py", SHUFFLED_VAL)
    selections = ["TRN1", "TRN2", "TRN3", "TRN4", "TRN5", "TRN6", "TRN101", "TRN102", "TRN203", "TRN204"]
    for selection in selections:  # ten command lines: ten memos and ten tickets written
        first = run_auditor("check", ".", "--select", selection, cwd=project)
        assert first.returncode in (0, 1)
    names = os.listdir(project / ".auditor_cache")
    memos = [n for n in names if n.startswith("run-v") and n.endswith(".pickle")]
    tickets = [n for n in names if n.startswith("ticket-v") and n.endswith(".marshal")]
    assert len(memos) == 8 and len(tickets) == 8
    # the newest survive: the last command line still replays
    last = run_auditor("check", ".", "--select", selections[-1], cwd=project, env=_without_libcst(project))
    assert (last.returncode, last.stdout, last.stderr) == (first.returncode, first.stdout, first.stderr)
    oldest = run_auditor("check", ".", "--select", selections[0], cwd=project, env=_without_libcst(project))
    assert "blocked in this test" in oldest.stderr  # its records were pruned: it had to really check


def test_keep_newest_removes_the_oldest_matching_files_only(tmp_path):
    from auditor.atomic import keep_newest

    for index in range(5):
        path = tmp_path / f"rec-{index}.bin"
        path.write_bytes(b"x")
        os.utime(path, ns=(index * 10**9, index * 10**9))
    (tmp_path / "other.bin").write_bytes(b"y")
    os.utime(tmp_path / "other.bin", ns=(0, 0))
    keep_newest(str(tmp_path), "rec-", ".bin", 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.bin", "rec-3.bin", "rec-4.bin"]


def _counting_discoveries(project, log):
    """An environment in which every walk of the request's paths adds a line to `log`."""
    hook = project.parent / f"{project.name}-counter"
    write(hook, "sitecustomize.py", f"""
        import auditor.files

        real = auditor.files.discover

        def discover(*args, **kwargs):
            with open({str(log)!r}, "a", encoding="utf-8") as handle:
                handle.write("walk\\n")
            return real(*args, **kwargs)

        auditor.files.discover = discover
        """)
    return {"PYTHONPATH": f"{hook}{os.pathsep}{REPO_ROOT}"}


def test_a_recorded_run_walks_the_paths_once_for_its_key_and_once_for_its_ticket(project):
    write(project, "a.py", SHUFFLED_VAL)
    log = project.parent / "walks.log"
    # TRN203 is an info finding: --fail-on info makes it fail the run.
    first = run_auditor("check", "--fail-on", "info", ".", cwd=project, env=_counting_discoveries(project, log))
    assert first.returncode == 1 and "TRN203" in first.stdout
    # The check itself reuses the files the memo's key was computed over.
    assert log.read_text().splitlines() == ["walk", "walk"]
    log.unlink()
    run_auditor("check", "--fail-on", "info", ".", "--no-cache", cwd=project, env=_counting_discoveries(project, log))
    assert log.read_text().splitlines() == ["walk"]
