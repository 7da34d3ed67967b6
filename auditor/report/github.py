"""GitHub Actions workflow commands: annotations on the pull request's diff."""

from __future__ import annotations

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report) -> str:
    lines = []
    for f in report.findings:
        where = f"cell {f.cell}, " if f.cell is not None else ""
        props = ",".join([
            f"file={_escape_property(f.path)}",
            f"line={f.line}",
            f"col={f.column}",
            f"endLine={f.end_line}",
            f"endColumn={f.end_column}",
            f"title={_escape_property(f'{f.code} {f.name}')}",
        ])
        lines.append(f"::{LEVELS[f.severity.label]} {props}::{_escape_data(where + f.code + ' ' + f.message)}")
    for error in report.file_errors:
        lines.append(f"::error file={_escape_property(error.path)},title=unreadable file::{_escape_data(error.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
