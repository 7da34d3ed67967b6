"""The mutable state that the hooks of one `auditor run` share.

Hooks are hot paths (every module call, every batch), so they read plain attributes of
one object instead of walking through layers of helpers.

The audit owns its records. Python objects (models, optimizers, loaders, schedulers,
transformers) are mapped to their record through weak-keyed tables, and every record
is also kept in a plain list: an object freed before the end of the run (a DataLoader
built inside `main()`) keeps its record, and a new object that happens to get a freed
`id()` gets a record of its own. The few tables looked up by `id()` (data serials,
GradScaler outputs, gathered batches) check the object through a weak reference first.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

from reference_loop.locate import Where
from reference_loop.script_audit.ledger import Ledger, Source


@dataclass
class LoaderInfo:
    serial: int
    where: Optional[Where]
    sampler: str  # class name of the sampler (or batch sampler) that orders the indices
    typed_random: bool  # the sampler's type or `shuffle` flag says it shuffles
    source: Source
    batches: int = 0
    # The first indices each pass over the loader yielded, one list per pass (a few passes).
    orders: list = field(default_factory=list)

    def new_pass(self) -> Optional[list]:
        if len(self.orders) >= 3:
            return None
        order: list = []
        self.orders.append(order)
        return order


@dataclass
class ModelRecord:
    """One model generation: a fold, a trial, the GAN's generator. Rows, forwards and steps
    are judged per generation, so k-fold models do not pool their training rows."""

    serial: int
    label: str
    last_batch_seq: int = 0
    trained_until: int = 0  # global optimizer step its latest training forward fed (steps done + 1)


@dataclass
class OptimizerInfo:
    serial: int
    where: Optional[Where] = None  # first optimizer.step() call site
    step_code: Any = None  # the code object (function) that calls optimizer.step()
    steps: int = 0
    attempts: int = 0  # optimizer.step() calls, or GradScaler.step() calls (a skipped step counts once)
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

    __slots__ = ("training", "grad", "needs_grad", "stack", "steps", "use", "rows", "reached", "model", "span")

    def __init__(self, training: bool, grad: bool, stack: tuple, steps: int, use: Any, model: ModelRecord) -> None:
        self.training, self.grad, self.stack, self.steps, self.use = training, grad, stack, steps, use
        self.model = model
        self.needs_grad = False
        self.rows = None
        self.span = None  # (base tensor serial, start offsets, width) for windows gathered from one tensor
        self.reached = False

    def mark(self, grad: Any) -> None:  # a tensor hook: returns None, so the gradient is untouched
        self.reached = True


class Records:
    """object -> record through a weak-keyed table; every record also kept for the end."""

    def __init__(self) -> None:
        self.table: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
        self.all: list = []

    def get(self, obj: Any) -> Any:
        try:
            return self.table.get(obj)
        except TypeError:  # not weak-referenceable
            return None

    def add(self, obj: Any, record: Any) -> Any:
        try:
            self.table[obj] = record
        except TypeError:
            pass
        self.all.append(record)
        return record


class State:
    def __init__(self, guards: Any) -> None:
        self.active = True
        self.guards = guards
        self.ledger = Ledger()
        self._serial = 0
        # forwards
        self.root: Any = None
        self.loss_module: Any = None
        self.kinds: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()
        self.models = Records()
        self.pending_old: list[ForwardRecord] = []
        self.pending_new: list[ForwardRecord] = []
        # data
        self.batch_seq = 0
        self.current_loader: Optional[LoaderInfo] = None
        self.loaders = Records()
        self.subset_parts: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()
        self.data_serials: dict[int, tuple] = {}  # see tensor_serial()
        # torch.stack outputs built from views of one tensor: id -> (weakref, base serial, offsets, width)
        self.gathered: dict[int, tuple] = {}
        # optimization
        self.steps = 0
        self.optimizers = Records()
        self.backwards_since_step = 0
        # GradScaler.scale outputs: id -> (weakref to the scaled tensor, the unscaled value measured at the call)
        self.scaled: dict[int, tuple] = {}
        self.in_scaler_step = False
        self.schedulers = Records()
        # any tensor that reaches backward() is a loss: a running sum, finite iff all were (TRN407)
        self.backward_acc: Any = None
        self.backward_where: Optional[Where] = None
        self.backward_count = 0
        self.last_loss: Any = None  # weakref to the last watched loss output (the guards check it)
        # TRN402: where zero_grad() first threw away gradients of an unfinished window
        self.discard_where: Optional[Where] = None
        # (path, line) of a finding's location -> the user's line that called the helper it is in
        self.callers: dict[Where, Where] = {}
        # re-entrancy flags: an outer wrapped call hides the inner ones
        self.in_loss = False
        self.in_backward = False
        self.in_zero_grad = False
        self.in_scheduler = 0
        self.in_sklearn = 0

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def optimizer(self, opt: Any) -> OptimizerInfo:
        info = self.optimizers.get(opt)
        if info is None:
            info = self.optimizers.add(opt, OptimizerInfo(self.serial(), batch_seq_at_step=self.batch_seq))
        return info

    def model(self, module: Any) -> ModelRecord:
        rec = self.models.get(module)
        if rec is None:
            rec = self.models.add(module, ModelRecord(self.serial(), type(module).__name__))
        return rec

    def tensor_serial(self, obj: Any) -> int:
        """A serial for a data object (a tensor, a dataset) that no later object inherits.

        Looked up by id() but checked through a weak reference: a new object that reuses a
        freed id gets a new serial. (A weak-keyed dictionary would compare tensors with ==.)
        """
        entry = self.data_serials.get(id(obj))
        if entry is not None and entry[0]() is obj:
            return entry[1]
        serial = self.serial()
        try:
            self.data_serials[id(obj)] = (weakref.ref(obj), serial)
        except TypeError:  # not weak-referenceable: a serial of its own each time
            pass
        return serial
