"""Feed one hostile input to the real engine and the report formats; say what went wrong."""

from __future__ import annotations

import os
import sys
from typing import Optional

from auditor.engine import EngineOptions, check_files
from auditor.report import Report, render
from rules import ALL_RULES

OPTIONS = EngineOptions(rules=ALL_RULES, jobs=1)
# `auditor check` runs under the interpreter's own recursion limit with check_files()
# about 12 frames deep (15 at prepare(), measured). Hypothesis raises the limit while it
# runs a test, which hid RecursionErrors that users hit: the harness puts it back.
USER_RECURSION_LIMIT = sys.getrecursionlimit()
CLI_DEPTH = 12


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def check_input(directory: str, name: str, data: bytes) -> Optional[str]:
    """None if the engine coped; else a one-line description of the failure.

    Coping means: no exception escapes, no rule crashed (TRN999), the file has either
    a result or a one-line error, and every output format renders the report.
    """
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(USER_RECURSION_LIMIT + max(0, _depth() - CLI_DEPTH))
    try:
        [result] = check_files([path], OPTIONS)
        crashes = [f.message for f in result.findings if f.code == "TRN999"]
        if crashes:
            return f"TRN999: {crashes[0]}"
        if result.error is not None and (not result.error.message or "\n" in result.error.message):
            return f"file error is not one line: {result.error.message!r}"
        report = Report(findings=result.findings, file_errors=[result.error] if result.error else [],
                        files_checked=int(result.checked), rules=list(ALL_RULES))
        sources = {path: result.source.text.splitlines()} if result.source and not result.source.is_notebook else {}
        for fmt in ("text", "json", "sarif", "github"):
            render(report, fmt, show_source=True, statistics=True, sources=sources)
    except RecursionError:
        return "uncaught RecursionError"
    except Exception as exc:  # the point of the harness: any escape is a bug
        return f"uncaught {type(exc).__name__}: {exc}"
    finally:
        sys.setrecursionlimit(previous)
    return None
