"""Row fingerprints: one 64-bit number per sample, equal when the sample's values are equal.

Why: leakage and overlap are questions about *which samples* went where, and the same
sample travels as a float64 numpy row, a float32 tensor row and a batch row. Rows are
cast to float32 (what training sees), -0.0 folded into 0.0, and hashed with a fixed
multiply-and-sum over their 32-bit words: vectorized, deterministic, and it never
touches numpy's or torch's random state.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

_MASK = (1 << 64) - 1
_multipliers = np.zeros(0, dtype=np.uint64)

# Bounds: a whole dataset is fingerprinted once (up to FULL_ROWS rows, else an evenly
# spaced sample); a batch only on a few evenly spaced rows.
FULL_ROWS = 200_000
MAX_CELLS = 50_000_000


def _splitmix(n: int) -> np.ndarray:
    out, x = [], 0x9E3779B97F4A7C15
    for _ in range(n):
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        out.append((z ^ (z >> 31)) | 1)
    return np.array(out, dtype=np.uint64)


def _mult(width: int) -> np.ndarray:
    global _multipliers
    if len(_multipliers) < width:
        _multipliers = _splitmix(max(width, 2 * len(_multipliers)))
    return _multipliers[:width]


def as_matrix(data: Any) -> Optional[np.ndarray]:
    """A 2-D numeric numpy view of array-like `data` (rows = samples), or None.

    torch tensors must already be on the CPU (callers decide when a copy is worth it).
    One-dimensional data (labels, a single feature) is not fingerprinted: too many
    accidental equalities.
    """
    try:
        if type(data).__module__.startswith("torch"):
            import torch

            if not isinstance(data, torch.Tensor) or data.device.type != "cpu" or data.dim() < 2:
                return None
            data = data.detach()
            if data.dtype not in (torch.float32, torch.float64):
                data = data.float()  # integers, float16/bfloat16: compare as float32
            arr = data.numpy()
        elif hasattr(data, "toarray") or isinstance(data, (str, bytes)):
            return None  # sparse matrices, text
        else:
            arr = np.asarray(data)
    except Exception:
        return None
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.dtype.kind not in "biuf":
        return None
    return arr.reshape(arr.shape[0], -1)


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """k row indices spread over n rows: a deterministic sample."""
    if n <= k:
        return np.arange(n)
    return np.linspace(0, n - 1, k).astype(np.int64)


def hash_rows(matrix: np.ndarray, rows: Optional[np.ndarray] = None) -> np.ndarray:
    """uint64 fingerprint of each row of `matrix` (or of the rows at `rows`)."""
    if rows is not None:
        matrix = matrix[rows]
    m = np.ascontiguousarray(matrix, dtype=np.float32) + np.float32(0.0)  # -0.0 -> 0.0
    words = m.view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = (words * _mult(words.shape[1])).sum(axis=1, dtype=np.uint64)
        h ^= np.uint64(words.shape[1]) * np.uint64(0x9E3779B97F4A7C15)
    return h


def fingerprint(data: Any, limit: int = FULL_ROWS) -> Optional[np.ndarray]:
    """Fingerprints of (at most `limit`, evenly spaced) rows of `data`, in row order."""
    matrix = as_matrix(data)
    if matrix is None:
        return None
    n, width = matrix.shape
    limit = max(1, min(limit, MAX_CELLS // max(width, 1)))
    return hash_rows(matrix, None if n <= limit else evenly_spaced(n, limit))


def sample_fingerprint(data: Any, k: int = 16) -> Optional[np.ndarray]:
    """Fingerprints of k evenly spaced rows of a batch (CPU only)."""
    matrix = as_matrix(data)
    if matrix is None:
        return None
    return hash_rows(matrix, evenly_spaced(matrix.shape[0], k))


def duplicated(hashes: np.ndarray) -> np.ndarray:
    """The fingerprints that occur more than once in `hashes`."""
    values, counts = np.unique(hashes, return_counts=True)
    return values[counts > 1]
