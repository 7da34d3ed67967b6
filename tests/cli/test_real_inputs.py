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
    # BUGGY's TRN203 is an info: --fail-on info makes the second run's status show its findings.
    first = run_auditor("check", "--fail-on", "info", "a.py", "later", cwd=tmp_path)
    assert first.returncode == 1 and "later: error" in first.stderr
    (tmp_path / "later").mkdir()
    second = run_auditor("check", "--fail-on", "info", "a.py", "later", cwd=tmp_path)
    assert second.returncode == 1 and second.stderr == "" and "could not be checked" not in second.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_named_is_skipped_with_a_message_never_read(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    os.mkfifo(tmp_path / "pipe.py")  # nobody writes it: reading it would block forever
    proc = run_auditor("check", "a.py", "pipe.py", os.devnull, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "a.py:3:14: TRN203" in proc.stdout
    assert proc.stderr.splitlines() == ["pipe.py: error: not a regular file (a FIFO): skipped",
                                        f"{os.devnull}: error: not a regular file (a device): skipped"]
    # A walk passes it by silently (--fail-on info: BUGGY's info TRN203 alone gives the 1).
    walked = run_auditor("check", "--fail-on", "info", ".", cwd=tmp_path, timeout=60)
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


# --- size: generated code and data files are skipped with a notice ------------------------

def test_a_large_data_file_is_skipped_with_one_notice_and_the_rest_is_checked(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    (tmp_path / "data.py").write_text("import torch\nx = [" + "1.0, " * 130_000 + "]\n", encoding="utf-8")  # 650 kB
    proc = run_auditor("check", "--no-cache", "--fail-on", "info", ".", cwd=tmp_path, timeout=120)  # TRN203: info
    assert proc.returncode == 1 and "a.py:3:14: TRN203" in proc.stdout and "1 file checked" in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("data.py: notice: skipped: 0.7 MB, over the size limit of 0.5 MB")
    clean = run_auditor("check", "--no-cache", "--fail-on", "info", "data.py", cwd=tmp_path, timeout=120)
    assert clean.returncode == 0  # a notice is not a failure: a pre-commit hook does not stall on it


def test_dense_code_is_measured_by_tokens_too(tmp_path):
    # 300 kB under the byte limit, but 300,000 tokens: libcst would need about 700 MB.
    (tmp_path / "dense.py").write_text("import torch\nx = [" + "1," * 150_000 + "]\n", encoding="utf-8")
    proc = run_auditor("check", "--no-cache", "dense.py", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and "0 files checked" in proc.stdout
    assert proc.stderr.startswith("dense.py: notice: skipped: about 300,006 tokens, over the limit of 125,000")


def test_the_size_limit_from_the_flag_and_the_configuration(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    assert run_auditor("check", "--no-cache", "--max-file-size", "50", "a.py", cwd=tmp_path).stderr.startswith(
        "a.py: notice: skipped: 0.1 kB, over the size limit of 0.1 kB")
    write(tmp_path, "pyproject.toml", '[tool.auditor]\nmax-file-size = "60B"\n')
    # BUGGY's TRN203 is an info: --fail-on info makes a status of 0 mean the file was skipped.
    configured = run_auditor("check", "--fail-on", "info", "a.py", cwd=tmp_path)
    assert configured.returncode == 0 and "notice: skipped" in configured.stderr
    again = run_auditor("check", "--fail-on", "info", "a.py", cwd=tmp_path)  # the cache must not swallow the notice
    assert again.returncode == 0 and "notice: skipped" in again.stderr
    unlimited = run_auditor("check", "--fail-on", "info", "--max-file-size", "0", "a.py",
                            cwd=tmp_path)  # the flag wins, cached or not
    assert unlimited.returncode == 1 and "TRN203" in unlimited.stdout and unlimited.stderr == ""
    write(tmp_path, "pyproject.toml", '[tool.auditor]\nmax-file-size = "big"\n')
    bad = run_auditor("check", "a.py", cwd=tmp_path)
    assert bad.returncode == 2 and "max-file-size" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert run_auditor("check", "--max-file-size", "-3", "a.py", cwd=tmp_path).returncode == 2


def test_a_notebook_is_measured_by_its_code_not_its_outputs(tmp_path):
    document = json.loads(notebook(IMPORTS, SHUFFLED))
    document["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                        "data": {"image/png": "iVBORw0KGgo" * 100_000}}]  # 1.1 MB of image
    (tmp_path / "big_outputs.ipynb").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "big_code.ipynb").write_text(notebook(IMPORTS, "x = [" + "1.0, " * 120_000 + "]\n"), encoding="utf-8")
    proc = run_auditor("check", "--no-cache", "big_outputs.ipynb", "big_code.ipynb", cwd=tmp_path, timeout=120)
    assert "big_outputs.ipynb:cell 2:1:14: TRN203" in proc.stdout
    assert proc.stderr.startswith("big_code.ipynb: notice: skipped: 0.6 MB of code, over the size limit")


# --- Markdown: fenced Python blocks, findings at the .md line ---------------------------------

TUTORIAL = """\
# Training

Prose with `DataLoader(val_ds, shuffle=True)` inline: not code.

```python
import torch
from torch.utils.data import DataLoader
```

```{.python .input  n=2}
%matplotlib inline
val_loader = DataLoader(val_ds, shuffle=True)
```

```bash
python train.py --shuffle=True
```

1. In a list:

   ```py
   test_loader = DataLoader(test_ds, shuffle=True)
   ```

```text
val_loader = DataLoader(val_ds, shuffle=True)
```

```python
def broken(:
```

````python
state = torch.load("m.pt")  # noqa: TRN602
fence = '''
```
'''  # a shorter fence does not close the block
````
"""


def test_markdown_named_is_checked_at_the_md_lines(tmp_path):
    write(tmp_path, "docs/tutorial.md", TUTORIAL)
    # TRN602 is opt-in: selected, so the noqa on its line is what keeps it out.
    report, proc = check_json("--no-cache", "--extend-select", "TRN602", "docs/tutorial.md", cwd=tmp_path)
    found = [(f["code"], f["line"], f["column"]) for f in report["findings"]]
    assert found[:2] == [("TRN203", 12, 14), ("TRN203", 22, 18)]  # the list item's block: its own column
    assert found[2][:2] == ("TRN000", 30)  # the broken block alone; the others are checked
    assert len(found) == 3  # prose, bash and text blocks are not Python; the noqa holds


def test_markdown_in_a_walk_only_when_configured(tmp_path):
    write(tmp_path, "docs/tutorial.md", TUTORIAL)
    write(tmp_path, "README.md", "```python\nimport torch\nx = torch.load('a.pt')\n```\n")
    assert run_auditor("check", "--no-cache", ".", cwd=tmp_path).returncode == 0  # default: not walked
    # TRN602 is opt-in: selected here, so README.md's torch.load is reported once README.md is walked.
    flagged = run_auditor("check", "--no-cache", "--extend-select", "TRN602", "--include-markdown", ".", cwd=tmp_path)
    assert flagged.returncode == 1 and "README.md:3:5: TRN602" in flagged.stdout
    assert "docs/tutorial.md:12:14: TRN203" in flagged.stdout.replace(os.sep, "/")
    write(tmp_path, "pyproject.toml", "[tool.auditor]\ninclude-markdown = true\n")
    configured = run_auditor("check", "--extend-select", "TRN602", ".", cwd=tmp_path)
    assert configured.returncode == 1 and "README.md:3:5: TRN602" in configured.stdout
    assert run_auditor("check", "--no-include-markdown", ".", cwd=tmp_path).returncode == 0


def test_fix_never_edits_markdown_and_says_so(tmp_path):
    path = write(tmp_path, "docs/tutorial.md", TUTORIAL)
    before = path.read_bytes()
    fixed = run_auditor("check", "--no-cache", "--fix", "docs/tutorial.md", cwd=tmp_path)
    assert path.read_bytes() == before
    assert fixed.returncode == 1 and "not applied: auditor does not edit Markdown" in fixed.stderr
    diff = run_auditor("check", "--no-cache", "--diff", "docs/tutorial.md", cwd=tmp_path)
    assert diff.stdout == "" and "not applied" in diff.stderr and path.read_bytes() == before
