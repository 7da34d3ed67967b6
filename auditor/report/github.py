"""GitHub Actions workflow commands: annotations on the pull request's diff."""

from __future__ import annotations

from auditor.report.notebook_lines import raw_region

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report) -> str:
    lines = []
    notebooks: dict = {}
    for f in report.findings:
        # GitHub shows a notebook's raw JSON in a diff: the annotation goes on that line.
        where = f"cell {f.cell}, line {f.line}: " if f.cell is not None else ""
        line, column, end_line, end_column = raw_region(f, notebooks)
        props = ",".join([
            f"file={_escape_property(f.path)}",
            f"line={line}",
            f"col={column}",
            f"endLine={end_line}",
            f"endColumn={end_column}",
            f"title={_escape_property(f'{f.code} {f.name}')}",
        ])
        lines.append(f"::{LEVELS[f.severity.label]} {props}::{_escape_data(where + f.code + ' ' + f.message)}")
    for error in report.file_errors:
        lines.append(f"::error file={_escape_property(error.path)},title=unreadable file::{_escape_data(error.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
