"""TRN404-TRN406: the order and bookkeeping of an optimization step."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import name_tokens
from auditor.findings import Severity
from auditor.fixes import SAFE, UNSAFE, insert_before, make_fix, owns_its_lines, parse_statement
from auditor.rule import Rule
from rules._queries import (bound_values, constructor, exclusive_branches, loops_around, method_name, names_in,
                            receiver, under_no_grad)

GRAD_SCALERS = ("torch.cuda.amp.GradScaler", "torch.amp.GradScaler", "torch.GradScaler",
                "torch.cpu.amp.GradScaler")
CLIP_FUNCTIONS = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
                  "torch.nn.utils.clip_grad_norm")
LOSS_FUNCTION_WORDS = ("loss", "cross_entropy", "nll_loss", "mse_loss", "l1_loss")


def _role(model, expr: Optional[cst.BaseExpression], function) -> Optional[str]:
    """optimizer / scheduler / scaler for the receiver of a `.step()`, from its constructor or name."""
    if expr is None or dotted_name(expr) is None:
        return None
    for value in bound_values(model, expr, function):
        built = constructor(model, value) or ""
        if built.startswith("torch.optim.lr_scheduler.") or "schedule" in built.rsplit(".", 1)[-1].lower():
            return "plateau" if built.endswith("ReduceLROnPlateau") else "scheduler"
        if matches(built, *GRAD_SCALERS):
            return "scaler"
        if built.startswith("torch.optim."):
            return "optimizer"
    tokens = set(name_tokens(dotted_name(expr)))
    if tokens & {"scheduler", "sched", "lr_scheduler", "scheduler1", "lrs"}:
        return "scheduler"
    if tokens & {"optimizer", "optim", "opt", "optimiser"}:
        return "optimizer"
    if tokens & {"scaler"}:
        return "scaler"
    return None


class SchedulerStepBeforeOptimizerStep(Rule):
    code = "TRN404"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "scheduler-step-before-optimizer-step"
    severity = Severity.WARNING
    summary = "lr_scheduler.step() is called before optimizer.step() in the iteration."
    what = """
        Flags `scheduler.step()` when, within the same loop iteration (or function), an
        optimizer step (`optimizer.step()`, or `scaler.step(optimizer)` with a
        `GradScaler`) comes after it and none before it. Schedulers are recognized by
        their constructor (`torch.optim.lr_scheduler.*`, `get_*_schedule*`) or name;
        `ReduceLROnPlateau.step(metric)` is left alone.
        """
    why = """
        Since PyTorch 1.1 the scheduler must step after the optimizer. Stepped first, it
        skips the first value of the schedule: warm-up starts one step late and every
        learning rate is shifted by one step (by one epoch for epoch-wise schedules).
        """
    instead = "Call `scheduler.step()` after `optimizer.step()` (the unsafe fix moves it there)."
    bad_examples = (
        """
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            scheduler.step()
            optimizer.step()
        """,
    )
    good_examples = (
        """
        for x, y in loader:
            optimizer.zero_grad()
            scaler.scale(criterion(model(x), y)).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
        """,
    )
    needs_imports = ()

    def check(self, ctx) -> None:
        model = ctx.model
        steps = [(index, site) for index, site in enumerate(model.calls) if site.method == "step"]
        optimizer_steps = [(i, s) for i, s in steps
                           if _role(model, receiver(s.node), s.function) in ("optimizer", "scaler")]
        if not optimizer_steps:
            return
        for index, site in steps:
            if _role(model, receiver(site.node), site.function) != "scheduler" or site.node.args:
                continue
            scope = next(loops_around(model, site.node), None) or site.function
            inside_scope = [(i, s) for i, s in optimizer_steps if s.function is site.function
                            and (scope is None or any(a is scope for a in model.ancestors(s.node)))]
            if not inside_scope or any(i < index for i, _ in inside_scope):
                continue
            later = [s for i, s in inside_scope if i > index]
            ctx.report(site.node, f"`{dotted_name(site.node.func)}()` runs before the optimizer step of "
                                  f"this iteration; step the scheduler after `optimizer.step()`",
                       fix=self._fix(ctx, site, later[-1]))

    @staticmethod
    def _fix(ctx, scheduler, optimizer_step):
        model = ctx.model
        statement = model.statement_of(scheduler.node)
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1 \
                or not isinstance(statement.body[0], cst.Expr) or statement.body[0].value is not scheduler.node \
                or not owns_its_lines(ctx, statement):
            return None
        block = model.parent(statement)
        anchor = optimizer_step.node
        while anchor is not None and model.parent(anchor) is not block:
            anchor = model.parent(anchor)
        if anchor is None or not owns_its_lines(ctx, anchor):
            return None
        moved = statement.with_changes(leading_lines=())
        return make_fix(ctx, "Move the scheduler step after the optimizer step",
                        {statement: cst.RemovalSentinel.REMOVE, anchor: cst.FlattenSentinel([anchor, moved])},
                        UNSAFE)


def _is_loss_call(model, node: cst.BaseExpression, function) -> bool:
    if not isinstance(node, cst.Call):
        return False
    qualified = model.imports.qualify(node.func) or ""
    if qualified.startswith("torch.nn.functional.") and qualified.rsplit(".", 1)[-1].endswith(LOSS_FUNCTION_WORDS):
        return True
    for value in bound_values(model, node.func, function) if dotted_name(node.func) else ():
        built = constructor(model, value) or ""
        if built.startswith("torch.nn.") and built.endswith("Loss"):
            return True
    return False


class LossAccumulatedWithGraph(Rule):
    code = "TRN405"
    name = "loss-accumulated-with-graph"
    severity = Severity.WARNING
    summary = "A running total is built from the loss tensor instead of loss.item()."
    what = """
        Flags `total += loss` (or `total = total + loss`) in a loop where `loss` is a
        loss tensor (it is `.backward()`-ed, or comes from a loss criterion or
        function) and the total itself is neither backpropagated nor returned (summing
        several losses into one objective is fine).
        """
    why = """
        The loss tensor carries its autograd graph. Summing it keeps every iteration's
        graph (activations included) alive until the total is freed: memory grows over
        the epoch until it runs out, and every addition is a device operation.
        """
    instead = "Accumulate `loss.item()` (or `loss.detach()`; the safe fix adds `.detach()`)."
    bad_examples = (
        """
        running_loss = 0.0
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss
        """,
    )
    good_examples = (
        """
        running_loss = 0.0
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            detached_total += loss.detach()


        def compute_loss(outputs, targets):
            total = 0
            for out, y in zip(outputs, targets):
                total += criterion(out, y)
            return total
        """,
    )
    needs_imports = ()

    def check(self, ctx) -> None:
        model = ctx.model
        sums = list(_running_sums(model))
        if not sums:
            return
        backwarded = _objective_names(model)
        returned = _ReturnedNames(model)
        for function, target, value, node in sums:
            if target in backwarded.get(function, set()) or returned.contains(function, target):
                continue
            if not next(loops_around(model, node), None) or under_no_grad(model, node):
                continue
            term = _loss_term(model, value, function, target, backwarded.get(function, set()))
            if term is None:
                continue
            name = dotted_name(term)
            shown = name or ctx.code_for(term)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            fix = make_fix(ctx, "Accumulate the detached loss",
                           {term: cst.Call(func=cst.Attribute(value=term, attr=cst.Name("detach")))}, SAFE) \
                if name is not None else None
            ctx.report(node, f"`{target}` sums `{shown}` with its autograd graph; accumulate "
                             f"`{shown}.item()` (or `.detach()`) instead", fix=fix)


def _loss_term(model, value: cst.BaseExpression, function, target: str, backwarded: set):
    """The loss tensor inside an added value (`loss`, `loss * n`, `criterion(out, y)`), or None."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide)) \
            and (_is_detached(value.left) or _is_detached(value.right)):
        return None  # `loss.item() * accum`: a number scaled by a number
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide, cst.Add,
                                                                                cst.Subtract)):
        return _loss_term(model, value.left, function, target, backwarded) \
            or _loss_term(model, value.right, function, target, backwarded)
    if _graph_free(value):
        return None  # `(labels != ignore).sum()`: a count, compared values carry no graph
    name = dotted_name(value)
    if name is not None and name != target:
        values = bound_values(model, value, function)
        if values and all(_graph_free(v) for v in values):
            return None
        if name in backwarded or any(_is_loss_call(model, v, function) for v in values):
            return value
    return value if _is_loss_call(model, value, function) else None


