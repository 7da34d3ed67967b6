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
SAMPLE_ROWS = 64  # rows fingerprinted per sampled training batch
EVAL_ROWS = 4096  # rows fingerprinted per evaluation batch (all of them, in practice)
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


def _split_label(frame: Any) -> tuple:
    """The short text arguments of the evaluating function (`estimate_loss` looping over
    "train" and "val", `evaluate(X, "test")`): one call line, several data sets."""
    if frame is None or frame.f_code.co_name == "<module>":
        return ()
    try:
        values = frame.f_locals
    except Exception:  # pragma: no cover - exotic frames
        return ()
    return tuple(sorted((k, v) for k, v in values.items()
                        if type(v) is str and 0 < len(v) <= 24 and not any(c.isdigit() for c in v)))


def install(st: State, patches: Patches) -> None:
    ledger = st.ledger

    def direct_source(x: Any, stack: tuple, frame: Any, evaluating: bool) -> Any:
        # Tensors fed directly: one source per call chain and data identity (evaluate(X_val)
        # and evaluate(X_test) from two lines are two sources; so are the "train" and "val"
        # batches one estimate_loss() line scores, and slices of two different tensors).
        base = getattr(x, "_base", None) if x is not None else None
        base_key = st.tensor_serial(base) if base is not None else None
        label = _split_label(frame) if evaluating else ()
        key = ("chain",) + tuple((c, line) for c, line in stack[:3]) + (base_key, label)
        src = ledger.sources.get(key)
        if src is None:
            where = stack_where(stack[0]) if stack else None
            src = ledger.source(key, "the tensors passed at", where)
            if base_key is not None:
                src.data_key = ("tensor", base_key)
        return src

    original_call = torch.nn.Module.__call__

    def start(module: torch.nn.Module, args: tuple) -> ForwardRecord:
        model = st.model(module)
        frame = user_frame(3)
        loader = st.current_loader
        from_loader = loader is not None and st.batch_seq > model.last_batch_seq
        model.last_batch_seq = st.batch_seq
        evaluating = not module.training or not torch.is_grad_enabled()
        x = _first_tensor(args)
        if from_loader:
            loader.batches += 1
            src = loader.source
            use = src.use(model)
            # The whole user call chain costs a stack walk: only while a source's role is unknown.
            if use.trained or use.eval_stack:
                stack = ((frame.f_code, frame.f_lineno),) if frame is not None else ()
            else:
                stack = user_stack(3, 6)
        else:
            stack = user_stack(3, 6)
            src = direct_source(x, stack, frame, evaluating)
            use = src.use(model)
        rec = ForwardRecord(module.training, torch.is_grad_enabled(), stack, st.steps, use, model)
        gathered = st.gathered.get(id(x)) if st.gathered and x is not None else None
        if gathered is not None and gathered[0]() is x:
            rec.span = gathered[1:]
        elif src.complete is None:
            src.sampled_forwards += 1
            n = src.sampled_forwards
            if x is not None and (evaluating or n <= ALWAYS_SAMPLE or n % THIN_EVERY == 0):
                # Evaluation batches are fingerprinted whole: overlap is measured, not guessed.
                k = EVAL_ROWS if evaluating else SAMPLE_ROWS
                if x.device.type == "cpu":
                    rec.rows = sample_fingerprint(x, k)
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
        use = rec.use
        if rec.reached:
            use.trained += 1
            if rec.steps >= rec.model.trained_until:
                rec.model.trained_until = rec.steps + 1
        else:
            use.evaluated += 1
            if not use.eval_steps or use.eval_steps[-1] != rec.steps:
                use.eval_steps.append(rec.steps)
            if not use.eval_stack:
                use.eval_stack = rec.stack
        use.add(rec.rows)
        if rec.span is not None:
            use.add_span(*rec.span, evaluating=not rec.reached)
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
