"""What is being learned: the kind of task, its loss, its targets and its metrics.

The kind follows from the loss when one is named, else from the targets and the
model's output on two samples:

- "multiclass": (N, C) scores, C > 1, class-index targets -> CrossEntropyLoss, accuracy;
- "binary": one logit per sample, 0/1 targets -> BCEWithLogitsLoss, accuracy (logit > 0);
- "regression": real-valued targets of the output's shape -> MSELoss (or Huber), RMSE, MAE, R².

Targets that cannot be used as given are fixed where the fix is certain (float labels
holding whole numbers become class indices; (N,) targets against (N, 1) outputs are
reshaped, not broadcast into an (N, N) loss) and refused otherwise, with the fix named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch.utils.data import Dataset, TensorDataset

KINDS = ("multiclass", "binary", "regression")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "huber")
_LOSS_KIND = {"cross_entropy": "multiclass", "bce": "binary", "mse": "regression", "huber": "regression"}
# Criteria recognised by class or function name when the user passes their own.
_NAME_KIND = {"crossentropyloss": "multiclass", "cross_entropy": "multiclass", "nllloss": "multiclass",
              "nll_loss": "multiclass", "bcewithlogitsloss": "binary", "binary_cross_entropy_with_logits": "binary",
              "bceloss": "binary", "mseloss": "regression", "mse_loss": "regression", "huberloss": "regression",
              "huber_loss": "regression", "smoothl1loss": "regression", "l1loss": "regression",
              "l1_loss": "regression"}


class TargetError(ValueError):
    """Targets that do not fit the model or the loss (re-raised as a DataError by the loop)."""


@dataclass
class Objective:
    kind: str
    criterion: Callable
    notes: list[str]
    # Applied to every target before the loss: dtype and shape, decided once here.
    target_dtype: Optional[torch.dtype] = None
    target_shape: Optional[tuple[int, ...]] = None  # per-sample shape, e.g. (1,) for an (N, 1) output


def kind_of_criterion(criterion: Callable) -> Optional[str]:
    name = type(criterion).__name__ if isinstance(criterion, torch.nn.Module) else getattr(criterion, "__name__", "")
    return _NAME_KIND.get(name.lower())


def build_criterion(name: str) -> Callable:
    return {"cross_entropy": torch.nn.CrossEntropyLoss, "bce": torch.nn.BCEWithLogitsLoss,
            "mse": torch.nn.MSELoss, "huber": torch.nn.HuberLoss}[name]()


def _integral(y: torch.Tensor) -> bool:
    return bool(torch.isfinite(y).all()) and bool((y == y.round()).all())


def _distributions(y: torch.Tensor, out: torch.Tensor) -> bool:
    """Rows of class probabilities of the output's shape (non-negative, summing to 1)."""
    return (y.is_floating_point() and y.dim() == 2 and tuple(y.shape[1:]) == tuple(out.shape[1:])
            and bool((y >= 0).all()) and bool(((y.sum(1) - 1).abs() <= 1e-4).all()))


