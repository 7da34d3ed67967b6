"""Evaluate a split correctly, for every model: eval mode, autograd off, every sample once.

`torch.inference_mode()` is the cheapest way to turn autograd off, but a tensor created
under it can never be saved for backward or updated in place outside it. A model that
builds a tensor in its forward and keeps it (a lazy buffer, a cached positional table,
a `LazyLinear`) would carry such a tensor into the next training step and fail there.
So after an evaluation under inference mode the model's own tensors are inspected; if
it kept any, they are copied back into ordinary tensors and later evaluations of that
model run under `no_grad` instead (same numbers, slightly more bookkeeping). An error
raised under inference mode (an inference tensor saved for backward, a forward that
differentiates with `enable_grad`) gets the same treatment, once: the evaluation is
repeated under `no_grad`, and an error there is raised as it is.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from reference_loop import distributed
from reference_loop.device import Precision, autocast
from reference_loop.objective import batch_totals, metrics_of, totals_size, with_count


@dataclass
class GradOff:
    """How autograd is turned off for one model's evaluations, and why it changed."""

    no_grad: bool = False
    reason: Optional[str] = None
    kept: list[str] = field(default_factory=list)

    def context(self) -> contextlib.AbstractContextManager:
        return torch.no_grad() if self.no_grad else torch.inference_mode()

    def switch(self, reason: str) -> None:
        self.no_grad, self.reason = True, reason


_MODES: "weakref.WeakKeyDictionary[torch.nn.Module, GradOff]" = weakref.WeakKeyDictionary()


def mode_for(model: torch.nn.Module) -> GradOff:
    return _MODES.setdefault(model, GradOff())


def kept_inference_tensors(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, Any]]:
    """(module, attribute, container) of every inference tensor the model holds as state."""
    found = []
    for module in model.modules():
        for store in (module._buffers, module._parameters, vars(module)):
            for key, value in list(store.items()):
                if isinstance(value, torch.Tensor) and value.is_inference():
                    found.append((module, key, store))
    return found


def repair(model: torch.nn.Module) -> list[str]:
    """Replace kept inference tensors by ordinary copies; returns their qualified names."""
    names = {id(m): n for n, m in model.named_modules()}
    repaired = []
    for module, key, store in kept_inference_tensors(model):
        value = store[key]
        copy = value.clone()  # outside inference mode: an ordinary tensor
        if isinstance(value, torch.nn.Parameter):
            copy = torch.nn.Parameter(copy, requires_grad=value.requires_grad)
        store[key] = copy
        repaired.append(f"{names.get(id(module), '?') or type(model).__name__}.{key}".lstrip("."))
    return repaired


def run(model: torch.nn.Module, loader: Any, criterion: Callable, dev: torch.device, precision: Precision,
        dist: distributed.Dist, kind: str, mode: Optional[GradOff] = None) -> dict[str, float]:
    """Loss and metrics of `model` on `loader`; train mode restored afterwards."""
    mode = mode or mode_for(model)
    was_training = model.training
    model.eval()
    try:
        try:
            totals = _totals(model, loader, criterion, dev, precision, kind, mode)
        except RuntimeError as exc:
            # Inference tensors cannot be saved for backward, and autograd cannot be turned back
            # on inside inference mode (a model that differentiates in its forward, e.g. forces
            # from an energy). Under no_grad both work; an error there is the model's own.
            if mode.no_grad:
                raise
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            mode.kept = repair(model)
            totals = _totals(model, loader, criterion, dev, precision, kind, GradOff(no_grad=True))
            mode.switch(f"evaluation under inference mode failed ({first}); evaluating under no_grad")
        if not mode.no_grad:
            kept = repair(model)
            if kept:
                mode.kept = kept
                mode.switch(f"the model keeps tensors created in its forward ({', '.join(kept[:3])}); under "
                            "inference mode they could not be used in training: evaluating under no_grad")
    finally:
        model.train(was_training)
    return metrics_of(kind, distributed.all_reduce_sum(totals, dist).tolist())


def _totals(model: torch.nn.Module, loader: Any, criterion: Callable, dev: torch.device, precision: Precision,
            kind: str, mode: GradOff) -> torch.Tensor:
    totals, n = torch.zeros(totals_size(kind), device=dev), 0
    with mode.context():
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with autocast(dev, precision):
                out = model(x)
                loss = criterion(out, y)
            totals += batch_totals(kind, out.float(), y, loss)
            n += len(y)
    return with_count(totals, n)
