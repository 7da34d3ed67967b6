"""The fast replay (auditor/speed/fast_replay.py): an unchanged `check` is answered before click,
the checker or libcst is imported, and every change that could change the output runs
the check for real. AUDITOR_DEBUG_REPLAY=1 makes the command say whether it replayed."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor.speed.fast_replay import _parse_check
from tests.conftest import auditor_env, blocking_imports, run_auditor, write

SHUFFLED_VAL = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
"""
UNSAFE_LOAD = """
import torch

state = torch.load("ckpt.pt")
"""
DEBUG = "auditor: fast replay: "


@dataclass
class Run:
    replayed: bool
    why: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> tuple[int, str, str]:
        return self.returncode, self.stdout, self.stderr


def _split(proc_returncode: int, stdout: str, stderr: str) -> Run:
    lines = stderr.splitlines(keepends=True)
    debug = [line for line in lines if line.startswith(DEBUG)]
    assert len(debug) == 1, stderr
    rest = "".join(line for line in lines if not line.startswith(DEBUG))
    verdict = debug[0][len(DEBUG):].strip()
    return Run(verdict.startswith("hit"), verdict, proc_returncode, stdout, rest)


def check(*args: str, cwd: Path, env: dict | None = None) -> Run:
    proc = run_auditor("check", *args, cwd=cwd, env={"AUDITOR_DEBUG_REPLAY": "1", **(env or {})})
    return _split(proc.returncode, proc.stdout, proc.stderr)


def recorded(*args: str, cwd: Path, env: dict | None = None) -> Run:
    """Run twice; the second run must replay the first exactly."""
    first = check(*args, cwd=cwd, env=env)
    second = check(*args, cwd=cwd, env=env)
    assert second.replayed, second.why
    assert second.output == first.output
    return second


def _blocking(project: Path) -> dict:
    """An environment in which importing click, the checker, libcst or the rules fails."""
    return blocking_imports(project, "click", "libcst", "rules", "auditor.cli", "auditor.checker",
                            "auditor.config")


def test_an_unchanged_run_replays_its_output_and_status_without_click(project):
    write(project, "a.py", SHUFFLED_VAL)
    (project / "bad.py").write_bytes(b"import torch\n\xff\n")
    first = check(".", cwd=project)
    assert not first.replayed
    assert first.returncode == 1 and "TRN203" in first.stdout and "bad.py: error" in first.stderr
    blocked = check(".", cwd=project, env=_blocking(project))
    assert blocked.replayed, blocked.why
    assert blocked.output == first.output
    # and what it replays is what a check without any cache prints
    uncached = check(".", "--no-cache", cwd=project)
    assert not uncached.replayed and uncached.output == first.output


def test_the_real_run_is_what_a_blocked_environment_breaks(project):
    """The test above proves something: without a ticket the same environment fails."""
    write(project, "a.py", SHUFFLED_VAL)
    run = check(".", cwd=project, env=_blocking(project))
    assert not run.replayed and run.returncode != 0 and "blocked in this test" in run.stderr


def _edit(project: Path) -> None:
    write(project, "a.py", SHUFFLED_VAL.replace("shuffle=True", "shuffle=False"))


def _add_file(project: Path) -> None:
    write(project, "b.py", SHUFFLED_VAL)


def _add_file_in_existing_subdirectory(project: Path) -> None:
    write(project, "pkg/new.py", SHUFFLED_VAL)


def _add_file_in_new_subdirectory(project: Path) -> None:
    write(project, "pkg/deeper/new.py", SHUFFLED_VAL)


def _delete_file(project: Path) -> None:
    (project / "a.py").unlink()


def _rename_file(project: Path) -> None:
    (project / "a.py").rename(project / "renamed.py")


def _nearer_config(project: Path) -> None:
    write(project, "pyproject.toml", """
        [tool.auditor]
        ignore = ["TRN203"]
        """)


def _edit_config(project: Path) -> None:
    write(project.parent, "pyproject.toml", """
        [tool.auditor]
        ignore = ["TRN203"]
        """)


