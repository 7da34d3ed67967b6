"""backward(), zero_grad(), optimizer and scheduler steps, in the order the script runs them.

The shared guards judge accumulation scaling (TRN401), gradients cleared inside a window
(TRN402) and parameters without gradients (TRN408). Here, besides feeding them:
- TRN403: at the first backward() after a step with no zero_grad() in between, is the
  gradient of one parameter that had a gradient at the step still non-zero? (sampled);
- TRN404: did the script call scheduler.step() before the optimizer ever stepped?
- how many loader batches each accumulation window drew, so that two backward calls
  on one batch (two losses, a GAN) are not mistaken for unscaled accumulation.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import torch

from reference_loop.script_audit.frames import is_user_file, user_frame, user_where, where_of
from reference_loop.script_audit.models import settle_lagged
from reference_loop.script_audit.patching import Patches
from reference_loop.script_audit.state import State

PROBE_FIRST, PROBE_EVERY = 8, 50


def _probe_due(n: int) -> bool:
    return n < PROBE_FIRST or n % PROBE_EVERY == 0


def _probe_uncleared(st: State) -> None:
    """First backward since a step: were the gradients of that step cleared?"""
    for info in st.optimizers.table.values():
        if info.zeroed or info.probe is None or info.backwards or not _probe_due(info.steps):
            continue
        p = info.probe()
        if p is None:
            continue
        g = p.grad
        info.probed += 1
        if g is None:
            info.uncleared.append(False)
        elif g.device.type == "cpu":
            info.uncleared.append(bool(g.detach().ne(0).any()))
        else:
            info.uncleared.append(g.detach().ne(0).any())  # read at the end: no sync now


def _on_backward(st: State, tensor: Any) -> None:
    if st.backwards_since_step == 0:
        _probe_uncleared(st)
    st.backwards_since_step += 1
    for info in st.optimizers.table.values():
        info.backwards += 1
    unscaled = None
    if st.scaled:
        entry = st.scaled.pop(id(tensor), None)
        if entry is not None and entry[0]() is tensor:  # not a new tensor that reuses a freed id
            unscaled = entry[1]
    st.guards.on_backward(unscaled if unscaled is not None else tensor)
    checked = st.last_loss is not None and st.last_loss() is tensor
    if isinstance(tensor, torch.Tensor) and not checked:
        _watch_finite(st, unscaled if unscaled is not None else tensor)


def _watch_finite(st: State, tensor: torch.Tensor) -> None:
    """Any tensor that reaches backward() is a loss (hand-written ones too): a running sum,
    one asynchronous add per backward, is finite iff every loss was (TRN407)."""
    value = tensor.detach()
    if not value.is_floating_point():
        return
    value = value.sum() if value.dim() else value
    if st.backward_acc is None:
        st.backward_acc = value.float().clone()
        st.backward_where = user_where(4)
    else:
        st.backward_acc.add_(value)
    st.backward_count += 1


def install(st: State, patches: Patches) -> None:
    guards = st.guards

    # ---------------------------------------------------------------- backward
    tensor_backward = torch.Tensor.backward

    @functools.wraps(tensor_backward)
    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if st.in_backward or not st.active:
            return tensor_backward(self, *args, **kwargs)
        _on_backward(st, self)
        st.in_backward = True
        try:
            return tensor_backward(self, *args, **kwargs)
        finally:
            st.in_backward = False

    patches.replace(torch.Tensor, "backward", backward)

    autograd_backward = torch.autograd.backward

    @functools.wraps(autograd_backward)
    def autograd_backward_wrapper(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if st.in_backward or not st.active:
            return autograd_backward(tensors, *args, **kwargs)
        first = tensors if isinstance(tensors, torch.Tensor) else next(iter(tensors), None)
        _on_backward(st, first)
        st.in_backward = True
        try:
            return autograd_backward(tensors, *args, **kwargs)
        finally:
            st.in_backward = False

    patches.replace(torch.autograd, "backward", autograd_backward_wrapper)

    # ---------------------------------------------------------------- zero_grad
    def wrap_zero_grad(owner: type, is_optimizer: bool) -> None:
        original = owner.zero_grad

        @functools.wraps(original)
        def zero_grad(self: Any, *args: Any, **kwargs: Any) -> Any:
            if st.in_zero_grad or not st.active:
                return original(self, *args, **kwargs)
            guards.on_zero_grad(self if is_optimizer else None)
            if st.backwards_since_step and st.discard_where is None:
                # Gradients of an unfinished window thrown away: TRN402 points here.
                _note_where(st, "discard_where", 2)
            for info in st.optimizers.table.values():
                info.zeroed = True
            st.in_zero_grad = True
            try:
                return original(self, *args, **kwargs)
            finally:
                st.in_zero_grad = False

        patches.replace(owner, "zero_grad", zero_grad)

    wrap_zero_grad(torch.optim.Optimizer, True)
    wrap_zero_grad(torch.nn.Module, False)

    # ---------------------------------------------------------------- optimizer steps
    def step_pre_hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not st.active:
            return
        info = st.optimizer(opt)
        if info.where is None:
            frame = user_frame(3)
            info.where = where_of(frame)
            info.step_code = frame.f_code if frame is not None else None
            note_caller(st, frame)
            _watch_models_of(st, opt)
        settle_lagged(st)
        if info.backwards >= 2:
            info.windows += 1
            if st.batch_seq - info.batch_seq_at_step >= info.backwards:
                info.windows_batched += 1
        guards.on_optimizer_step(opt, info.where)
        if not st.in_scaler_step:  # GradScaler.step() counted this attempt already
            info.attempts += 1

    def step_post_hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not st.active:
            return
        info = st.optimizer(opt)
        info.steps += 1
        st.steps += 1
        info.backwards = 0
        info.zeroed = False
        info.batch_seq_at_step = st.batch_seq
        st.backwards_since_step = 0
        if info.probe is None or info.probe() is None or info.probe().grad is None:
            info.probe = _probe_parameter(opt)

    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    patches.handle(register_optimizer_step_pre_hook(step_pre_hook))
    patches.handle(register_optimizer_step_post_hook(step_post_hook))

    # ---------------------------------------------------------------- GradScaler
    scaler_cls = getattr(getattr(torch, "amp", None), "GradScaler", None)
    if scaler_cls is not None:
        original_scale = scaler_cls.scale
        original_scaler_step = scaler_cls.step

        @functools.wraps(original_scale)
        def scale(self: Any, outputs: Any) -> Any:
            out = original_scale(self, outputs)
            if st.active and isinstance(out, torch.Tensor) and isinstance(outputs, torch.Tensor):
                if len(st.scaled) > 64:
                    st.scaled.clear()
                # Measured now: `scaler.scale(loss * factor)` frees its temporary before backward().
                st.scaled[id(out)] = (weakref.ref(out), outputs.detach())
            return out

        @functools.wraps(original_scaler_step)
        def scaler_step(self: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            if not st.active or st.in_scaler_step:
                return original_scaler_step(self, optimizer, *args, **kwargs)
            st.optimizer(optimizer).attempts += 1  # a skipped step (inf grads) still counts, once
            st.in_scaler_step = True
            try:
                return original_scaler_step(self, optimizer, *args, **kwargs)
            finally:
                st.in_scaler_step = False

        patches.replace(scaler_cls, "scale", scale)
        patches.replace(scaler_cls, "step", scaler_step)

    _install_schedulers(st, patches)


def _probe_parameter(opt: torch.optim.Optimizer) -> Any:
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                return weakref.ref(p)
    return None


def _watch_models_of(st: State, opt: torch.optim.Optimizer) -> None:
    """Name the parameters of the models this optimizer trains (TRN408's evidence)."""
    ids = {id(p) for group in opt.param_groups for p in group["params"]}
    for model in list(st.models.table.keys()):
        if any(id(p) in ids for p in model.parameters()):
            st.guards.watch_model(model)


def _install_schedulers(st: State, patches: Patches) -> None:
    from torch.optim import lr_scheduler

    base = getattr(lr_scheduler, "LRScheduler", None) or getattr(lr_scheduler, "_LRScheduler")
    classes = [c for c in vars(lr_scheduler).values()
               if isinstance(c, type) and issubclass(c, base) and "step" in vars(c)]
    for cls in classes:
        original = vars(cls)["step"]

        def make(original: Any) -> Any:
            @functools.wraps(original)
            def step(self: Any, *args: Any, **kwargs: Any) -> Any:
                if st.active and not st.in_scheduler and not getattr(self, "_is_initial", False):
                    _on_scheduler_step(st, self)
                st.in_scheduler += 1
                try:
                    return original(self, *args, **kwargs)
                finally:
                    st.in_scheduler -= 1

            return step

        patches.replace(cls, "step", make(original))


def _on_scheduler_step(st: State, scheduler: Any) -> None:
    record = st.schedulers.get(scheduler)
    if record is None:
        opt = getattr(scheduler, "optimizer", None)
        info = st.optimizer(opt) if opt is not None else None
        frame = user_frame(2)
        note_caller(st, frame)
        record = st.schedulers.add(scheduler, {
            "label": type(scheduler).__name__, "optimizer": info, "calls": 0,
            "before_first_step": info is not None and info.attempts == 0,
            "where": where_of(frame),
        })
    record["calls"] += 1


def note_caller(st: State, frame: Any) -> None:
    """A location inside a helper function: remember the user's line that called it."""
    if frame is None or frame.f_code.co_name == "<module>":
        return
    caller = frame.f_back
    while caller is not None and not is_user_file(caller.f_code.co_filename):
        caller = caller.f_back
    if caller is None:
        return
    here, there = where_of(frame), where_of(caller)
    if here is not None and there is not None:
        st.callers.setdefault(here, there)


def _note_where(st: State, attr: str, skip: int) -> None:
    frame = user_frame(skip + 1)
    setattr(st, attr, where_of(frame))
    note_caller(st, frame)
