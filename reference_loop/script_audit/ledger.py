"""The row ledger: which samples were fitted on, transformed, split, trained on and evaluated.

Everything here is fingerprints (`rows.py`) and bookkeeping; the verdicts of TRN201,
TRN202, TRN204 and TRN207 are taken at the end of the run, when it is known which data
reached backward() (training) and which never did (evaluation).

A transformer's output rows are linked to its input rows, so a test row that arrives at
the model scaled can be traced back to the raw row a scaler was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from reference_loop.locate import Where
from reference_loop.script_audit.rows import duplicated

DEPTH = 4  # how many transforms back a row is traced (scaler -> PCA -> ... )
EMPTY = np.zeros(0, dtype=np.uint64)


@dataclass
class FitRecord:
    label: str
    where: Where
    order: int
    hashes: np.ndarray
    rows: int
    used: bool = False


@dataclass
class SplitRecord:
    label: str
    where: Where
    order: int
    parts: list  # list[np.ndarray] of fingerprints, in the order the function returned them


@dataclass
class Source:
    """Where a model's inputs came from: one DataLoader, or one call chain feeding tensors."""

    label: str
    where: Optional[Where]
    via: str = ""  # ", called from file:line" when built inside a helper
    chunks: list = field(default_factory=list)
    complete: bool = False  # chunks hold every row of the dataset
    trained: int = 0  # forward passes whose output reached backward()
    evaluated: int = 0  # forward passes whose output never did
    eval_steps: list = field(default_factory=list)  # optimizer steps done before each evaluation forward
    eval_stack: tuple = ()
    split_part: Optional[tuple] = None  # (SplitRecord, part index) known by identity
    sampled_forwards: int = 0

    def rows(self) -> np.ndarray:
        if not self.chunks:
            return EMPTY
        return np.unique(np.concatenate(self.chunks))

    def add(self, hashes: Optional[np.ndarray]) -> None:
        if hashes is not None and not self.complete:
            self.chunks.append(hashes)
            if len(self.chunks) > 64:  # keep memory flat on long runs
                self.chunks = [np.unique(np.concatenate(self.chunks))]


class Ledger:
    def __init__(self) -> None:
        self._order = 0
        self.fits: dict[int, FitRecord] = {}
        self.splits: list[SplitRecord] = []
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self._dups: list[np.ndarray] = []
        self.sources: dict[Any, Source] = {}

    @property
    def has_lineage(self) -> bool:
        return bool(self.fits or self.splits)

    def tick(self) -> int:
        self._order += 1
        return self._order

    # ------------------------------------------------------------------ events
    def note_full(self, hashes: np.ndarray) -> None:
        """A whole array was seen: its repeated rows are ambiguous (natural duplicates)."""
        d = duplicated(hashes)
        if len(d):
            self._dups.append(d)

    def fit(self, key: int, label: str, where: Where, hashes: np.ndarray, partial: bool = False) -> FitRecord:
        self.note_full(hashes)
        old = self.fits.get(key)
        if partial and old is not None:
            old.hashes = np.union1d(old.hashes, hashes)
            old.rows += len(hashes)
            return old
        record = FitRecord(label, where, self.tick(), np.unique(hashes), len(hashes))
        self.fits[key] = record
        return record

    def transformed(self, key: int, inputs: Optional[np.ndarray], outputs: Optional[np.ndarray]) -> None:
        record = self.fits.get(key)
        if record is not None:
            record.used = True
        if inputs is not None and outputs is not None and len(inputs) == len(outputs):
            self._pairs.append((outputs, inputs))

    def split(self, label: str, where: Where, parts: list) -> SplitRecord:
        record = SplitRecord(label, where, self.tick(), parts)
        self.splits.append(record)
        return record

    def source(self, key: Any, label: str, where: Optional[Where]) -> Source:
        src = self.sources.get(key)
        if src is None:
            src = self.sources[key] = Source(label, where)
        return src

    # ------------------------------------------------------------------ queries
    def ambiguous(self) -> np.ndarray:
        return np.unique(np.concatenate(self._dups)) if self._dups else EMPTY

    def lineage(self, hashes: np.ndarray) -> np.ndarray:
        """(len(hashes), DEPTH + 1) matrix: each row and its ancestors (0 where none)."""
        out = np.zeros((len(hashes), DEPTH + 1), dtype=np.uint64)
        out[:, 0] = hashes
        if not self._pairs or not len(hashes):
            return out
        keys = np.concatenate([p[0] for p in self._pairs])
        vals = np.concatenate([p[1] for p in self._pairs])
        order = np.argsort(keys, kind="stable")
        keys, vals = keys[order], vals[order]
        current = hashes
        for level in range(1, DEPTH + 1):
            pos = np.searchsorted(keys, current)
            pos = np.minimum(pos, len(keys) - 1)
            found = keys[pos] == current
            parent = np.where(found, vals[pos], np.uint64(0))
            # A transform that returns its input unchanged links a row to itself: stop there.
            parent = np.where(parent == current, np.uint64(0), parent)
            out[:, level] = parent
            if not parent.any():
                break
            current = parent
        return out

    @staticmethod
    def covered(lineage: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Per row: does the row or one of its ancestors occur in `hashes`?"""
        if not len(hashes):
            return np.zeros(len(lineage), dtype=bool)
        return np.isin(lineage, hashes).any(axis=1)
