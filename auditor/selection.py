"""Turn --select/--ignore selectors (code, code prefix, name, ALL) into a set of rules."""

from __future__ import annotations

import fnmatch
import os
from typing import Iterable, Optional, Sequence

from auditor.rule import Rule


class SelectionError(ValueError):
    pass


def match_selector(selector: str, rules: Sequence[Rule]) -> list[Rule]:
    """Rules a selector names; raises SelectionError for one that names nothing."""
    token = selector.strip()
    if not token:
        return []
    if token.upper() == "ALL":
        return list(rules)
    upper = token.upper()
    if upper.startswith("TRN"):
        matched = [r for r in rules if r.code.startswith(upper)]
    else:
        matched = [r for r in rules if r.name == token.lower()]
    if not matched:
        raise SelectionError(f"unknown rule selector {selector!r} (use a code such as TRN203, a prefix such as TRN2, or a rule name)")
    return matched


def _expand(selectors: Iterable[str], rules: Sequence[Rule]) -> set[str]:
    codes: set[str] = set()
    for selector in selectors:
        for part in selector.split(","):
            codes.update(r.code for r in match_selector(part, rules))
    return codes


def select_rules(
    rules: Sequence[Rule],
    select: Optional[Iterable[str]] = None,
    extend_select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> list[Rule]:
    """The rules to run: `select` (default: every rule but the opt-in ones) plus
    `extend_select`, minus `ignore`. Selecting an opt-in rule by code, prefix, name or ALL
    runs it."""
    chosen = _expand(select, rules) if select is not None else {r.code for r in rules if r.default}
    chosen |= _expand(extend_select, rules)
    chosen -= _expand(ignore, rules)
    return [r for r in rules if r.code in chosen]


def codes_for(selectors: Iterable[str], rules: Sequence[Rule]) -> set[str]:
    return _expand(selectors, rules)


class PerFileIgnores:
    """`per-file-ignores`: glob -> codes, globs matched against the path relative to the config."""

    def __init__(self, table: dict[str, list[str]], rules: Sequence[Rule], root: str):
        self.entries = [(glob, _expand(codes, rules)) for glob, codes in table.items()]
        self.root = root

    def ignored_codes(self, path: str) -> set[str]:
        if not self.entries:
            return set()
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, self.root).replace(os.sep, "/")
        candidates = {rel, path.replace(os.sep, "/"), os.path.basename(path)}
        codes: set[str] = set()
        for glob, glob_codes in self.entries:
            if any(fnmatch.fnmatch(c, glob) or fnmatch.fnmatch(c, glob.rstrip("/") + "/*") for c in candidates):
                codes |= glob_codes
        return codes
