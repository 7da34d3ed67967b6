"""Many small files, one run of the real command: keeps rule tests fast on two cores."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import check_json, write


def check_cases(directory: Path, cases: dict[str, str], select: str) -> dict[str, list[dict]]:
    """Write each case to `<name>.py`, check them all at once, return findings by case name."""
    for name, text in cases.items():
        write(directory, f"{name}.py", text)
    report, _ = check_json("--select", select, "-j", "1", ".", cwd=directory)
    found: dict[str, list[dict]] = {name: [] for name in cases}
    for finding in report["findings"]:
        found[Path(finding["path"]).stem].append(finding)
    return found


def codes(findings: list[dict]) -> list[str]:
    return [f["code"] for f in findings]
