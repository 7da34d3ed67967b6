"""`# noqa` comments and `# auditor: skip-file`."""

from __future__ import annotations

import re
from typing import Optional

SKIP_FILE = re.compile(r"#\s*auditor:\s*skip-file\b")
NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_\-]+(?:\s*,\s*[A-Za-z0-9_\-]+)*))?",
    re.IGNORECASE,
)


def skips_file(text: str) -> bool:
    return SKIP_FILE.search(text) is not None


def noqa_codes(line: str) -> Optional[set[str]]:
    """None: no noqa on this line; empty set: a bare noqa; else the codes/names listed."""
    match = NOQA.search(line)
    if not match:
        return None
    codes = match.group("codes")
    if not codes:
        return set()
    return {c.strip().upper() if c.strip().upper().startswith("TRN") else c.strip().lower()
            for c in codes.split(",") if c.strip()}


def is_suppressed(lines: list[str], line: int, statement_line: Optional[int], code: str, name: str) -> bool:
    for candidate in {line, statement_line or line}:
        if 1 <= candidate <= len(lines):
            codes = noqa_codes(lines[candidate - 1])
            if codes is not None and (not codes or code in codes or name in codes):
                return True
    return False
