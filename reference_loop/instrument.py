"""Install the guards on the reference loop's own objects, beside the loop, through hooks.

The loop never calls a guard: a forward pre-hook on the model, a wrapper around the
criterion, a step pre-hook on the optimizer, its `zero_grad`, and loaders that say
which split their batches come from feed the events. `auditor run` feeds the same
GuardSet through global hooks instead.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import torch

from reference_loop.guards import GuardSet
from reference_loop.locate import Where


def loss_name(criterion: Callable) -> str:
    """`CrossEntropyLoss` for a module, `cross_entropy` for a function: the names the guards know."""
    if isinstance(criterion, torch.nn.Module):
        return type(criterion).__name__
    return getattr(criterion, "__name__", type(criterion).__name__)


class _Phase:
    """Which split the batch being processed came from: "train", "val" or "test"."""

    role = "train"


class RoleLoader:
    """A DataLoader that marks each batch it yields with its split, for the forward hook."""

    def __init__(self, loader: Any, role: str, phase: _Phase, guards: GuardSet, where: Optional[Where]) -> None:
        self.loader, self.role, self._phase = loader, role, phase
        guards.on_loader(loader, role, where)

    def __iter__(self) -> Iterator:
        for batch in self.loader:
            self._phase.role = self.role
            yield batch

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def sampler(self) -> Any:
        return self.loader.sampler


class GuardedCriterion:
    """The user's criterion, reporting its inputs and training values to the guards.

    A plain callable, not an nn.Module: one Python call per step instead of a module call.
    """

    def __init__(self, criterion: Callable, guards: GuardSet, phase: _Phase, where: Optional[Where],
                 scale: Callable[[], float]) -> None:
        self.criterion, self.guards, self.phase, self.where, self.scale = criterion, guards, phase, where, scale
        self.loss_name = loss_name(criterion)

    def __call__(self, input: torch.Tensor, target: Any) -> torch.Tensor:
        loss = self.criterion(input, target)
        if self.phase.role == "train":
            self.guards.on_loss_inputs(self.loss_name, input, target, self.where)
            self.guards.on_loss_value(loss, self.where)
            if self.guards.wants_loss_grad() and loss.requires_grad:
                loss.register_hook(self.guards.loss_grad_hook(self.scale))
        return loss


class Installed:
    """Handles to remove the hooks once the run is over."""

    def __init__(self, guards: GuardSet, phase: _Phase, criterion: GuardedCriterion,
                 removers: list[Callable[[], None]], where: Optional[Where]) -> None:
        self.guards, self.phase, self.criterion, self._removers, self.where = guards, phase, criterion, removers, where

    def loader(self, loader: Any, role: str) -> RoleLoader:
        return RoleLoader(loader, role, self.phase, self.guards, self.where)

    def remove(self) -> None:
        for remove in self._removers:
            remove()
        self._removers.clear()


def install(guards: GuardSet, model: torch.nn.Module, criterion: Callable, optimizer: torch.optim.Optimizer,
            scaler: Optional[torch.amp.GradScaler], *, model_where: Optional[Where],
            where: Optional[Where]) -> Installed:
    """Hook `guards` onto the loop's objects; findings about the model point at `model_where`."""
    phase = _Phase()
    guards.watch_model(model)

    def on_forward(module: torch.nn.Module, args: Any) -> None:
        if phase.role == "train" and torch.is_grad_enabled():
            guards.on_train_step(module, where)
        else:
            guards.on_eval_forward(module, torch.is_grad_enabled(), where)

    handle = model.register_forward_pre_hook(on_forward)
    step_handle = optimizer.register_step_pre_hook(lambda opt, args, kwargs: guards.on_optimizer_step(opt, where))

    original_zero_grad = optimizer.zero_grad

    def zero_grad(*args: Any, **kwargs: Any) -> None:
        guards.on_zero_grad(optimizer, where)
        original_zero_grad(*args, **kwargs)

    optimizer.zero_grad = zero_grad  # type: ignore[method-assign]

    def restore_zero_grad() -> None:
        if optimizer.__dict__.get("zero_grad") is zero_grad:
            del optimizer.zero_grad

    scale = (lambda: scaler.get_scale()) if scaler is not None and scaler.is_enabled() else (lambda: 1.0)
    guarded = GuardedCriterion(criterion, guards, phase, model_where or where, scale)
    return Installed(guards, phase, guarded, [handle.remove, step_handle.remove, restore_zero_grad], where)