CHANGES = {
    "edit a checked file": (_edit, lambda out: "a.py" not in out),
    "add a file": (_add_file, lambda out: "b.py:4" in out),
    "add a file in a subdirectory": (_add_file_in_existing_subdirectory, lambda out: "new.py:4" in out),
    "add a file in a new subdirectory": (_add_file_in_new_subdirectory, lambda out: "new.py:4" in out),
    "delete a file": (_delete_file, lambda out: "a.py" not in out),
    "rename a file": (_rename_file, lambda out: "renamed.py:4" in out and "a.py" not in out),
    "create a nearer configuration": (_nearer_config, lambda out: "TRN203" not in out),
    "edit the configuration": (_edit_config, lambda out: "TRN203" not in out),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_to_the_tree_or_configuration_runs_the_check_again(tmp_path, name):
    project = tmp_path / "project"
    write(tmp_path, "pyproject.toml", """
        [tool.auditor]
        select = ["TRN2"]
        """)
    write(project, "a.py", SHUFFLED_VAL)
    write(project, "pkg/helper.py", "import torch\n")
    before = recorded("-j", "1", ".", cwd=project)
    assert "a.py:4" in before.stdout
    change, reflected = CHANGES[name]
    change(project)
    after = check("-j", "1", ".", cwd=project)
    assert not after.replayed
    assert reflected(after.stdout), after.stdout
    assert check("-j", "1", ".", cwd=project).output == after.output  # and that state replays in turn


def test_files_that_discovery_never_counts_do_not_stop_the_replay(project):
    write(project, "a.py", SHUFFLED_VAL)
    recorded(".", cwd=project)
    write(project, "README.md", "notes\n")
    write(project, "build/generated.py", SHUFFLED_VAL)  # excluded by default
    write(project, "__pycache__/a.cpython-311.pyc", "")
    write(project, "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.auditor]: not a configuration
    again = check(".", cwd=project)
    assert again.replayed, again.why
    write(project, "pkg/__init__.py", "")  # a new directory that counts
    assert not check(".", cwd=project).replayed


def test_a_directory_excluded_by_a_user_pattern_appearing_later_misses_once(project):
    """Only the patterns without a glob are known to the replay; anything else runs for real."""
    write(project, "a.py", SHUFFLED_VAL)
    recorded("--extend-exclude", "gen*", ".", cwd=project)
    write(project, "generated/b.py", SHUFFLED_VAL)
    missed = check("--extend-exclude", "gen*", ".", cwd=project)
    assert not missed.replayed and "b.py" not in missed.stdout
    assert check("--extend-exclude", "gen*", ".", cwd=project).replayed


@pytest.mark.parametrize("args", [("--select", "TRN1"), ("--output-format", "json"), ("--show-source",),
                                  ("--fail-on", "error"), ("a.py",)])
def test_other_arguments_do_not_replay_a_run_recorded_for_different_ones(project, args):
    write(project, "a.py", SHUFFLED_VAL)
    recorded(".", cwd=project)
    other = check(*args, cwd=project)
    assert not other.replayed
    assert other.output == check(*args, "--no-cache", cwd=project).output


def test_the_job_count_shares_a_ticket_and_an_invalid_one_is_left_to_click(project):
    write(project, "a.py", SHUFFLED_VAL)
    one = recorded("-j1", ".", cwd=project)
    four = check("--jobs", "4", ".", cwd=project)
    assert four.replayed and four.output == one.output
    zero = check("-j0", ".", cwd=project)
    assert not zero.replayed and zero.returncode == 2


def test_another_working_directory_does_not_replay(tmp_path):
    """Same arguments, same file bytes, same configuration: only the directory differs."""
    write(tmp_path, "pyproject.toml", """
        [tool.auditor]
        per-file-ignores = {"x/*" = ["TRN203"]}
        """)
    write(tmp_path, "x/a.py", SHUFFLED_VAL)
    write(tmp_path, "y/a.py", SHUFFLED_VAL)
    # TRN203 is an info finding: --fail-on info makes it fail the run where it is not ignored.
    in_x = recorded("--fail-on", "info", "a.py", cwd=tmp_path / "x")
    assert in_x.returncode == 0 and "TRN203" not in in_x.stdout
    in_y = check("--fail-on", "info", "a.py", cwd=tmp_path / "y")
    assert not in_y.replayed and in_y.returncode == 1 and "TRN203" in in_y.stdout


def _on_terminal(project: Path, env: dict) -> Run:
    """`check .` with stdout on a pseudo-terminal (colour by default)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "auditor", "check", "."], cwd=project, stdout=follower,
                                stderr=subprocess.PIPE, text=True,
                                env=auditor_env({"AUDITOR_DEBUG_REPLAY": "1", **env}))
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stderr = proc.stderr.read()
        proc.wait(timeout=300)
    finally:
        os.close(leader)
    return _split(proc.returncode, b"".join(chunks).decode().replace("\r\n", "\n"), stderr)


def test_no_color_and_a_terminal_are_part_of_what_is_replayed(project):
    write(project, "a.py", SHUFFLED_VAL)
    colored = _on_terminal(project, {})
    assert "\x1b[" in colored.stdout
    replayed = _on_terminal(project, {})
    assert replayed.replayed and replayed.output == colored.output
    plain = _on_terminal(project, {"NO_COLOR": "1"})
    assert not plain.replayed and "\x1b[" not in plain.stdout and "TRN203" in plain.stdout
    assert _on_terminal(project, {}).output == colored.output
    piped = check(".", cwd=project)  # no terminal: no colour either
    assert not piped.replayed and "\x1b[" not in piped.stdout


@pytest.mark.parametrize("args", [("--no-cache",), ("--fix", "--unsafe-fixes"), ("--diff",), ("-o", "report.txt"),
                                  ("--write-baseline", "base.json"), ("--version",), ("--help",)])
def test_commands_that_write_or_skip_the_cache_never_replay(project, args):
    write(project, "a.py", UNSAFE_LOAD)
    # TRN602 (unsafe-torch-load) is opt-in: select it so that --fix has its fix to apply.
    recorded("--extend-select", "TRN602", ".", cwd=project)
    run = check("--extend-select", "TRN602", *args, ".", cwd=project)
    assert not run.replayed and "not a plain check" in run.why
    if args[0] == "--fix":  # TRN602's fix is unsafe: a file may hold more than weights
        assert "weights_only=True" in (project / "a.py").read_text()


def test_a_configured_cache_directory_holds_the_tickets(tmp_path):
    write(tmp_path, "pyproject.toml", """
        [tool.auditor]
        cache-dir = "elsewhere/cache"
        """)
    write(tmp_path, "src/a.py", SHUFFLED_VAL)
    recorded("src", cwd=tmp_path)
    assert any(p.name.startswith("ticket-") for p in (tmp_path / "elsewhere" / "cache").iterdir())
    assert not (tmp_path / ".auditor_cache").exists()


def test_a_copied_cache_does_not_replay_in_another_tree(tmp_path):
    write(tmp_path / "one", "a.py", SHUFFLED_VAL)
    recorded(".", cwd=tmp_path / "one")
    write(tmp_path / "two", "a.py", SHUFFLED_VAL.replace("shuffle=True", "shuffle=False"))
    shutil.copytree(tmp_path / "one" / ".auditor_cache", tmp_path / "two" / ".auditor_cache")
    two = check(".", cwd=tmp_path / "two")
    assert not two.replayed and "TRN203" not in two.stdout


@pytest.mark.parametrize("argv, paths, config, keyed", [
    (["check"], [], None, ["check"]),
    (["check", "-q", "--exit-zero", "-j2", "a.py", "b"], ["a.py", "b"], None,
     ["check", "-q", "--exit-zero", "a.py", "b"]),
    (["check", "--select=TRN2", "--ignore", "TRN203", ".", "-j", "4"], ["."], None,
     ["check", "--select=TRN2", "--ignore", "TRN203", "."]),
    (["check", "--jobs=0", "-j", "x", "--jobs", "3"], [], None, ["check", "--jobs=0", "-j", "x"]),  # click rejects 0, x
    (["check", "--config", "cfg.toml", "src", "--config=other.toml"], ["src"], "other.toml",
     ["check", "--config", "cfg.toml", "src", "--config=other.toml"]),
    (["check", "--select", "--fix", "x"], ["x"], None, ["check", "--select", "--fix", "x"]),  # "--fix" is a value
    (["check", "--", "--fix", "-o"], ["--fix", "-o"], None, ["check", "--", "--fix", "-o"]),
    (["check", "--color", "--no-color", "--statistics", "--show-source", "--unsafe-fixes"], [], None,
     ["check", "--color", "--no-color", "--statistics", "--show-source", "--unsafe-fixes"]),
])
def test_the_command_line_is_read_as_click_reads_it(argv, paths, config, keyed):
    assert _parse_check(argv) == (paths, config, keyed)


@pytest.mark.parametrize("argv", [
    [], ["rules"], ["--version"], ["check", "--fix"], ["check", "--diff"], ["check", "--no-cache"],
    ["check", "-o", "out.txt"], ["check", "--output=out.txt"], ["check", "--baseline", "b.json"],
    ["check", "--write-baseline=b.json"], ["check", "-h"], ["check", "--help"], ["check", "--version"],
    ["check", "-qj2"], ["check", "--select"], ["check", "--exit-zero=1"], ["check", "--unknown"],
])
def test_anything_else_is_left_to_click(argv):
    assert _parse_check(argv) is None
