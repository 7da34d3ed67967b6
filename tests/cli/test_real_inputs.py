"""Inputs real repositories carry (issue 18), through the real `auditor check` on real files:
notebooks with `%` continuation lines and broken cells, indentation mixing tabs and spaces."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import check_json, run_auditor, write

IMPORTS = "import torch\nfrom torch.utils.data import DataLoader\n"
SHUFFLED = "val_loader = DataLoader(val_ds, shuffle=True)\n"


def notebook(*cells: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": text.splitlines(keepends=True)} for text in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }, indent=1)


def codes(report: dict) -> list[tuple]:
    return [(f["code"], f.get("cell"), f["line"], f["column"]) for f in report["findings"]]


# --- notebooks: a `%` that continues a statement is Python, not a magic ---------------

def test_a_percent_continuation_line_is_python_not_a_magic(tmp_path):
    write(tmp_path, "nb.ipynb", notebook(
        "%matplotlib inline\n" + IMPORTS,
        "for epoch in range(3):\n"
        "    print('epoch %d' \\\n"
        "    % (epoch,))\n"
        "    print('loss %.3f'\n"
        "          % (0.5,))\n"
        "    doc = '''\n"
        "%not a magic either\n"
        "'''\n",
        SHUFFLED,
    ))
    report, _ = check_json("--no-cache", str(tmp_path / "nb.ipynb"))
    assert codes(report) == [("TRN203", 3, 1, 14)]  # no TRN000: the cell parses


def test_a_real_magic_is_still_skipped_also_after_a_continued_magic(tmp_path):
    write(tmp_path, "nb.ipynb", notebook(
        IMPORTS + "%pip install \\\n    torchvision\n!ls\nx = %env HOME\n" + SHUFFLED,
    ))
    report, _ = check_json("--no-cache", str(tmp_path / "nb.ipynb"))
    assert codes(report) == [("TRN203", 1, 7, 14)]


def test_a_broken_cell_is_reported_and_the_other_cells_are_still_checked(tmp_path):
    write(tmp_path, "nb.ipynb", notebook(IMPORTS, "def broken(:\n    pass\n", SHUFFLED))
    report, proc = check_json("--no-cache", str(tmp_path / "nb.ipynb"))
    found = codes(report)
    assert found[0][:3] == ("TRN000", 2, 1) and found[1:] == [("TRN203", 3, 1, 14)]
    assert report["summary"]["files"] == 1
    text = run_auditor("check", "--no-cache", str(tmp_path / "nb.ipynb"))
    assert "nb.ipynb:cell 2:1:" in text.stdout and "nb.ipynb:cell 3:1:14: TRN203" in text.stdout


def test_a_notebook_whose_cells_all_parse_has_no_syntax_finding(tmp_path):
    # The look-alike: an unclosed bracket across cells would not parse when joined, but
    # each cell is complete here; nothing is blanked, nothing reported.
    write(tmp_path, "nb.ipynb", notebook(IMPORTS, "loader = DataLoader(\n    val_ds,\n    shuffle=False)\n"))
    report, proc = check_json("--no-cache", str(tmp_path / "nb.ipynb"))
    assert report["findings"] == [] and proc.returncode == 0


def test_fix_in_a_notebook_with_a_broken_cell_keeps_the_broken_cell(tmp_path):
    path = write(tmp_path, "nb.ipynb", notebook(IMPORTS, "def broken(:\n    pass\n", SHUFFLED))
    run_auditor("check", "--no-cache", "--fix", str(path))
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[1]["source"]) == "def broken(:\n    pass\n"
    assert "shuffle=False" in "".join(cells[2]["source"])


# --- tabs mixed with spaces that CPython accepts and libcst's tokenizer refuses -------

# Indentation CPython accepts (the same nesting with a tab as 8 columns and as 1).
TABS = (IMPORTS + "def evaluate(val_ds, flag):\n"
        "\tif flag:\n"
        "\t        \t" + SHUFFLED +
        "\tif flag:\n"
        "    \t    return (1,\n"
        "\t\t2)\n"
        "\treturn '''\tkept\t'''\n")


def test_tabs_cpython_accepts_are_checked_at_the_right_column(tmp_path):
    compile(TABS, "tabs.py", "exec")  # the premise: valid Python
    write(tmp_path, "tabs.py", TABS)
    report, _ = check_json("--no-cache", str(tmp_path / "tabs.py"))
    assert codes(report) == [("TRN203", None, 5, 24)]


def test_fix_on_a_file_with_tabs_keeps_every_tab(tmp_path):
    path = tmp_path / "tabs.py"
    path.write_text(TABS, encoding="utf-8")
    proc = run_auditor("check", "--no-cache", "--fix", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.read_text(encoding="utf-8") == TABS.replace("shuffle=True", "shuffle=False")


def test_tabs_in_a_notebook_cell(tmp_path):
    write(tmp_path, "nb.ipynb", notebook(IMPORTS, "if True:\n\tif True:\n\t        \t" + SHUFFLED))
    report, _ = check_json("--no-cache", str(tmp_path / "nb.ipynb"))
    assert codes(report) == [("TRN203", 2, 3, 24)]


def test_tabs_cpython_refuses_are_still_a_syntax_error(tmp_path):
    write(tmp_path, "bad.py", IMPORTS + "if x:\n        a = 1\n\tb = 2\n")
    report, _ = check_json("--no-cache", str(tmp_path / "bad.py"))
    assert [f["code"] for f in report["findings"]] == ["TRN000"]
    assert "inconsistent use of tabs" in report["findings"][0]["message"]


# --- paths: one bad path never stops the others ---------------------------------------

BUGGY = IMPORTS + SHUFFLED


@contextlib.contextmanager
def read_only_directory(path):
    """A directory nobody can create files in: chmod for a user, `chattr +i` for root
    (whom permission bits do not stop); skips where neither holds."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        undo = lambda: path.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(path)], check=True)  # noqa: E731
    else:
        pytest.skip("cannot make a read-only directory here")
    try:
        probe = path / ".probe"
        try:
            probe.write_text("")
            probe.unlink()
            pytest.skip("the directory stayed writable")
        except OSError:
            pass
        yield path
    finally:
        undo()


