"""SARIF 2.1.0, the format GitHub code scanning ingests."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from urllib.parse import quote

from auditor import __version__
from auditor.docs_gen import heading_anchor
from auditor.report.notebook_lines import raw_region

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
HOMEPAGE = "https://github.com/training-auditor/training-auditor"


def _rule_descriptor(rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": textwrap.dedent(rule.what or rule.summary).strip()},
        "help": {"text": rule.docs(), "markdown": rule.docs()},
        "helpUri": f"{HOMEPAGE}/blob/main/docs/rules.md#{heading_anchor(rule)}",
        "defaultConfiguration": {"level": LEVELS[rule.severity.label]},
        "properties": {"tags": [rule.kind], "precision": "high"},
    }


def _location(path: str) -> dict:
    """An artifactLocation: relative paths against %SRCROOT% (the working directory),
    percent-encoded as RFC 3986 wants (a space is %20); absolute ones as file URIs."""
    if os.path.isabs(path):
        return {"uri": Path(os.path.normpath(path)).as_uri()}
    relative = path.replace(os.sep, "/")
    while relative.startswith("./"):
        relative = relative[2:]
    return {"uri": quote(relative, safe="/"), "uriBaseId": "%SRCROOT%"}


def _root_uri() -> str:
    """The working directory as a file URI ending in "/", as a base URI must."""
    return Path(os.getcwd()).as_uri().rstrip("/") + "/"


def render_sarif(report) -> str:
    rules = sorted(report.rules, key=lambda r: r.code)
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    notebooks: dict = {}  # path -> its raw text, read once (notebook findings only)
    for f in report.findings:
        # A notebook finding at the line of the raw .ipynb, which is what SARIF viewers show.
        line, column, end_line, end_column = raw_region(f, notebooks)
        result = {
            "ruleId": f.code,
            "level": LEVELS[f.severity.label],
            "message": {"text": f.message if f.cell is None else f"cell {f.cell}, line {f.line}: {f.message}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": _location(f.path),
                    "region": {
                        "startLine": line,
                        "startColumn": column,
                        "endLine": end_line,
                        "endColumn": end_column,
                    },
                }
            }],
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        if f.cell is not None:
            result["properties"] = {"cell": f.cell, "cellLine": f.line, "cellColumn": f.column}
        if f.fingerprint:
            result["partialFingerprints"] = {"auditorFingerprint/v1": f.fingerprint}
        results.append(result)
    notifications = [
        {"level": "error", "message": {"text": e.message},
         "locations": [{"physicalLocation": {"artifactLocation": _location(e.path)}}]}
        for e in report.file_errors
    ]
    run = {
        "tool": {"driver": {
            "name": "training-auditor",
            "informationUri": HOMEPAGE,
            "version": __version__,
            "semanticVersion": __version__,
            "rules": [_rule_descriptor(r) for r in rules],
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": _root_uri()}},
    }
    run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notifications}]
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"
