"""Baselines: adopt the auditor on an existing repository without fixing the past first.

`--write-baseline FILE` records the current findings; `--baseline FILE` (or
`[tool.auditor] baseline = "FILE"`) drops the findings recorded there and reports
the rest. An entry is (path, rule code, fingerprint), where the fingerprint hashes
the flagged code itself with its whitespace collapsed: lines inserted or removed
elsewhere in the file do not change it, editing the flagged code does. Identical
flagged code that occurs several times in one file is matched by count. Paths are
stored relative to the baseline file, so the check may run from any directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from typing import Iterable, Optional

from auditor.atomic import write_atomically
from auditor.files import SourceError, SourceFile, read_source
from auditor.findings import Finding

FORMAT_VERSION = 1
_SPACES = re.compile(r"\s+")


class BaselineError(Exception):
    """A baseline that cannot be read or written: one line, exit status 2."""


def fingerprint(finding: Finding, source: Optional[SourceFile]) -> str:
    text = flagged_text(finding, source) if source is not None else ""
    digest = hashlib.sha256(f"{finding.code}\0{text}".encode("utf-8")).hexdigest()
    return digest[:16]


def flagged_text(finding: Finding, source: SourceFile) -> str:
    """The text between the finding's start and end, whitespace collapsed."""
    lines = source.text.split("\n")
    start_line, end_line = _program_line(source, finding, finding.line), _program_line(source, finding, finding.end_line)
    if not (1 <= start_line <= len(lines)):
        return ""
    end_line = min(max(end_line, start_line), len(lines))
    if start_line == end_line:
        span = lines[start_line - 1][finding.column - 1:max(finding.end_column - 1, finding.column)]
    else:
        span = "\n".join([lines[start_line - 1][finding.column - 1:], *lines[start_line:end_line - 1],
                          lines[end_line - 1][:finding.end_column - 1]])
    return _SPACES.sub(" ", span).strip()


def _program_line(source: SourceFile, finding: Finding, line: int) -> int:
    """Notebook findings count lines per cell; map back to the program the rules saw."""
    if not source.is_notebook or finding.cell is None:
        return line
    for index, (cell, cell_line) in enumerate(source.cell_lines, start=1):
        if cell == finding.cell and cell_line == line:
            return index
    return 0


def add_fingerprints(findings: Iterable[Finding]) -> None:
    """Set `finding.fingerprint` on each finding, reading each file once."""
    sources: dict[str, Optional[SourceFile]] = {}
    for finding in findings:
        if finding.path not in sources:
            try:
                sources[finding.path] = read_source(finding.path)
            except (SourceError, OSError):
                sources[finding.path] = None
        finding.fingerprint = fingerprint(finding, sources[finding.path])


def _key(finding: Finding, directory: str) -> tuple[str, str, str]:
    path = os.path.relpath(os.path.abspath(finding.path), directory).replace(os.sep, "/")
    return path, finding.code, finding.fingerprint or ""


def write_baseline(path: str, findings: list[Finding]) -> int:
    """Record `findings` in `path` (atomically); return how many were recorded."""
    add_fingerprints(findings)
    directory = os.path.dirname(os.path.abspath(path))
    entries = []
    for finding in findings:
        file, code, print_ = _key(finding, directory)
        entries.append({"path": file, "code": code, "name": finding.name, "fingerprint": print_,
                        "line": finding.line, "message": finding.message})
    entries.sort(key=lambda e: (e["path"], e["line"], e["code"]))
    document = {"version": FORMAT_VERSION, "tool": "training-auditor",
                "comment": "Findings accepted when this file was written; `line` and `message` are for "
                           "reading only, entries match by path, code and fingerprint.",
                "findings": entries}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(entries)


def load_baseline(path: str) -> Counter:
    """(path relative to the baseline, code, fingerprint) -> how many findings it accepts."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise BaselineError(f"baseline {path} does not exist (create it with --write-baseline {path})") from None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BaselineError(f"baseline {path} has no list of findings")
    accepted: Counter = Counter()
    for entry in entries:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("path", "code", "fingerprint")):
            raise BaselineError(f"baseline {path} has a malformed entry: {entry!r}")
        accepted[(entry["path"], entry["code"], entry["fingerprint"])] += 1
    return accepted


def filter_baseline(path: str, findings: list[Finding]) -> tuple[list[Finding], int]:
    """The findings not accepted by the baseline at `path`, and how many were accepted."""
    accepted = load_baseline(path)
    add_fingerprints(findings)
    directory = os.path.dirname(os.path.abspath(path))
    kept, matched = [], 0
    for finding in findings:  # in report order: earlier occurrences match first
        key = _key(finding, directory)
        if accepted[key] > 0:
            accepted[key] -= 1
            matched += 1
        else:
            kept.append(finding)
    return kept, matched