def test_a_missing_path_among_others_is_one_line_and_the_rest_is_checked(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    proc = run_auditor("check", "--no-cache", "a.py", "nope.py", "gone/", cwd=tmp_path)
    assert proc.returncode == 1
    assert "a.py:3:14: TRN203" in proc.stdout and "1 file checked; 2 files could not be checked" in proc.stdout
    assert proc.stderr.splitlines() == ["nope.py: error: no such file or directory",
                                        "gone/: error: no such file or directory"]
    only_missing = run_auditor("check", "--no-cache", "nope.py", cwd=tmp_path)
    assert only_missing.returncode == 2 and only_missing.stderr.strip() == "auditor: error: path does not exist: nope.py"


def test_a_missing_path_replays_nothing_stale(tmp_path):
    # The run memo must not serve the report of a run where the path was missing.
    write(tmp_path, "a.py", BUGGY)
    first = run_auditor("check", "a.py", "later", cwd=tmp_path)
    assert first.returncode == 1 and "later: error" in first.stderr
    (tmp_path / "later").mkdir()
    second = run_auditor("check", "a.py", "later", cwd=tmp_path)
    assert second.returncode == 1 and second.stderr == "" and "could not be checked" not in second.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_named_is_skipped_with_a_message_never_read(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    os.mkfifo(tmp_path / "pipe.py")  # nobody writes it: reading it would block forever
    proc = run_auditor("check", "a.py", "pipe.py", os.devnull, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "a.py:3:14: TRN203" in proc.stdout
    assert proc.stderr.splitlines() == ["pipe.py: error: not a regular file (a FIFO): skipped",
                                        f"{os.devnull}: error: not a regular file (a device): skipped"]
    walked = run_auditor("check", ".", cwd=tmp_path, timeout=60)  # a walk passes it by silently
    assert walked.returncode == 1 and walked.stderr == ""


def test_output_to_an_unwritable_place_is_exit_2_and_one_line(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    missing_dir = run_auditor("check", "a.py", "-o", str(tmp_path / "no" / "such" / "out.json"), cwd=tmp_path)
    assert missing_dir.returncode == 2 and len(missing_dir.stderr.splitlines()) == 1
    assert missing_dir.stderr.startswith("auditor: error: cannot write ")
    (tmp_path / "ro").mkdir()
    with read_only_directory(tmp_path / "ro"):
        locked = run_auditor("check", "a.py", "-o", "ro/out.json", cwd=tmp_path)
        assert locked.returncode == 2 and locked.stderr.startswith("auditor: error: cannot write ro/out.json")
        assert len(locked.stderr.splitlines()) == 1 and "Traceback" not in locked.stderr


def test_fix_in_a_read_only_directory_is_a_per_file_error(tmp_path):
    write(tmp_path, "ro/a.py", BUGGY)
    write(tmp_path, "rw/b.py", BUGGY)
    with read_only_directory(tmp_path / "ro"):
        proc = run_auditor("check", "--fix", "ro", "rw", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{os.path.join('ro', 'a.py')}: error: cannot write the fixes: ")
    assert "internal error" not in proc.stderr
    assert (tmp_path / "ro/a.py").read_text() == BUGGY  # untouched
    assert "shuffle=False" in (tmp_path / "rw/b.py").read_text()  # the other file is fixed
    assert "fixed 1" in proc.stdout


def test_an_unreadable_file_gets_the_same_error_named_or_walked(tmp_path):
    # Root reads through permission bits: a file whose read fails for anyone stands in.
    write(tmp_path, "a.py", BUGGY)
    if os.geteuid() == 0:
        if not os.path.exists("/proc/self/mem"):
            pytest.skip("no file here that fails to read for root")
        os.symlink("/proc/self/mem", tmp_path / "bad.py")
    else:
        write(tmp_path, "bad.py", BUGGY).chmod(0)
    named = run_auditor("check", "--no-cache", "a.py", "bad.py", cwd=tmp_path)
    walked = run_auditor("check", "--no-cache", ".", cwd=tmp_path)
    assert named.returncode == walked.returncode == 1
    assert named.stderr.startswith("bad.py: error: cannot read file: ")
    assert walked.stderr == named.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root examines every directory")
def test_a_file_in_an_unsearchable_directory_is_a_per_file_error(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    write(tmp_path, "locked/b.py", BUGGY)
    (tmp_path / "locked").chmod(0)
    try:
        proc = run_auditor("check", "--no-cache", "a.py", "locked/b.py", cwd=tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert proc.returncode == 1 and "a.py:3:14: TRN203" in proc.stdout
    assert proc.stderr.startswith("locked/b.py: error: cannot read file: Permission denied")