def resolve(loss: Any, out: torch.Tensor, y: torch.Tensor, what: str = "training data",
            kind: Optional[str] = None) -> Objective:
    """Choose the kind, the criterion and the target conversion from the loss, `out` and all targets `y`.

    `kind` forces the kind (the validation and test splits follow the training split's).
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise TargetError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
        loss = None if loss == "auto" else loss
    named = loss if isinstance(loss, str) else None
    criterion = build_criterion(named) if named else loss
    if kind is None:
        kind = _LOSS_KIND[named] if named else (kind_of_criterion(loss) if loss is not None else None)
    if not isinstance(out, torch.Tensor):
        return Objective(kind or "multiclass", criterion or torch.nn.CrossEntropyLoss(), [])
    width = out.shape[1] if out.dim() >= 2 else 1
    per_sample_out = tuple(out.shape[1:])
    notes: list[str] = []
    floating = y.is_floating_point()
    if kind is None:
        if width > 1 and (not floating or y.dim() == 1 or _distributions(y, out)):
            # One target per sample against C scores: class indices (checked below); or one
            # probability row per sample (one-hot, smoothed or mixed labels).
            kind = "multiclass"
        elif width == 1 and y.numel() and _integral(y) and set(y.unique().tolist()) <= {0.0, 1.0}:
            kind = "binary"
        elif floating or width == 1:
            kind = "regression"
        else:
            kind = "multiclass"
    if criterion is None:
        criterion = build_criterion({"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}[kind])
    obj = Objective(kind, criterion, notes)
    if kind == "multiclass":
        if floating and _distributions(y, out):
            return obj  # class probabilities: CrossEntropyLoss takes them as they are
        if y.dim() == 1 and floating:
            if not _integral(y):
                bad = y[(y != y.round()) | ~torch.isfinite(y)][0].item()
                raise TargetError(
                    f"{what} has float targets that are not whole numbers (e.g. {bad:g}) but the model outputs "
                    f"{width} class scores per sample: for classification pass integer class indices 0..{width - 1}; "
                    "for regression make the model output one value per sample (or pass --loss mse)")
            obj.target_dtype = torch.long
            notes.append(f"{what}: float class labels holding whole numbers were converted to integer class indices")
        if y.dim() == 1 and y.numel():
            low, top = int(y.min()), int(y.max())
            if low < 0:
                raise TargetError(f"{what} has a negative class label ({low}); class indices run from 0 to C-1")
            if top >= width:
                raise TargetError(f"{what} has class labels up to {top} but the model outputs {width} scores per "
                                  f"sample (shape {tuple(out.shape)}); it needs at least {top + 1}")
        return obj
    # binary and regression: the target must have the output's per-sample shape
    target_shape = tuple(y.shape[1:])
    if kind == "binary":
        if y.numel() and not (_integral(y) and set(y.unique().tolist()) <= {0.0, 1.0}) and not (
                floating and bool(((y >= 0) & (y <= 1)).all())):
            raise TargetError(f"{what} has targets outside [0, 1] (e.g. {float(y.flatten()[0]):g}) for a binary loss: "
                              "BCEWithLogitsLoss takes 0/1 labels or probabilities")
        obj.target_dtype = torch.float32
    elif not floating:
        obj.target_dtype = torch.float32
    if target_shape != per_sample_out:
        if math.prod(target_shape) == math.prod(per_sample_out):
            obj.target_shape = per_sample_out
            notes.append(f"{what}: targets of shape {tuple(y.shape)} reshaped to match the model's output "
                         f"{('(N, ' + ', '.join(map(str, per_sample_out)) + ')') if per_sample_out else '(N,)'} "
                         "(a loss would broadcast them into an (N, N) difference)")
        else:
            raise TargetError(f"{what} has targets of shape {tuple(y.shape)} but the model outputs "
                              f"{tuple(out.shape[1:])} per sample (batch {tuple(out.shape)}); a {kind} loss needs "
                              "one target per output")
    return obj


class TargetView(Dataset):
    """A dataset whose targets are converted (dtype, per-sample shape) as the objective decided."""

    def __init__(self, ds: Dataset, dtype: Optional[torch.dtype], shape: Optional[tuple[int, ...]]) -> None:
        self.ds, self.dtype, self.shape = ds, dtype, shape

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Any, torch.Tensor]:
        x, y = self.ds[i]
        return x, self.convert(torch.as_tensor(y))

    def convert(self, y: torch.Tensor, batched: bool = False) -> torch.Tensor:
        if self.dtype is not None:
            y = y.to(self.dtype)
        if self.shape is not None:
            y = y.reshape(((len(y),) if batched else ()) + self.shape)
        return y


def apply_targets(ds: Dataset, obj: Objective) -> Dataset:
    """`ds` with its targets converted as `obj` says (a new TensorDataset for in-memory data)."""
    if obj.target_dtype is None and obj.target_shape is None:
        return ds
    view = TargetView(ds, obj.target_dtype, obj.target_shape)
    if isinstance(ds, TensorDataset) and len(ds.tensors) == 2:
        return TensorDataset(ds.tensors[0], view.convert(ds.tensors[1], batched=True))
    return view


# ----------------------------------------------------------------------------- metrics

def totals_size(kind: str) -> int:
    return 6 if kind == "regression" else 2


def batch_totals(kind: str, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    """Sums of one batch on the device, no sync and no host-to-device copy: [loss*n, correct]
    for classification, [loss*n, sse, sae, sum y, sum y², elements] for regression.

    Summed over batches, with the sample count kept on the host (`with_count`), and over
    ranks, they give every metric of the split (`metrics_of`).
    """
    n = len(y)
    if kind == "regression":
        o, t = out.float().reshape(y.shape), y.float()
        err = o - t
        return torch.stack([loss.float() * n, err.square().sum(), err.abs().sum(), t.sum(), t.square().sum(),
                            t.new_full((), float(t.numel()))])
    if kind == "binary":
        hits = ((out.reshape(y.shape) > 0) == (y > 0.5)).float()
        correct = hits.reshape(n, -1).mean(1).sum()  # per sample: the share of its labels right
    elif out.dim() >= 2 and not y.is_floating_point():
        correct = (out.argmax(1) == y).sum().float()
    elif out.dim() == 2 and y.shape == out.shape:
        correct = (out.argmax(1) == y.argmax(1)).sum().float()  # probability targets: their most likely class
    else:
        correct = loss.new_full((), float("nan"))
    return torch.stack([loss.float() * n, correct])


def with_count(totals: torch.Tensor, n: int) -> torch.Tensor:
    """The batch sums and the sample count in one tensor, for one all-reduce per split."""
    return torch.cat([totals, totals.new_full((1,), float(n))])


def metrics_of(kind: str, totals: list[float]) -> dict[str, float]:
    """Metrics of a split from its summed `with_count` totals."""
    n = totals[-1]
    n_safe = max(n, 1.0)
    out = {"loss": totals[0] / n_safe, "n": int(n)}
    if kind != "regression":
        out["accuracy"] = totals[1] / n_safe
        return out
    _, sse, sae, sy, sy2, m = totals[:6]
    m_safe = max(m, 1.0)
    sst = sy2 - sy * sy / m_safe  # total sum of squares around the split's own mean
    out.update(rmse=math.sqrt(max(sse, 0.0) / m_safe), mae=sae / m_safe,
               r2=(1 - sse / sst) if sst > 0 else float("nan"))
    return out


# Direction of each monitorable metric: +1 higher is better, -1 lower is better.
DIRECTION = {"loss": -1, "accuracy": 1, "rmse": -1, "mae": -1, "r2": 1}


def check_monitor(monitor: str, kind: str) -> str:
    """`val_loss`, `val_accuracy`, `val_r2`, ... (the `val_` prefix optional): the metric name."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    allowed = ("loss", "accuracy") if kind != "regression" else ("loss", "rmse", "mae", "r2")
    if name not in allowed:
        raise TargetError(f"cannot monitor {monitor!r} on a {kind} task; choose from "
                          f"{', '.join('val_' + a for a in allowed)}")
    return name