_COUNT_METHODS = ("sum", "float", "long", "int", "count_nonzero", "numel", "nonzero", "any", "all", "to",
                  "double", "half")


def _graph_free(node: cst.BaseExpression) -> bool:
    """A comparison (`a != b`) or a count/cast of one: no autograd graph, whatever its inputs."""
    while type(node) is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value in _COUNT_METHODS:
        node = node.func.value
    return type(node) is cst.Comparison


def _is_detached(node: cst.BaseExpression) -> bool:
    """`x.item()`, `x.detach()`, `float(x)`: a value without an autograd graph."""
    if not isinstance(node, cst.Call):
        return False
    if isinstance(node.func, cst.Attribute):
        return node.func.attr.value in ("item", "detach", "tolist", "numpy")
    return isinstance(node.func, cst.Name) and node.func.value in ("float", "int")


def _objective_names(model) -> dict:
    """Per function, the names that reach a backward: `(a + b).backward()`, `scaler.scale(t)`,
    `accelerator.backward(t)`, and what those were computed from (`t = a + b`)."""
    reached: dict = {}
    for site in model.calls:
        method = site.method
        if method == "backward":
            parts = [receiver(site.node)] + [a.value for a in site.node.args]
        elif method == "scale":
            parts = [a.value for a in site.node.args]
        else:
            continue
        names = reached.setdefault(site.function, set())
        for part in parts:
            if part is not None:
                names |= names_in(part)
    for function, names in reached.items():
        pending = list(names)
        while pending:
            name = pending.pop()
            for binding in model.bindings.get(name, []):
                if binding.function is function and getattr(binding, "kind", "assign") == "assign":
                    for new in names_in(binding.value) - names:
                        names.add(new)
                        pending.append(new)
    return reached


