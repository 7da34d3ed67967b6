"""SARIF, GitHub annotations, and the `rules` / `rule` commands."""

from __future__ import annotations

import json

from tests.conftest import run_auditor, write

BUGGY = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
criterion = nn.CrossEntropyLoss()
loss = criterion(torch.softmax(logits, dim=-1), y)
"""


def test_sarif_is_2_1_0_with_rules_and_located_results(project):
    write(project, "src/train.py", BUGGY)
    proc = run_auditor("check", ".", "--output-format", "sarif", cwd=project)
    assert proc.returncode == 1
    sarif = json.loads(proc.stdout)
    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "training-auditor"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert {"TRN203", "TRN301", "TRN000"} <= set(rule_ids)
    for rule in driver["rules"]:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    levels = {}
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "src/train.py"
        region = location["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])
        levels[result["ruleId"]] = result["level"]
    assert levels == {"TRN203": "note", "TRN301": "error"}  # TRN203 is an info


def test_github_annotations(project):
    write(project, "train.py", BUGGY)
    proc = run_auditor("check", ".", "--output-format", "github", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("::notice file=train.py,line=5,col=14,endLine=5,endColumn=")  # an info
    assert "title=TRN203 shuffled-eval-loader::TRN203 DataLoader over" in lines[0]
    assert lines[1].startswith("::error file=train.py,line=7,")


def test_rules_table_lists_every_rule():
    proc = run_auditor("rules")
    assert proc.returncode == 0
    assert "TRN203  shuffled-eval-loader" in proc.stdout
    listed = json.loads(run_auditor("rules", "--output-format", "json").stdout)
    codes = [r["code"] for r in listed]
    assert codes == sorted(codes) and {"TRN000", "TRN203", "TRN301", "TRN999"} <= set(codes)


def test_rule_docs_by_code_or_name():
    by_code = run_auditor("rule", "TRN301")
    by_name = run_auditor("rule", "softmax-before-cross-entropy")
    assert by_code.returncode == 0 and by_code.stdout == by_name.stdout
    text = by_code.stdout
    for heading in ("# TRN301 softmax-before-cross-entropy (error)", "## What it does", "## Why is this bad?",
                    "## Example", "Use instead:", "```python"):
        assert heading in text, heading
    missing = run_auditor("rule", "TRN777")
    assert missing.returncode == 2 and "unknown rule 'TRN777'" in missing.stderr
