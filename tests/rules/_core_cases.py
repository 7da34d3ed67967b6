"""Many small files (nested paths allowed), one run of the real command, findings by file."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import check_json


def run_cases(directory: Path, cases: dict[str, str], select: str) -> dict[str, list[dict]]:
    for name, source in cases.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    report, _ = check_json("--select", select, "-j", "1", ".", cwd=directory)
    found: dict[str, list[dict]] = {name: [] for name in cases}
    for finding in report["findings"]:
        found.setdefault(Path(finding["path"]).as_posix(), []).append(finding)
    return found


def codes_lines(findings: list[dict]) -> list[tuple[str, int]]:
    return sorted((f["code"], f["line"]) for f in findings)