def _running_sums(model):
    """(function, target, added value, statement node) for `t += v` and `t = t + v`."""
    for bindings in model.bindings.values():
        for binding in bindings:
            statement = binding.statement
            # Exact types (these libcst classes have no subclasses): isinstance against
            # libcst's ABCs is a Python-level call, and this scans every node of the file.
            if type(statement) is cst.Assign and type(statement.value) is cst.BinaryOperation \
                    and type(statement.value.operator) is cst.Add \
                    and dotted_name(statement.value.left) == binding.target:
                yield binding.function, binding.target, statement.value.right, statement
    # `t += v`: the model records every augmented assignment to a name as an "aug" binding
    # (its statement is the AugAssign, its function the enclosing one), so there is no
    # need to scan every node of the file for them.
    for bindings in model.bindings.values():
        for binding in bindings:
            statement = binding.statement
            if binding.kind == "aug" and type(statement) is cst.AugAssign \
                    and type(statement.operator) is cst.AddAssign:
                yield binding.function, binding.target, statement.value, statement


class _ReturnedNames:
    """(function, name) for every `return name` and `return name, other, ...`: the total is the
    function's result (a loss built from terms, for its caller to backpropagate).

    Read per function, on demand, from the returns the model lists for it; a `return`
    outside any function (libcst parses it, CPython refuses it) needs a scan of the file.
    """

    def __init__(self, model) -> None:
        self.model = model
        self._names: dict = {}  # function -> names it returns

    def contains(self, function, name: str) -> bool:
        names = self._names.get(function)
        if names is None:
            names = self._names[function] = _returned_by(self.model, function)
        return name in names


