"""Inputs real repositories carry (issue 18), through the real `auditor check` on real files:
notebooks with `%` continuation lines and broken cells, indentation mixing tabs and spaces."""

from __future__ import annotations

import json

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
