"""Data in: arrays or Datasets, split stratified and seeded, preprocessing fitted on train only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from reference_loop.distributed import Dist, ShardSampler

ArrayPair = tuple[Any, Any]
DataLike = Union[Dataset, ArrayPair]


class DataError(ValueError):
    """Data that cannot be used as given: the message is one line for the user."""


def _as_tensor(a: Any, what: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    try:
        arr = np.asarray(a)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise DataError(f"{what} cannot be read as an array: {exc}") from None
    if arr.dtype == object:
        raise DataError(f"{what} is not numeric (dtype object, shape {arr.shape})")
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_dataset(data: DataLike, what: str = "data") -> Dataset:
    """A torch Dataset as is; `(X, y)` arrays or tensors as a TensorDataset.

    Features become float32; integer targets become int64 class indices (what
    CrossEntropyLoss wants), float targets stay float32 (regression, BCE).
    """
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{what} must be a torch Dataset or an (X, y) pair, not {type(data).__name__}")
    X, y = _as_tensor(data[0], f"{what} X"), _as_tensor(data[1], f"{what} y")
    if X.dim() == 0 or y.dim() == 0 or len(X) != len(y):
        raise DataError(f"{what}: X has shape {tuple(X.shape)} and y has shape {tuple(y.shape)}; "
                        "they need the same number of rows")
    X = X.float() if not X.is_floating_point() or X.dtype == torch.float64 else X
    y = y.long() if not y.is_floating_point() else y.float()
    return TensorDataset(X, y)


def features_of(ds: Dataset, limit: Optional[int] = None) -> torch.Tensor:
    """The input tensor of a dataset (all of it for TensorDatasets, else the first `limit` items)."""
    if isinstance(ds, TensorDataset):
        X = ds.tensors[0]
        return X if limit is None else X[:limit]
    n = len(ds) if limit is None else min(len(ds), limit)  # type: ignore[arg-type]
    return torch.stack([torch.as_tensor(ds[i][0]) for i in range(n)])


def targets_of(ds: Dataset, limit: Optional[int] = None) -> torch.Tensor:
    if isinstance(ds, TensorDataset):
        y = ds.tensors[1]
        return y if limit is None else y[:limit]
    n = len(ds) if limit is None else min(len(ds), limit)  # type: ignore[arg-type]
    return torch.stack([torch.as_tensor(ds[i][1]) for i in range(n)])


def first_batch(ds: Dataset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(n, len(ds))  # type: ignore[arg-type]
    return features_of(ds, n), targets_of(ds, n)


def check_compatible(model: torch.nn.Module, ds: Dataset, device: torch.device,
                     what: str = "training data") -> tuple[Any, torch.Tensor]:
    """One forward on two samples: a shape mismatch fails here with both shapes named.

    Returns the output and the targets (all of an in-memory dataset, the first 1024 of a
    lazy one) for the objective to be chosen from. Under `no_grad`, not `inference_mode`:
    a model that builds a buffer on its first forward keeps it, and an inference tensor
    kept in the model could not be saved for backward once training starts.
    """
    x, _ = first_batch(ds, 2)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(device))
    except RuntimeError as exc:
        expected = _expected_input(model)
        detail = f"; the model's first layer expects {expected}" if expected else ""
        raise DataError(f"{what} has samples of shape {tuple(x.shape[1:])} (batch {tuple(x.shape)}), which "
                        f"the model cannot take{detail} ({str(exc).splitlines()[0]})") from None
    finally:
        model.train(was_training)
    return out, targets_of(ds, None if isinstance(ds, TensorDataset) else 1024)  # bounded for lazy datasets


def _expected_input(model: torch.nn.Module) -> Optional[str]:
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return f"{module.in_features} features (Linear, input shape (N, {module.in_features}))"
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            return f"{module.in_channels} channels ({type(module).__name__})"
        if isinstance(module, torch.nn.Embedding):
            return f"integer indices below {module.num_embeddings} (Embedding)"
    return None


# ----------------------------------------------------------------------------- splits

@dataclass
class Splits:
    """Three (X, y) splits and the preprocessing fitted on the training split alone."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    preprocessor: Any = None


