"""Render findings in the formats a terminal, a CI or another tool wants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Sequence

from auditor.findings import FileError, Finding

if TYPE_CHECKING:
    from auditor.rule import Rule

FORMATS = ("text", "json", "sarif", "github")
# The formats that print each finding's fix; a check for any other builds none.
FORMATS_WITH_FIXES = frozenset({"json"})


@dataclass
class Report:
    """Everything one command has to say: findings plus files it could not check."""

    findings: list[Finding]
    file_errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    rules: Sequence["Rule"] = ()
    fixed: int = 0
    # Files skipped on purpose (over the size limit): one notice line each on stderr, not errors.
    notices: list[FileError] = field(default_factory=list)

    def summary(self) -> dict:
        by_code: dict[str, int] = {}
        by_severity = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            by_code[finding.code] = by_code.get(finding.code, 0) + 1
            by_severity[finding.severity.label] += 1
        summary = {
            "files": self.files_checked,
            "findings": len(self.findings),
            "file_errors": len(self.file_errors),
            "by_severity": by_severity,
            "by_code": dict(sorted(by_code.items())),
        }
        if self.fixed:
            summary["fixed"] = self.fixed
        return summary


def render(report: Report, fmt: str, *, color: bool = False, show_source: bool = False,
           statistics: bool = False, quiet: bool = False, sources: Optional[dict] = None) -> str:
    """Return the whole output for `fmt` (one of FORMATS) as one string."""
    if fmt == "json":
        from auditor.report.json_format import render_json

        return render_json(report)
    if fmt == "sarif":
        from auditor.report.sarif import render_sarif

        return render_sarif(report)
    if fmt == "github":
        from auditor.report.github import render_github

        return render_github(report)
    from auditor.report.text import render_text

    return render_text(report, color=color, show_source=show_source, statistics=statistics,
                       quiet=quiet, sources=sources or {})
