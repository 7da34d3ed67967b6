"""Round trips through the real command: bad file -> --fix -> compiles -> finding gone -> --fix is a no-op."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import check_json, run_auditor, write


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def fix(directory: Path, select: str, *extra: str):
    proc = run_auditor("check", "--fix", "--select", select, "-j", "1", "--no-color", *extra, ".", cwd=directory)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def round_trip(directory: Path, cases: dict[str, tuple[str, str, str]], unsafe: bool = False) -> None:
    """cases: name -> (code, bad source, expected source after --fix). All files go through one run."""
    for name, (_, before, _) in cases.items():
        write(directory, f"{name}.py", before)
    select = ",".join(sorted({code for code, _, _ in cases.values()}))
    extra = ("--unsafe-fixes",) if unsafe else ()
    fix(directory, select, *extra)
    for name, (code, _, after) in cases.items():
        text = (directory / f"{name}.py").read_text(encoding="utf-8")
        assert text == dedent(after), f"{name}:\n{text}"
        compile(text, name, "exec")
    report, _ = check_json("--select", select, "-j", "1", ".", cwd=directory)
    left = {(Path(f["path"]).stem, f["code"]) for f in report["findings"]}
    for name, (code, _, _) in cases.items():
        assert (name, code) not in left, f"{name}: {code} still reported after --fix"
    before_second = {name: (directory / f"{name}.py").read_bytes() for name in cases}
    fix(directory, select, *extra)
    for name in cases:
        assert (directory / f"{name}.py").read_bytes() == before_second[name], f"{name}: second --fix changed it"