def _duplicate_groups(X: np.ndarray) -> np.ndarray:
    """Group id per row; identical rows share one, so that they land in the same split."""
    flat = np.ascontiguousarray(X.reshape(len(X), -1))
    _, inverse = np.unique(flat, axis=0, return_inverse=True)
    return inverse.reshape(-1)


def _split_groups(groups: np.ndarray, labels: Optional[np.ndarray], size: float, seed: int):
    from sklearn.model_selection import train_test_split

    ids = np.unique(groups)
    stratify = None
    if labels is not None:
        # One label per group (its first row's); stratify only if every class can be split.
        first = np.zeros(len(ids), dtype=np.int64)
        seen: dict = {}
        for row, g in enumerate(groups):
            seen.setdefault(g, row)
        first = np.array([seen[g] for g in ids])
        group_labels = labels[first]
        _, counts = np.unique(group_labels, return_counts=True)
        n_test = int(np.ceil(size * len(ids)))
        if counts.min() >= 2 and n_test >= len(counts) and len(ids) - n_test >= len(counts):
            stratify = group_labels
    keep, held = train_test_split(ids, test_size=size, random_state=seed, stratify=stratify)
    return np.isin(groups, keep), np.isin(groups, held)


def prepare_splits(X: Any, y: Any, *, val_size: float = 0.15, test_size: float = 0.15, seed: int = 0,
                   preprocessor: Any = "standard", stratify: Optional[bool] = None) -> Splits:
    """Split into train/val/test, stratified by class and seeded, then fit preprocessing on train.

    Identical rows are kept in one split (iris has a duplicated flower), so the splits
    cannot overlap. `preprocessor`: "standard" (a StandardScaler), None, or any
    scikit-learn transformer; it is fitted on the training rows only and applied to all.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise DataError(f"X has {len(X)} rows but y has {len(y)}")
    if not (0 < val_size < 1 and 0 < test_size < 1 and val_size + test_size < 1):
        raise DataError(f"val_size={val_size} and test_size={test_size} must be in (0, 1) and sum below 1")
    if stratify is None:
        stratify = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    labels = y if stratify else None
    groups = _duplicate_groups(X)
    rest, test = _split_groups(groups, labels, test_size, seed)
    sub = np.flatnonzero(rest)
    train_in_rest, val_in_rest = _split_groups(groups[sub], labels[sub] if labels is not None else None,
                                               val_size / (1 - test_size), seed + 1)
    train, val = sub[train_in_rest], sub[val_in_rest]
    test_idx = np.flatnonzero(test)
    if preprocessor == "standard":
        from sklearn.preprocessing import StandardScaler

        preprocessor = StandardScaler()
    Xtr, Xva, Xte = X[train], X[val], X[test_idx]
    if preprocessor is not None:
        shape = X.shape[1:]
        flat = lambda a: a.reshape(len(a), -1)  # noqa: E731 - transformers want 2-D rows
        preprocessor.fit(flat(Xtr))  # the training rows only: no statistics from val/test leak in
        Xtr, Xva, Xte = (preprocessor.transform(flat(a)).reshape((len(a),) + shape) for a in (Xtr, Xva, Xte))
    return Splits((Xtr, y[train]), (Xva, y[val]), (Xte, y[test_idx]), preprocessor)


# ----------------------------------------------------------------------------- loaders

def train_loader(ds: Dataset, batch_size: int, seed: int, d: Dist, **kwargs: Any) -> DataLoader:
    """Shuffled with a seeded generator; a DistributedSampler (set_epoch each epoch) under torchrun."""
    if d.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(ds, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=seed)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=generator, **kwargs)


def eval_loader(ds: Dataset, batch_size: int, d: Dist, **kwargs: Any) -> DataLoader:
    """Never shuffled; under torchrun each rank takes an unpadded shard."""
    sampler = ShardSampler(len(ds), d.rank, d.world_size) if d.enabled else None  # type: ignore[arg-type]
    return DataLoader(ds, batch_size=batch_size, shuffle=False, sampler=sampler, **kwargs)


