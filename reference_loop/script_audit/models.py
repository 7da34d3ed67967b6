"""Forward passes, judged by what happens to their output.

A class-level wrapper of `Module.__call__` notices the outermost call of any module that has
parameters (the "model"; calls nested inside it are ignored, loss modules too). The
first output tensors that require grad get a tensor hook: if autograd ever runs through
them, the forward was training; if the next-but-one optimizer step (or the end of the
run) comes first, it was evaluation. Only then are the mode checks of the shared guards
fed, with the model's mode and grad mode as they were at the forward.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from reference_loop.guards import record_settled_forward
from reference_loop.script_audit.frames import stack_where, user_frame, user_stack
from reference_loop.script_audit.patching import Patches
from reference_loop.script_audit.rows import sample_fingerprint
from reference_loop.script_audit.state import ForwardRecord, State

SKIP, MODEL, LOSS = 0, 1, 2
SAMPLE_ROWS = 64  # rows fingerprinted per sampled batch
ALWAYS_SAMPLE = 2000  # forwards per data source fingerprinted before thinning out
THIN_EVERY = 10
GPU_SAMPLE_EVERY = 25  # copying rows off an accelerator syncs it: rarely


def _kind(module: torch.nn.Module) -> int:
    if isinstance(module, torch.nn.modules.loss._Loss):
        return LOSS
    return MODEL if next(module.parameters(), None) is not None else SKIP


def _grad_tensors(output: Any, limit: int = 4) -> list:
    if isinstance(output, torch.Tensor):
        return [output] if output.requires_grad else []
    if isinstance(output, dict):
        items = list(output.values())
    elif isinstance(output, (tuple, list)):
        items = list(output)
    else:
        items = list(vars(output).values()) if hasattr(output, "__dict__") else []
    return [t for t in items[:16] if isinstance(t, torch.Tensor) and t.requires_grad][:limit]


def _first_tensor(args: tuple) -> Any:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
    return None


def install(st: State, patches: Patches) -> None:
    ledger = st.ledger

    def source_for(module: torch.nn.Module, stack: tuple):
        last = st.model_seq.get(id(module), 0)
        st.model_seq[id(module)] = st.batch_seq
        loader = st.current_loader
        if loader is not None and st.batch_seq > last:
            loader.batches += 1
            return loader.source
        # Tensors fed directly: one source per call chain (evaluate(X_val) and
        # evaluate(X_test) from two lines are two sources).
        key = ("chain",) + tuple((c, line) for c, line in stack[:3])
        where = stack_where(stack[0]) if stack else None
        return ledger.source(key, "the tensors passed at", where)

    original_call = torch.nn.Module.__call__

    def start(module: torch.nn.Module, args: tuple) -> ForwardRecord:
        if module not in st.models:
            st.models.add(module)
        frame = user_frame(3)
        shallow = ((frame.f_code, frame.f_lineno),) if frame is not None else ()
        loader = st.current_loader
        from_loader = loader is not None and st.batch_seq > st.model_seq.get(id(module), 0)
        # The whole user call chain costs a stack walk: only while a source's role is unknown.
        if from_loader and (loader.source.trained or loader.source.eval_stack):
            stack = shallow
        else:
            stack = user_stack(3, 4)
        src = source_for(module, stack)
        rec = ForwardRecord(module.training, torch.is_grad_enabled(), stack, st.steps, src)
        if not src.complete:
            src.sampled_forwards += 1
            n = src.sampled_forwards
            x = _first_tensor(args)
            if x is not None and (n <= ALWAYS_SAMPLE or n % THIN_EVERY == 0):
                if x.device.type == "cpu":
                    rec.rows = sample_fingerprint(x, SAMPLE_ROWS)
                elif n % GPU_SAMPLE_EVERY == 1 and x.dim() >= 2:
                    idx = torch.linspace(0, len(x) - 1, min(len(x), 16), device=x.device).long()
                    rec.rows = sample_fingerprint(x.detach()[idx].cpu(), 16)
        return rec

    def done(rec: ForwardRecord, output: Any) -> None:
        tensors = _grad_tensors(output)
        if tensors:
            rec.needs_grad = True
            for t in tensors:
                # A hook on the node that made the output: fires when backward reaches it
                # (cheaper than a tensor hook); leaves have no node, so they get a tensor hook.
                if t.grad_fn is not None:
                    t.grad_fn.register_prehook(rec.mark)
                else:
                    t.register_hook(rec.mark)
        st.pending_new.append(rec)

    # Module.__call__ wrapped at class level rather than global forward hooks: nested calls
    # then cost one Python call each and keep torch's fast path; nothing is stored on the
    # user's modules (a model saved with torch.save stays clean).
    @functools.wraps(original_call)
    def call(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        if st.root is not None or not st.active:
            return original_call(self, *args, **kwargs)
        kind = st.kinds.get(self)
        if kind is None:
            kind = st.kinds[self] = _kind(self)
        if kind == LOSS:
            st.loss_module = self
            try:
                return original_call(self, *args, **kwargs)
            finally:
                st.loss_module = None
        if kind != MODEL:
            return original_call(self, *args, **kwargs)
        rec = start(self, args)
        st.root = self
        try:
            output = original_call(self, *args, **kwargs)
        finally:
            st.root = None
        done(rec, output)
        return output

    patches.replace(torch.nn.Module, "__call__", call)


def settle(st: State, records: list) -> None:
    """Feed the guards with forwards whose fate is known, and the ledger with their rows."""
    guards = st.guards
    for rec in records:
        where = stack_where(rec.stack[0]) if rec.stack else None
        src = rec.source
        if rec.reached:
            src.trained += 1
        else:
            src.evaluated += 1
            if not src.eval_steps or src.eval_steps[-1] != rec.steps:
                src.eval_steps.append(rec.steps)
            if not src.eval_stack:
                src.eval_stack = rec.stack
        src.add(rec.rows)
        record_settled_forward(guards, trained=rec.reached, model_training=rec.training,
                               grad_enabled=rec.grad and rec.needs_grad, where=where)


def settle_lagged(st: State) -> None:
    """At an optimizer step: forwards from before the previous step had their chance."""
    old = st.pending_old
    st.pending_old = st.pending_new
    st.pending_new = []
    if old:
        settle(st, old)


def settle_all(st: State) -> None:
    records = st.pending_old + st.pending_new
    st.pending_old, st.pending_new = [], []
    settle(st, records)
