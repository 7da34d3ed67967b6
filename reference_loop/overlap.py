"""TRN207: the same samples in training and evaluation data, by row hashes and near-duplicates."""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import torch

from reference_loop.locate import Where
from reference_loop.probes import ProbeResult

MAX_EVAL_ROWS = 5000
MAX_TRAIN_ROWS = 50000


def _rows(X: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(X.detach().cpu().reshape(len(X), -1).double().numpy())


def _hashes(rows: np.ndarray) -> set:
    # Normalize -0.0 to 0.0 so bytes compare like numbers.
    return {r.tobytes() for r in rows + 0.0}


def _nearest(queries: torch.Tensor, base: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Distance from each query row to its nearest base row, in chunks to bound memory."""
    out = []
    for start in range(0, len(queries), 256):
        # Exact differences, not the |a|^2 - 2ab + |b|^2 shortcut that loses small distances.
        d = torch.cdist(queries[start:start + 256], base, compute_mode="donot_use_mm_for_euclid_dist")
        if exclude_self:
            idx = torch.arange(start, start + len(d))
            d[torch.arange(len(d)), idx] = float("inf")
        out.append(d.min(1).values)
    return torch.cat(out) if out else torch.empty(0)


def split_overlap(train: torch.Tensor, others: dict[str, torch.Tensor], *, near: float = 1e-3, seed: int = 0,
                  where: Optional[Where] = None) -> ProbeResult:
    """Rows of `others` (e.g. {"validation": X_val, "test": X_test}) that also occur in `train`.

    Exact copies by hashing every row; near-duplicates (a copy with float noise, or a
    re-scaled copy) as rows closer to a training row than `near` times the typical
    distance between neighbouring training rows. Bounded: at most MAX_EVAL_ROWS rows of
    each split against MAX_TRAIN_ROWS training rows for the distance part.
    """
    start = time.perf_counter()
    gen = np.random.default_rng(seed)
    train_rows = _rows(train)
    train_hashes = _hashes(train_rows)
    base = train_rows
    if len(base) > MAX_TRAIN_ROWS:
        base = base[gen.choice(len(base), MAX_TRAIN_ROWS, replace=False)]
    base_t = torch.from_numpy(base).float()
    # Typical spacing of the training data: median distance to the nearest other training row.
    probe = base_t[: min(len(base_t), 2000)]
    spacing = float(_nearest(probe, probe, exclude_self=True).median()) if len(probe) > 1 else 0.0
    threshold = near * spacing
    measured: dict = {"typical_distance": round(spacing, 6), "threshold": threshold}
    parts = []
    total = 0
    for name, X in others.items():
        rows = _rows(X)
        is_exact = np.fromiter((r.tobytes() in train_hashes for r in rows + 0.0), dtype=bool, count=len(rows))
        exact = int(is_exact.sum())
        idx = np.arange(len(rows)) if len(rows) <= MAX_EVAL_ROWS else gen.choice(len(rows), MAX_EVAL_ROWS, replace=False)
        dist = _nearest(torch.from_numpy(rows[idx]).float(), base_t) if len(base_t) and len(idx) else torch.empty(0)
        near_mask = (dist.numpy() <= threshold) & ~is_exact[idx] if threshold > 0 and len(dist) else np.zeros(0, bool)
        close = int(near_mask.sum())
        # Scale the sampled near-duplicate count to the whole split.
        close = int(round(close * len(rows) / max(len(idx), 1)))
        measured[name] = {"rows": len(rows), "identical": exact, "near": close}
        if exact or close:
            parts.append(f"{exact + close} of {len(rows)} {name} rows also occur in the training data "
                         f"({exact} identical, {close} within {threshold:.2g} of a training row)")
            total += exact + close
    seconds = time.perf_counter() - start
    if total:
        message = "; ".join(parts) + (f"; typical distance between neighbouring training rows {spacing:.3g}: "
                                      "metrics on them measure memory, not generalization; split before "
                                      "augmenting and keep duplicates within one split")
        return ProbeResult("TRN207", "fail", message, measured, seconds, where)
    return ProbeResult("TRN207", "pass", f"no training row occurs in {' or '.join(others)} data", measured, seconds, where)