def _returned_by(model, function) -> set:
    if function is not None:
        info = model.info(function)
        returns = info.returns if info is not None else []
    else:
        returns = [node for node in model.parents
                   if type(node) is cst.Return and model.enclosing_function(node) is None]
    found = set()
    for node in returns:
        if node.value is not None:
            parts = node.value.elements if type(node.value) is cst.Tuple else ()
            for expr in [node.value] + [e.value for e in parts]:
                name = dotted_name(expr)
                if name:
                    found.add(name)
    return found


class ClipGradWithoutUnscale(Rule):
    code = "TRN406"
    name = "clip-grad-without-unscale"
    severity = Severity.ERROR
    summary = "Gradients are clipped under a GradScaler without scaler.unscale_(optimizer) first."
    what = """
        Flags `clip_grad_norm_` / `clip_grad_value_` in a function that uses a
        `GradScaler` (`scaler.scale(...)` or `scaler.step(...)`) when no
        `scaler.unscale_(...)` comes before the clipping.
        """
    why = """
        With a GradScaler the gradients hold `loss * scale` (65536 at the start). Clipping
        them to a norm of 1.0 clips the scaled values: the effective threshold is
        divided by the scale, so nearly every step is clipped to a tiny update, and the
        amount changes whenever the scaler adjusts the scale.
        """
    instead = "Call `scaler.unscale_(optimizer)` right before clipping (the safe fix inserts it)."
    bad_examples = (
        """
        import torch

        scaler = torch.amp.GradScaler("cuda")
        scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        """,
    )
    good_examples = (
        """
        import torch

        scaler = torch.amp.GradScaler("cuda")
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        scaler_calls = [(i, s) for i, s in enumerate(model.calls)
                        if s.method in ("scale", "step", "unscale_")
                        and _role(model, receiver(s.node), s.function) == "scaler"
                        and _is_grad_scaler(model, receiver(s.node), s.function)]
        if not scaler_calls:
            return
        for index, site in enumerate(model.calls):
            if not matches(site.qualname, *CLIP_FUNCTIONS):
                continue
            mine = [(i, s) for i, s in scaler_calls if s.function is site.function
                    and not exclusive_branches(model, site.node, s.node)]
            if not mine or any(method_name(s.node) == "unscale_" and i < index for i, s in mine):
                continue
            ctx.report(site.node, "gradients are clipped while still multiplied by the GradScaler's scale; "
                                  "call `scaler.unscale_(optimizer)` first", fix=self._fix(ctx, site, mine))

    @staticmethod
    def _fix(ctx, site, scaler_calls):
        steps = {(dotted_name(receiver(s.node)), dotted_name(s.node.args[0].value))
                 for _, s in scaler_calls if method_name(s.node) == "step" and s.node.args}
        if len(steps) != 1:
            return None
        scaler, optimizer = steps.pop()
        if not scaler or not optimizer:
            return None
        statement = ctx.model.statement_of(site.node)
        if not isinstance(statement, cst.SimpleStatementLine) or not owns_its_lines(ctx, statement):
            return None
        unscale = parse_statement(ctx, f"{scaler}.unscale_({optimizer})\n")
        return make_fix(ctx, f"Insert `{scaler}.unscale_({optimizer})` before clipping",
                        {statement: insert_before(statement, [unscale])}, SAFE)


def _is_grad_scaler(model, expr, function) -> bool:
    values = bound_values(model, expr, function)
    return not values or any(matches(constructor(model, v), *GRAD_SCALERS) for v in values)


OPTIM_STEP_RULES = [SchedulerStepBeforeOptimizerStep(), LossAccumulatedWithGraph(), ClipGradWithoutUnscale()]
