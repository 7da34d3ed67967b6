"""The JSON contract of RULES.md: {"version", "findings", "summary"}."""

from __future__ import annotations

import json

from auditor import __version__


def render_json(report) -> str:
    payload = {
        "version": __version__,
        "findings": [f.to_dict() for f in report.findings],
        "summary": report.summary(),
        "errors": [e.to_dict() for e in report.file_errors],
    }
    return json.dumps(payload, indent=2) + "\n"
