"""The mutable state that the hooks of one `auditor run` share.

Hooks are hot paths (every module call, every batch), so they read plain attributes of
one object instead of walking through layers of helpers.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

from reference_loop.locate import Where
from reference_loop.script_audit.ledger import Ledger, Source


@dataclass
class LoaderInfo:
    where: Optional[Where]
    shuffled: bool
    ref: Any  # weakref to the DataLoader
    source: Source
    batches: int = 0


@dataclass
class OptimizerInfo:
    where: Optional[Where] = None  # first optimizer.step() call site
    step_code: Any = None  # the code object (function) that calls optimizer.step()
    steps: int = 0
    attempts: int = 0  # optimizer.step() or GradScaler.step() calls
    batch_seq_at_step: int = 0
    backwards: int = 0  # backward() calls since this optimizer's last step
    zeroed: bool = True  # a zero_grad() call since this optimizer's last step
    probe: Any = None  # weakref to one parameter that had a gradient at the last step
    probed: int = 0
    uncleared: list = field(default_factory=list)  # bools or device bool tensors
    windows: int = 0  # windows with >= 2 backward calls
    windows_batched: int = 0  # ... of which drew one loader batch per backward or more


class ForwardRecord:
    """One outermost forward pass of a model, until we know whether it reached backward()."""

    __slots__ = ("training", "grad", "needs_grad", "stack", "steps", "source", "rows", "reached")

    def __init__(self, training: bool, grad: bool, stack: tuple, steps: int, source: Source) -> None:
        self.training, self.grad, self.stack, self.steps, self.source = training, grad, stack, steps, source
        self.needs_grad = False
        self.rows = None
        self.reached = False

    def mark(self, grad: Any) -> None:  # a tensor hook: returns None, so the gradient is untouched
        self.reached = True


class State:
    def __init__(self, guards: Any) -> None:
        self.active = True
        self.guards = guards
        self.ledger = Ledger()
        # forwards
        self.root: Any = None
        self.loss_module: Any = None
        self.kinds: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()
        self.models: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self.model_seq: dict[int, int] = {}
        self.pending_old: list[ForwardRecord] = []
        self.pending_new: list[ForwardRecord] = []
        # data
        self.batch_seq = 0
        self.current_loader: Optional[LoaderInfo] = None
        self.loaders: dict[int, LoaderInfo] = {}
        self.subset_parts: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()
        # optimization
        self.steps = 0
        self.optimizers: dict[int, OptimizerInfo] = {}
        self.optimizer_refs: dict[int, Any] = {}
        self.backwards_since_step = 0
        self.scaled: dict[int, Any] = {}  # id(GradScaler.scale output) -> weakref(unscaled loss)
        self.schedulers: dict[int, dict] = {}
        # re-entrancy flags: an outer wrapped call hides the inner ones
        self.in_loss = False
        self.in_backward = False
        self.in_zero_grad = False
        self.in_scheduler = 0
        self.in_sklearn = 0

    def optimizer(self, opt: Any) -> OptimizerInfo:
        info = self.optimizers.get(id(opt))
        if info is None:
            info = self.optimizers[id(opt)] = OptimizerInfo(batch_seq_at_step=self.batch_seq)
            self.optimizer_refs[id(opt)] = weakref.ref(opt)
        return info
