"""Baselines through the real command: record, accept, survive unrelated edits, catch new findings."""

from __future__ import annotations

import json

from tests.conftest import check_json, run_auditor, write

LEGACY = """
import torch

state = torch.load("a.pt")
torch.save(model, "model.pt")
other = torch.load("b.pt")
"""


# TRN602 (unsafe-torch-load) is opt-in; these tests record and accept it, so they select it.
OPT_IN = ("--extend-select", "TRN602")


def _codes_lines(report):
    return [(f["path"], f["code"], f["line"]) for f in report["findings"]]


def test_write_then_check_against_baseline(tmp_path):
    write(tmp_path, "src/train.py", LEGACY)
    proc = run_auditor("check", *OPT_IN, "--write-baseline", "auditor-baseline.json", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "recorded 3 findings" in proc.stderr
    document = json.loads((tmp_path / "auditor-baseline.json").read_text())
    assert {(e["path"], e["code"]) for e in document["findings"]} == {("src/train.py", "TRN602"),
                                                                      ("src/train.py", "TRN601")}

    report, proc = check_json(*OPT_IN, "--baseline", "auditor-baseline.json", ".", cwd=tmp_path)
    assert report["findings"] == [] and proc.returncode == 0
    assert "3 finding(s) accepted by the baseline" in proc.stderr

    # Unrelated lines inserted above (and the file checked from another directory): still accepted.
    text = (tmp_path / "src/train.py").read_text()
    (tmp_path / "src/train.py").write_text("# header\n\n\ndef helper():\n    return 1\n\n" + text)
    report, proc = check_json(*OPT_IN, "--baseline", "../auditor-baseline.json", ".", cwd=tmp_path / "src")
    assert report["findings"] == [] and proc.returncode == 0

    # A new finding, including one identical to a recorded one, is reported; the old ones are not.
    with open(tmp_path / "src/train.py", "a") as handle:
        handle.write('again = torch.load("a.pt")\n')
    # TRN602 is a warning: --fail-on warning makes the new finding fail the run.
    report, proc = check_json(*OPT_IN, "--fail-on", "warning", "--baseline", "auditor-baseline.json", ".",
                              cwd=tmp_path)
    assert _codes_lines(report) == [("src/train.py", "TRN602", 12)] and proc.returncode == 1


def test_editing_the_flagged_code_reports_it_again(tmp_path):
    write(tmp_path, "train.py", LEGACY)
    run_auditor("check", *OPT_IN, "--write-baseline", "base.json", ".", cwd=tmp_path)
    text = (tmp_path / "train.py").read_text().replace('torch.load("b.pt")', 'torch.load("c.pt")')
    (tmp_path / "train.py").write_text(text)
    report, _ = check_json(*OPT_IN, "--baseline", "base.json", ".", cwd=tmp_path)
    assert _codes_lines(report) == [("train.py", "TRN602", 5)]


def test_baseline_from_config_and_notebooks(tmp_path):
    write(tmp_path, "pyproject.toml", """
[tool.auditor]
baseline = "ci/baseline.json"
""")
    (tmp_path / "ci").mkdir()
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["import torch\n", "state = torch.load('a.pt')"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    write(tmp_path, "train.py", LEGACY)
    proc = run_auditor("check", *OPT_IN, "--write-baseline", "ci/baseline.json", ".", cwd=tmp_path)
    assert proc.returncode == 0 and "recorded 4 findings" in proc.stderr
    report, proc = check_json(*OPT_IN, ".", cwd=tmp_path)
    assert report["findings"] == [] and proc.returncode == 0
    notebook["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": ["# title"]})
    notebook["cells"][1]["source"].insert(0, "# setup\n")
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    report, _ = check_json(*OPT_IN, ".", cwd=tmp_path)
    assert report["findings"] == []


def test_missing_or_broken_baseline_is_a_usage_error(tmp_path):
    write(tmp_path, "train.py", LEGACY)
    proc = run_auditor("check", "--baseline", "nope.json", ".", cwd=tmp_path)
    assert proc.returncode == 2 and "--write-baseline" in proc.stderr
    (tmp_path / "bad.json").write_text("{not json")
    proc = run_auditor("check", "--baseline", "bad.json", ".", cwd=tmp_path)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
