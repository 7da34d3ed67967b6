"""The optimizer and the learning-rate schedule, as careful loops build and step them."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import torch

OptimizerSpec = Union[None, torch.optim.Optimizer, Callable[[torch.nn.Module], torch.optim.Optimizer]]

# Modules whose weights scale activations: decaying them towards 0 fights the normalisation.
_NORMS = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm,
          torch.nn.LocalResponseNorm, getattr(torch.nn, "RMSNorm", torch.nn.LayerNorm))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: weights with decay; biases, normalisation weights and other 0/1-D tensors without.

    Weight decay is meant to shrink the weights that mix features; shrinking a bias or a
    norm's gain only pulls the model towards an arbitrary offset or scale.
    """
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if isinstance(module, _NORMS) or p.dim() <= 1 or name.endswith("bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(spec: OptimizerSpec, model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if spec is None:
        return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr)
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    return spec(model)


def is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def per_step(scheduler: Any, interval: str) -> Optional[Any]:
    """The scheduler to step after every optimizer update (None: it steps per epoch, or there is none)."""
    if scheduler is None or is_plateau(scheduler) or interval == "epoch":
        return None
    return scheduler


def epoch_end(scheduler: Any, interval: str, monitored: float) -> None:
    """Per-epoch schedulers step once an epoch; ReduceLROnPlateau on the monitored validation metric."""
    if scheduler is None:
        return
    if is_plateau(scheduler):
        scheduler.step(monitored)
    elif interval == "epoch":
        scheduler.step()
