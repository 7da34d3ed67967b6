"""Shared helpers for engine-level tests: a small project on disk and an in-process check."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Optional

import libcst

import auditor.engine as engine
from auditor.cache import Cache
from auditor.engine import EngineOptions, check_files
from rules import ALL_RULES

TRAIN = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=64, shuffle=True)
"""
PLAIN = """
def add(a, b):
    return a + b
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def notebook(root: Path, name: str, cells: list[str]) -> Path:
    data = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = root / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def files_of(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.suffix in (".py", ".ipynb") and ".auditor_cache" not in p.parts)


def run(paths: list[str], jobs: int = 1, cache: Optional[Cache] = None, prefilter: bool = True,
        fixes: bool = True):
    return check_files(paths, EngineOptions(rules=ALL_RULES, jobs=jobs, cache=cache, prefilter=prefilter,
                                            fixes=fixes))


def flat(results) -> list[tuple]:
    """Results as plain data, comparable across runs and processes."""
    out = []
    for r in results:
        out.append((r.path, r.checked, r.error.message if r.error else None,
                    tuple(sorted((f.code, f.line, f.column, f.end_line, f.end_column, f.cell, f.message)
                                 for f in r.findings))))
    return out


class ParseCounter:
    """Counts libcst parses done by the engine in this process.

    The engine parses through auditor.speed.parsing (which calls libcst's native parser
    directly) and, for files CPython refuses, through libcst's validating entry point;
    a parse that falls back from the first to the second counts once.
    """

    def __init__(self, monkeypatch) -> None:
        self.paths: list[str] = []
        inside = [0]

        def counted(real):
            def counting(text, *args, **kwargs):
                if not inside[0]:
                    self.paths.append(text)
                inside[0] += 1
                try:
                    return real(text, *args, **kwargs)
                finally:
                    inside[0] -= 1
            return counting

        monkeypatch.setattr(engine, "parse_module", counted(engine.parse_module))
        monkeypatch.setattr(engine.cst, "parse_module", counted(libcst.parse_module))

    @property
    def count(self) -> int:
        return len(self.paths)
