"""The row ledger: which samples were fitted on, transformed, split, trained on and evaluated.

Everything here is fingerprints (`rows.py`) and bookkeeping; the verdicts of TRN201,
TRN202, TRN204 and TRN207 are taken at the end of the run, when it is known which data
reached backward() (training) and which never did (evaluation).

Data is identified by what it is, not by the line that used it: a `Source` is one
DataLoader, or tensors passed to a model from one call chain with one data identity
(the tensor they are a view of, the split label the evaluating function was called with).
A source's forwards are counted per model generation (`Use`): k-fold models, trials and
GANs each have their own training rows and evaluations.

A transformer fit's output rows are linked to its input rows, per fit, so a test row
that arrives at the model scaled can be traced back to the raw row a scaler was fitted
on, by that very scaler (a scaler fitted on another fold does not count).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from reference_loop.locate import Where
from reference_loop.script_audit.rows import duplicated

DEPTH = 4  # how many transforms back a row is traced (scaler -> PCA -> ... )
EMPTY = np.zeros(0, dtype=np.uint64)
MAX_CHUNKS = 64


def _union(chunks: list) -> np.ndarray:
    if not chunks:
        return EMPTY
    return np.unique(np.concatenate(chunks))


@dataclass
class FitRecord:
    """One fit of one transformer (a refit is a new record)."""

    label: str
    where: Where
    order: int
    hashes: np.ndarray
    rows: int
    used: bool = False
    outs: list = field(default_factory=list)  # output fingerprints of its transforms
    ins: list = field(default_factory=list)  # ... and the input rows they came from
    _map: Optional[tuple] = None

    def mapping(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted output fingerprints, their input fingerprints)."""
        if self._map is None:
            outs, ins = np.concatenate(self.outs or [EMPTY]), np.concatenate(self.ins or [EMPTY])
            order = np.argsort(outs, kind="stable")
            self._map = (outs[order], ins[order])
        return self._map

    def leaked(self, lineage: np.ndarray) -> np.ndarray:
        """Per row of `lineage`: was the row (or an ancestor) produced by this fit's transform
        from an input row the fit itself had seen?"""
        hit = np.zeros(len(lineage), dtype=bool)
        outs, ins = self.mapping()
        if not len(outs) or not len(lineage):
            return hit
        for level in range(lineage.shape[1]):
            col = lineage[:, level]
            pos = np.minimum(np.searchsorted(outs, col), len(outs) - 1)
            made = (outs[pos] == col) & (col != 0)
            if made.any():
                hit |= made & np.isin(ins[pos], self.hashes)
        return hit


@dataclass
class SplitRecord:
    label: str
    where: Where
    order: int
    parts: list  # list[np.ndarray] of fingerprints, in the order the function returned them
    dups: Optional[np.ndarray] = None  # rows the split array holds more than once
    copies: int = 0  # how many rows of the split array are copies of an earlier row
    whole: int = 0  # rows of the split array


@dataclass
class Source:
    """One data identity that fed models: a DataLoader, or one call chain feeding tensors."""

    serial: int
    label: str
    where: Optional[Where]
    via: str = ""  # ", called from file:line" when built inside a helper
    complete: Optional[np.ndarray] = None  # every row of the dataset, when known
    data_key: Any = None  # the dataset (or data tensor) it draws from: same key, same data
    split_part: Optional[tuple] = None  # (SplitRecord, part index) known by identity
    sampled_forwards: int = 0
    uses: dict = field(default_factory=dict)  # ModelRecord.serial -> Use

    @property
    def trained(self) -> int:
        return sum(u.trained for u in self.uses.values())

    @property
    def evaluated(self) -> int:
        return sum(u.evaluated for u in self.uses.values())

    def use(self, model: Any) -> "Use":
        use = self.uses.get(model.serial)
        if use is None:
            use = self.uses[model.serial] = Use(self, model)
        return use


