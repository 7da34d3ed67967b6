"""Which pyproject.toml configures a run: the nearest one with a [tool.auditor] table.

Kept apart from auditor/config.py (which needs tomllib) so that the fast replay can
find the configuration exactly as a full run does without importing a TOML parser.
"""

from __future__ import annotations

import os


def _has_auditor_table(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"[tool.auditor" in handle.read()
    except OSError:
        return False


def find_config(paths: list[str]) -> str | None:
    """The nearest pyproject.toml with a [tool.auditor] table above the checked paths."""
    absolute = [os.path.abspath(p) for p in paths] or [os.getcwd()]
    try:
        start = os.path.commonpath(absolute)
    except ValueError:  # paths on different drives
        start = os.getcwd()
    if not os.path.isdir(start):
        start = os.path.dirname(start)
    current = start
    while True:
        candidate = os.path.join(current, "pyproject.toml")
        if os.path.isfile(candidate) and _has_auditor_table(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
