"""Resumable runs: everything the next epoch depends on, saved at the end of each epoch.

Model, optimizer, GradScaler, scheduler, the epoch, the history and best state, the
early-stopping counter, and every random number generator the loop or the user's
model and data can draw from (Python, numpy, torch on CPU and accelerators, the
training loader's shuffling generator). Restored, the next epoch draws the same numbers
as it would have in an uninterrupted run. Stored with plain types only, so the file
loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import os
import random
from typing import Any, Optional

import numpy as np
import torch

FILENAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the run (one line for the user)."""


def rng_state(loader_generator: Optional[torch.Generator]) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": _tuples_to_lists(random.getstate()),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": loader_generator.get_state() if loader_generator is not None else None,
    }
    return state


def restore_rng(state: dict[str, Any], loader_generator: Optional[torch.Generator]) -> None:
    random.setstate(_lists_to_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if loader_generator is not None and state["loader"] is not None:
        loader_generator.set_state(state["loader"])


def _tuples_to_lists(value: Any) -> Any:
    return [_tuples_to_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _lists_to_tuples(value: Any) -> Any:
    return tuple(_lists_to_tuples(v) for v in value) if isinstance(value, (tuple, list)) else value


def save(out_dir: str, payload: dict[str, Any]) -> str:
    """Write atomically: an interruption while saving leaves the previous checkpoint intact."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, FILENAME)
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load(where: str) -> dict[str, Any]:
    """A run folder (holding checkpoint.pt) or the checkpoint file itself."""
    path = os.path.join(where, FILENAME) if os.path.isdir(where) else where
    if not os.path.isfile(path):
        raise CheckpointError(f"cannot resume: no {FILENAME} in {where} (a run writes one per epoch when given "
                              "an output folder)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot resume from {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