@dataclass
class Use:
    """One source as seen by one model generation."""

    source: Source
    model: Any  # state.ModelRecord
    trained: int = 0  # forward passes whose output reached backward()
    evaluated: int = 0  # forward passes whose output never did
    eval_steps: list = field(default_factory=list)  # global optimizer steps done before each evaluation pass
    eval_stack: tuple = ()
    # Sampled rows (when the source's rows are not all known), in two halves by forward
    # parity: the share of one half found in the other is the re-draw rate of this data.
    chunks: list = field(default_factory=lambda: [[], []])
    dups: list = field(default_factory=list)  # rows repeated inside one batch: the data repeats itself
    # Windows gathered from one tensor: base serial -> [lowest start, highest end, width, starts of evaluated windows]
    spans: dict = field(default_factory=dict)
    _n: int = 0

    def add(self, hashes: Optional[np.ndarray]) -> None:
        if hashes is None or self.source.complete is not None:
            return
        d = duplicated(hashes)
        if len(d):
            self.dups.append(d)
        half = self.chunks[self._n & 1]
        self._n += 1
        half.append(hashes)
        if len(half) > MAX_CHUNKS:  # keep memory flat on long runs
            half[:] = [_union(half)]

    def add_span(self, base: int, starts: np.ndarray, width: int, evaluating: bool) -> None:
        span = self.spans.get(base)
        if span is None:
            span = self.spans[base] = [int(starts.min()), int(starts.max()) + width, width, []]
        else:
            span[0] = min(span[0], int(starts.min()))
            span[1] = max(span[1], int(starts.max()) + width)
        if evaluating and len(span[3]) < 256:
            span[3].append(starts)

    def halves(self) -> tuple[np.ndarray, np.ndarray]:
        if self.source.complete is not None:
            return self.source.complete, self.source.complete
        return _union(self.chunks[0]), _union(self.chunks[1])

    def rows(self) -> np.ndarray:
        if self.source.complete is not None:
            return self.source.complete
        return _union(self.chunks[0] + self.chunks[1])

    def repeated(self) -> np.ndarray:
        return _union(self.dups)


class Ledger:
    def __init__(self) -> None:
        self._order = 0
        self._fit_of: "weakref.WeakKeyDictionary[Any, FitRecord]" = weakref.WeakKeyDictionary()
        self.fits: list[FitRecord] = []
        self.splits: list[SplitRecord] = []
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self._dups: list[np.ndarray] = []
        self.sources: dict[Any, Source] = {}
        self._serial = 0

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

    def fit(self, est: Any, label: str, where: Where, hashes: np.ndarray, partial: bool = False) -> FitRecord:
        self.note_full(hashes)
        old = self.fit_of(est)
        if partial and old is not None:
            old.hashes = np.union1d(old.hashes, hashes)
            old.rows += len(hashes)
            return old
        record = FitRecord(label, where, self.tick(), np.unique(hashes), len(hashes))
        self.fits.append(record)
        try:
            self._fit_of[est] = record
        except TypeError:
            pass
        return record

    def fit_of(self, est: Any) -> Optional[FitRecord]:
        try:
            return self._fit_of.get(est)
        except TypeError:
            return None

    def transformed(self, est: Any, inputs: Optional[np.ndarray], outputs: Optional[np.ndarray]) -> None:
        record = self.fit_of(est)
        if record is not None:
            record.used = True
        if inputs is not None and outputs is not None and len(inputs) == len(outputs):
            self._pairs.append((outputs, inputs))
            if record is not None:
                record.outs.append(outputs)
                record.ins.append(inputs)
                record._map = None

    def split(self, label: str, where: Where, parts: list, whole: Optional[np.ndarray] = None) -> SplitRecord:
        record = SplitRecord(label, where, self.tick(), parts)
        if whole is not None and len(whole):
            self.note_full(whole)
            record.dups = duplicated(whole)
            record.whole = len(whole)
            record.copies = len(whole) - len(np.unique(whole))
        self.splits.append(record)
        return record

    def source(self, key: Any, label: str, where: Optional[Where]) -> Source:
        src = self.sources.get(key)
        if src is None:
            self._serial += 1
            src = self.sources[key] = Source(self._serial, label, where)
        return src

    # ------------------------------------------------------------------ queries
    def ambiguous(self) -> np.ndarray:
        return _union(self._dups)

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
