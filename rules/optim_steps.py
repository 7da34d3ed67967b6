"""TRN404-TRN406: the order and bookkeeping of an optimization step."""

from __future__ import annotations

import os
from typing import Optional

import libcst as cst

from auditor.analysis.meters import imported_meter, self_total_fed_by
from auditor.analysis.model import syntactic_children
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import name_tokens
from auditor.findings import Severity
from auditor.fixes import SAFE, UNSAFE, insert_before, make_fix, owns_its_lines, parse_statement
from auditor.rule import Rule
from rules._helpers import program, shorten
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
        Across boundaries: a scheduler stepped at the top of `train_epoch()` before that
        function's batch loop is flagged, and so is one stepped at the top of the epoch loop
        before a call of a function of the same file that steps the optimizer (directly or
        through the functions it calls, a few levels: `scheduler.step(); train(model, opt)`).
        A training function imported from another module is not seen.
        Severity warning: the schedule is shifted by one step (one epoch for epoch-wise
        schedules); on real code that is a small shift for per-batch schedules.
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
        schedulers = [(i, s) for i, s in steps
                      if _role(model, receiver(s.node), s.function) == "scheduler" and not s.node.args]
        if not schedulers:
            return
        optimizer_steps = [(i, s) for i, s in steps
                           if _role(model, receiver(s.node), s.function) in ("optimizer", "scaler")]
        # A call of a function of this file that steps an optimizer (`train(model, optimizer)`
        # once per epoch) is an optimizer step of the caller's iteration.
        optimizer_steps += _stepping_calls(ctx)
        optimizer_steps.sort(key=lambda pair: pair[0])
        if not optimizer_steps:
            return
        for index, site in schedulers:
            scope = next(loops_around(model, site.node), None) or site.function
            inside_scope = [(i, s) for i, s in optimizer_steps if s.function is site.function
                            and (scope is None or any(a is scope for a in model.ancestors(s.node)))]
            if not inside_scope or any(i < index for i, _ in inside_scope):
                continue
            later = [s for i, s in inside_scope if i > index]
            helper = next((s for s in later if s.method != "step"), None)
            where = f" (inside `{dotted_name(helper.node.func)}(...)`)" if helper is not None else ""
            ctx.report(site.node, f"`{dotted_name(site.node.func)}()` runs before the optimizer step of "
                                  f"this iteration{where}; step the scheduler after `optimizer.step()`",
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


def _stepping_calls(ctx) -> list:
    """(index, call site) of the calls of functions of this file that step an optimizer,
    directly or through the functions they call (a few levels)."""
    model = ctx.model
    prog = program(ctx)
    memo: dict = {}

    def steps(function, depth: int) -> bool:
        if function in memo:
            return memo[function]
        memo[function] = False  # recursion guard
        info = model.function_info.get(function)
        answer = info is not None and any(
            (s.method == "step" and _role(model, receiver(s.node), s.function) in ("optimizer", "scaler"))
            or (depth < 3 and s.method != "step" and _callee_steps(s, depth)) for s in info.calls)
        memo[function] = answer
        return answer

    def _callee_steps(site, depth: int) -> bool:
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        return resolved is not None and steps(resolved[0], depth + 1)

    return [(i, s) for i, s in enumerate(model.calls) if s.method != "step" and _callee_steps(s, 0)]


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
        Flags `total += loss` (or `total = total + loss`) in a loop when both halves are
        certain; totals kept in a dict count too (`totals[name] += value`, or
        `totals = {k: totals[k] + losses[k] for k in totals}`). The summand is a loss tensor:
        the very value back-propagated in this function (`loss.backward()`,
        `scaler.scale(loss)`, `accelerator.backward(loss)`), a `torch.nn` loss or `F.*_loss`
        call (or a name bound only to one), a call of a `criterion`/`loss_fn`, an item of
        a dict of those (`losses[k]`, `value` in `for name, value in losses.items()`, where
        `losses = criterion(...)` or `losses['total'].backward()`), or the loss a model returns
        when handed `labels=` (`outputs.loss`, `loss, logits = outputs[:2]`). The total is a running total that outlives the training
        iteration: it is not the objective (it never reaches backward, `scaler.scale`,
        `accelerator`/`fabric`/DeepSpeed `backward`, nor a helper handed the optimizer, such as
        `loss_scaler(loss, optimizer)`), it is not re-initialised at the top of each
        training iteration (a total reset once per epoch but summed over the batches of an
        evaluation pass nested in the epoch loop, each run through a model, still counts),
        and it is not returned as a result (`return total`, or, from a
        loop that does not back-propagate, any return that reads it: a loss function
        summing its terms).
        Across boundaries: a total back-propagated by the caller of a helper that returns it
        is treated as a result (silent). A meter of the same file is read: `meter.update(loss, n)`
        in a training loop, where `update` adds its argument into a total on the object
        (`self.sum += val * n`, `self.totals["ce"] += value`) and the object is made
        outside the loop, is flagged at the call when `loss` is certainly a tensor (back-propagated
        here, or a torch loss call) or a dict of them (`losses['total'].backward()`). Meters of
        other modules are read through their summaries: `metrics.tracker.update(losses)` where
        `metrics` is built from a class of another module whose `__init__` sets `self.tracker`
        to an instance of a meter class. It cannot see
        types it is not shown: integer counters (`n += batch.batch_size`), sizes and token
        counts have no loss evidence and are never flagged. A summand bound under
        `torch.no_grad()` (or inference_mode), or computed from values that were and from the
        data loop's batch (`with torch.no_grad(): out = model(x)`, then `loss = criterion(out,
        y)`), carries no graph: not flagged.
        Fix: `.detach()` on the summand (not `.item()`: a total read as a tensor after the
        loop, `total.item()`, keeps working). Safe only when the summand is certainly a
        tensor (back-propagated by `.backward()` here, or a torch loss call) and the total
        is a local name that nothing returns; otherwise unsafe. Severity warning: the
        numbers are right, the memory (and time) is wasted and can run out.
        """
    why = """
        The loss tensor carries its autograd graph. Summing it keeps every iteration's
        graph (activations included) alive until the total is freed: memory grows over
        the epoch until it runs out, and every addition is a device operation.
        """
    instead = "Accumulate `loss.item()` (or `loss.detach()`; the fix adds `.detach()`)."
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
            seen_examples += x.size(0)


        def compute_loss(outputs, targets):
            total = 0
            for out, y in zip(outputs, targets):
                total += criterion(out, y)
            return total / len(outputs)


        for x, y in loader:
            loss = 0.0
            for head in heads:
                loss += criterion(head(x), y)
            loss_scaler(loss, optimizer, parameters=model.parameters())
        """,
    )
    needs_imports = ()

    def check(self, ctx) -> None:
        model = ctx.model
        sums = list(_running_sums(model))
        if not sums and "backward" not in ctx.source.text:
            return  # no total here, and no back-propagated loss to hand to a meter elsewhere
        flows = _Flows(model)
        _report_meter_updates(ctx, flows)
        for function, target, value, node in sums:
            loop = next(loops_around(model, node), None)
            if loop is None or under_no_grad(model, node):
                continue
            if target in flows.objective(function):
                continue  # the loss being built: it reaches backward (or a helper that runs it)
            trains = _training_loop(model, node)
            if trains is None and target in flows.returned(function, bare=False):
                continue  # a result (a loss function summing its terms), not a training statistic
            if trains is not None and _reset_each_iteration(model, target, node, trains) and \
                    not _summed_over_a_data_pass(ctx, target, node, trains):
                continue  # rebuilt every training iteration: it outlives nothing
            term, certain = _loss_term(model, value, function, target, flows.differentiated(function))
            if term is None:
                continue
            name = dotted_name(term)
            shown = name or ctx.code_for(term)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            keyed = type(node) is cst.AugAssign and type(node.target) is cst.Subscript
            safe = certain and "." not in target and not keyed and \
                target not in flows.returned(function, bare=False, as_tensor=True)
            fix = make_fix(ctx, "Accumulate the detached loss",
                           {term: cst.Call(func=cst.Attribute(value=term, attr=cst.Name("detach")))},
                           SAFE if safe else UNSAFE) if name is not None else None
            instead = f"`{shown}.item()`" if name is not None else "its `.item()`"  # a call: not re-spelt
            total = shorten(ctx.code_for(node.target)) if keyed else target
            ctx.report(node, f"`{total}` sums `{shown}` with its autograd graph; accumulate "
                             f"{instead} (or `.detach()`) instead", fix=fix)


def _report_meter_updates(ctx, flows) -> None:
    """`meter.update(loss, n)` in a training loop, where `update` (a function of this file)
    adds its argument into a total on the object (`self.sum += val * n`,
    `self.totals[key] += losses[key]`): the object keeps every iteration's graph."""
    model = ctx.model
    prog = program(ctx)
    for site in model.calls:
        if site.method is None or site.qualname is not None or not site.node.args:
            continue
        loop = _training_loop(model, site.node) if site.function is not None else None
        if loop is None or under_no_grad(model, site.node):
            continue
        holder = dotted_name(receiver(site.node))
        if holder is None or any(model.is_within(b.statement, loop) for b in model.bindings_of(holder, site.function)):
            continue  # a fresh object every iteration (or no object): nothing outlives the iteration
        elsewhere = None  # the meter when it is a method of another module's class
        for index, arg in enumerate(site.node.args):
            if arg.keyword is not None or arg.star:
                break
            differentiated = flows.differentiated(site.function)
            name = dotted_name(arg.value)
            if name is not None and name in flows.differentiated_items(site.function) and \
                    not any(b.kind == "assign" and _is_detached(b.value) for b in model.bindings_of(name, site.function)):
                term, certain = arg.value, True  # `loss['total'].backward()`: a dict of loss tensors
            else:
                term, certain = _loss_term(model, arg.value, site.function, "", differentiated)
            if term is None or not certain:
                continue
            resolved = prog.flow.resolve(site)
            if resolved is None:
                if elsewhere is None:
                    elsewhere = imported_meter(model, ctx.project, ctx.module_name,
                                               os.path.basename(ctx.path) == "__init__.py", holder, site.method,
                                               site.function) or ()
                totals = elsewhere[2] if elsewhere else {}
                if index not in totals:
                    continue
                where = f"`{totals[index]}` of a {elsewhere[0]} ({elsewhere[1]})"
            else:
                info = model.function_info[resolved[0]]
                position = index + 1 if resolved[1] else index
                if position >= len(info.params) or info.params[0:1] != ["self"]:
                    break
                total = self_total_fed_by(model, info.node, info.params[position])
                if total is None:
                    continue
                where = f"`{ctx.code_for(total.target)}` (line {ctx.position(total).start.line})"
            shown = ctx.code_for(arg.value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            ctx.report(site.node, f"`{shorten(ctx.code_for(site.node))}` adds `{shown}` with its autograd graph "
                                  f"into {where}, which outlives the iteration; pass `{shown}.item()` (or `.detach()`)")
            break


def _loss_term(model, value: cst.BaseExpression, function, target: str, differentiated: set):
    """(the loss tensor inside an added value, certainly a tensor?) or (None, False).

    `loss`, `loss * n`, `criterion(out, y)`; never a count, a size or a detached number."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide)) \
            and (_is_detached(value.left) or _is_detached(value.right)):
        return None, False  # `loss.item() * accum`: a number scaled by a number
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide, cst.Add,
                                                                                cst.Subtract)):
        found = _loss_term(model, value.left, function, target, differentiated)
        return found if found[0] is not None else _loss_term(model, value.right, function, target, differentiated)
    if _graph_free(value):
        return None, False  # `(labels != ignore).sum()`: a count, compared values carry no graph
    if type(value) is cst.Subscript:
        return _loss_item(model, value, value.value, function, target)
    name = dotted_name(value)
    if name is not None and name != target:
        bindings = model.bindings_of(name, function)
        if any(b.kind == "assign" and _is_detached(b.value) for b in bindings):
            return None, False  # `loss = loss.item()` somewhere: which value reaches the sum is unclear
        if bindings and all(_computed_without_graph(model, b) for b in bindings):
            return None, False  # computed under no_grad (or from outputs that were): no graph to keep
        if name in differentiated:
            return value, True  # `loss.backward()` ran on it: a tensor with a graph
        if _model_loss(model, name, function):
            return value, False  # the loss a model computes when handed the labels
        container = _iterated_container(model, name, function)
        if container is not None:  # `for key, value in losses.items()`: an item of `losses`
            return _loss_item(model, value, container, function, target)
        values = model.values_of(name, function, kinds=("assign",))
        if values and all(_loss_evidence(model, v, function) for v in values) and \
                len(values) == len(model.bindings_of(name, function)):
            return value, all(_loss_evidence(model, v, function) == "torch" for v in values)
        return None, False
    evidence = _loss_evidence(model, value, function)
    return (value, evidence == "torch") if evidence else (None, False)


def _computed_without_graph(model, binding, depth: int = 0) -> bool:
    """An assignment made under `torch.no_grad()` (inference_mode, ...), or a call whose
    arguments are all names bound that way or by the data loop (`loss = criterion(out, y)`
    after `with torch.no_grad(): out = model(x)`): the value records no graph."""
    if binding.kind != "assign":
        return False
    if under_no_grad(model, binding.statement):
        return True
    value = binding.value
    if depth > 0 or type(value) is not cst.Call or not value.args:
        return False
    found_graphless = False
    for arg in value.args:
        name = dotted_name(arg.value)
        if name is None:
            return False
        argument_bindings = model.bindings_of(name, binding.function)
        if not argument_bindings:
            return False
        for b in argument_bindings:
            if b.kind == "for":
                continue  # a batch from the data loop
            if not _computed_without_graph(model, b, depth + 1):
                return False
            found_graphless = True
    return found_graphless


def _model_loss(model, name: str, function) -> bool:
    """`name` holds the loss a model returns when called with `labels=` (the Hugging Face
    contract: the loss comes first, or as `.loss`): `outputs.loss`, `loss = outputs[0]`,
    `loss, logits = outputs[:2]` with `outputs = model(input_ids=x, labels=y)`. A later
    `loss = loss.mean()` (DataParallel) keeps it a loss."""
    def labelled(node, depth: int = 0) -> bool:
        """A call handed `labels=`, or a name bound only to one."""
        if type(node) is cst.Call:
            # a loss computed under no_grad carries no graph, wherever it is summed later
            return any(a.keyword is not None and a.keyword.value == "labels" for a in node.args) and \
                not under_no_grad(model, node)
        base = node if type(node) is str else dotted_name(node)
        if base is None or depth > 1:
            return False
        values = model.values_of(base, function, kinds=("assign",))
        return bool(values) and len(values) == len(model.bindings_of(base, function)) and \
            all(labelled(v, depth + 1) for v in values)

    def first_of(node) -> bool:
        """`outputs[0]`, `outputs[:2]` (unpacked at index 0 by the caller) of a labelled call."""
        if type(node) is not cst.Subscript or len(node.slice) != 1:
            return False
        part = node.slice[0].slice
        first = (type(part) is cst.Index and type(part.value) is cst.Integer and part.value.value == "0") or \
            (type(part) is cst.Slice and part.lower is None)
        return first and labelled(node.value)

    if name.endswith(".loss"):
        return labelled(name[:-len(".loss")])
    bindings = model.bindings_of(name, function)
    found = False
    for b in bindings:
        value = b.value
        if b.kind != "assign":
            return False
        if b.index is not None:
            if b.index != 0 or not (labelled(value) or first_of(value)):
                return False
            found = True
        elif type(value) is cst.Call and type(value.func) is cst.Attribute and \
                dotted_name(value.func.value) == name and value.func.attr.value in ("mean", "sum"):
            continue  # `loss = loss.mean()`: the same loss, reduced over devices
        elif first_of(value) or (type(value) is cst.Attribute and value.attr.value == "loss"
                                 and labelled(value.value)):
            found = True
        else:
            return False
    return found


def _iterated_container(model, name: str, function) -> Optional[cst.BaseExpression]:
    """`losses` when `name` is bound only as the value of `for k, name in losses.items()`
    or `for name in losses.values()`."""
    bindings = model.bindings_of(name, function)
    found = None
    for b in bindings:
        call = b.value
        if b.kind != "for" or type(call) is not cst.Call or type(call.func) is not cst.Attribute or call.args:
            return None
        method = call.func.attr.value
        if not ((method == "items" and b.index == 1 and b.arity == 2) or
                (method == "values" and b.index is None)):
            return None
        if found is not None and dotted_name(found) != dotted_name(call.func.value):
            return None
        found = call.func.value
    return found if found is not None and dotted_name(found) else None


def _loss_item(model, value: cst.BaseExpression, container: cst.BaseExpression, function, target: str):
    """(value, certain?) when `value` is an item of `container` (`losses[k]`, or `v` of
    `for k, v in losses.items()`) and the container holds loss tensors: every value it is
    bound to is a loss call (`losses = criterion(out, y)`), or one of its items is
    back-propagated (`losses['total'].backward()`)."""
    base = dotted_name(container)
    if base is None or base == target:
        return None, False
    bindings = model.bindings_of(base, function)
    if any(b.kind == "assign" and _is_detached(b.value) for b in bindings):
        return None, False
    for site in model.calls_in(function):
        part = receiver(site.node) if site.method in _BACKWARD_METHODS else None
        if type(part) is cst.Subscript and dotted_name(part.value) == base:
            return value, True
    values = model.values_of(base, function, kinds=("assign",))
    if values and len(values) == len(bindings) and all(_loss_evidence(model, v, function) for v in values):
        return value, all(_loss_evidence(model, v, function) == "torch" for v in values)
    return None, False


def _loss_evidence(model, node: cst.BaseExpression, function) -> Optional[str]:
    """'torch' for a torch loss call, 'name' for a `criterion(...)`/`loss_fn(...)` call, else None."""
    if not isinstance(node, cst.Call):
        return None
    if _is_loss_call(model, node, function):
        return "torch"
    callee = dotted_name(node.func) or ""
    last = callee.rsplit(".", 1)[-1].lower()
    if callee and model.imports.qualify(node.func) is None and not model.functions_named(callee) and \
            (last in ("criterion", "loss_fn", "loss_func", "loss_function", "criteria") or last.endswith("_criterion")):
        return "name"
    return None


def _training_loop(model, node):
    """The innermost loop around `node` that back-propagates or steps (one training iteration)."""
    for loop in loops_around(model, node):
        for site in model.calls_in(model.enclosing_function(node)):
            if site.method in ("backward", "manual_backward", "step") and model.is_within(site.node, loop):
                return loop
    return None


def _summed_over_a_data_pass(ctx, target: str, node, trains) -> bool:
    """The sum sits in a loop nested in the training iteration that runs a model on batches
    of its own, and the total is not reset inside that loop: an evaluation pass inside the
    epoch loop (`val_loss = 0` per epoch, `val_loss += criterion(model(xb), yb)` per batch)
    keeps every batch's graph although the total is reset once per outer iteration.
    A loop whose model input comes from outside it (`for head in heads: aux +=
    crit(head(x), y)`) adds terms of one forward pass: bounded by the iteration, silent."""
    model = ctx.model
    function = model.enclosing_function(node)
    forwards = None
    for loop in loops_around(model, node):
        if loop is trains:
            return False
        if type(loop) is not cst.For:
            continue
        if any(b.kind == "assign" and model.is_within(b.statement, loop) for b in model.bindings_of(target, function)):
            return False  # reset inside this loop: one total per batch
        if forwards is None:
            forwards = [f.site for f in program(ctx).forwards() if f.site.function is function]
        fed = _names_fed_by(model, loop, function)
        for site in forwards:
            if model.is_within(site.node, loop) and \
                    any(_roots(names_in(arg.value)) & fed for arg in site.node.args):
                return True
    return False


def _names_fed_by(model, loop: cst.For, function) -> set[str]:
    """The loop's target names and the names assigned inside the loop from them (`x =
    batch[0].to(device)`), to a fixed point."""
    fed = _roots(names_in(loop.target))
    inside = [b for bindings in model.bindings.values() for b in bindings
              if b.function is function and b.kind == "assign" and "." not in b.target
              and model.is_within(b.statement, loop)]
    grew = True
    while grew:
        grew = False
        for b in inside:
            if b.target not in fed and _roots(names_in(b.value)) & fed:
                fed.add(b.target)
                grew = True
    return fed


def _roots(names: set[str]) -> set[str]:
    """`batch.x.to` -> `batch`: the variable each dotted name reads."""
    return {n.split(".", 1)[0] for n in names}


def _reset_each_iteration(model, target: str, node, loop) -> bool:
    """`target = ...` unconditionally inside the training iteration, before the sum."""
    statement = model.statement_of(node)
    for binding in model.bindings.get(target, []):
        if binding.kind != "assign" or not model.is_within(binding.statement, loop) or binding.statement is statement:
            continue
        if any(type(a) is cst.If for a in _between(model, binding.statement, loop)):
            continue
        position = model.statement_of(binding.statement)
        if position is not None and _before(model, position, statement):
            return True
    return False


def _between(model, node, container):
    for ancestor in model.ancestors(node):
        if ancestor is container:
            return
        yield ancestor


def _before(model, a, b) -> bool:
    """Statement `a` starts before statement `b` (source order of the file's statements)."""
    order = model.cache.get("statement_order")
    if order is None:
        order = model.cache["statement_order"] = {}
        for index, parent_child in enumerate(model.parents):
            order[id(parent_child)] = index
    return order.get(id(a), -1) < order.get(id(b), -1)


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


_BACKWARD_METHODS = ("backward", "manual_backward")


class _Flows:
    """Per function: the names differentiated there, the names that flow into the objective
    (backward, `scaler.scale`, a helper handed the optimizer), and the names returned."""

    def __init__(self, model) -> None:
        self.model = model
        self._differentiated: dict = {}
        self._differentiated_items: dict = {}
        self._objective: dict = {}
        self._returned: dict = {}

    def differentiated(self, function) -> set:
        """`loss` in `loss.backward()`, `accelerator.backward(loss)`, `scaler.scale(loss)`."""
        found = self._differentiated.get(function)
        if found is None:
            found = self._differentiated[function] = set()
            for site in self.model.calls_in(function):
                if site.method in _BACKWARD_METHODS:
                    parts = [receiver(site.node)] + [a.value for a in site.node.args if a.keyword is None]
                elif site.method == "scale":
                    parts = [a.value for a in site.node.args[:1]]
                else:
                    continue
                found |= {dotted_name(p) for p in parts if p is not None and dotted_name(p)}
        return found

    def differentiated_items(self, function) -> set:
        """`losses` in `losses['total'].backward()`: a dict one of whose items is back-propagated."""
        found = self._differentiated_items.get(function)
        if found is None:
            found = self._differentiated_items[function] = set()
            for site in self.model.calls_in(function):
                if site.method in _BACKWARD_METHODS:
                    part = receiver(site.node)
                    if type(part) is cst.Subscript and dotted_name(part.value):
                        found.add(dotted_name(part.value))
        return found

    def objective(self, function) -> set:
        found = self._objective.get(function)
        if found is None:
            seeds = set()
            model = self.model
            for site in model.calls_in(function):
                method = site.method
                args = [a.value for a in site.node.args]
                if method in _BACKWARD_METHODS:
                    parts = [receiver(site.node)] + args
                elif method == "scale":
                    parts = args[:1]  # `scaler.scale(loss)`
                elif _steps_with_loss(model, site, args, function):
                    parts = args[:1]  # `loss_scaler(loss, optimizer, ...)`, `amp.scale_loss(loss, opt)`
                else:
                    continue
                for part in parts:
                    if part is not None:
                        seeds |= _read(part)
            found = self._objective[function] = _closure(model, function, seeds)
        return found

    def returned(self, function, bare: bool, as_tensor: bool = False) -> set:
        """Names returned (bare: `return total`, `return [loss, n]`; else any name a return
        reads; as_tensor: any name a return reads other than through `.item()`/`float()`)."""
        key = (function, bare, as_tensor)
        found = self._returned.get(key)
        if found is None:
            seeds = set()
            for node in _returns_of(self.model, function):
                if node.value is None:
                    continue
                if bare:
                    parts = node.value.elements if type(node.value) in (cst.Tuple, cst.List) else ()
                    seeds |= {dotted_name(e) for e in [node.value] + [p.value for p in parts] if dotted_name(e)}
                else:
                    seeds |= _read(node.value, numbers_only=as_tensor)
            found = self._returned[key] = _closure(self.model, function, seeds)
        return found


def _steps_with_loss(model, site, args: list, function) -> bool:
    """A helper handed the loss first and the optimizer after it, that back-propagates and
    steps (`loss_scaler(loss, optimizer, parameters=...)`); not one that saves or logs."""
    if len(args) < 2 or _is_optimizer_name(model, args[0], function):
        return False
    words = set(name_tokens(site.callee or ""))
    if words & {"save", "checkpoint", "log", "print", "write", "dump", "report"}:
        return False
    return any(_is_optimizer_name(model, a, function) for a in args[1:])


def _is_optimizer_name(model, expr, function) -> bool:
    name = dotted_name(expr)
    if not name:
        return False
    words = set(name_tokens(name))
    if words & {"optimizer", "optim", "opt", "optimiser"}:
        return True
    return any((constructor(model, v) or "").startswith("torch.optim.") for v in bound_values(model, expr, function))


def _read(node: cst.CSTNode, numbers_only: bool = False) -> set:
    """Every name and dotted name read in an expression (`total / n` -> total, n); with
    `numbers_only`, not those read through `.item()` / `float(...)` (they leave as numbers)."""
    found = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if numbers_only and _is_detached(current):
            continue
        if type(current) is cst.Name:
            found.add(current.value)
            continue
        if type(current) is cst.Attribute:
            name = dotted_name(current)
            if name:
                found.add(name)
        pending.extend(syntactic_children(current))
    return found


def _closure(model, function, seeds: set) -> set:
    """`seeds` and every name of `function` whose value flows into one (`t = a + b`, `t += a`)."""
    names = set(seeds)
    pending = list(seeds)
    while pending:
        name = pending.pop()
        for binding in model.bindings.get(name, []):
            if binding.function is function and binding.kind in ("assign", "aug"):
                for new in _read(binding.value) - names:
                    names.add(new)
                    pending.append(new)
    return names


def _returns_of(model, function) -> list:
    if function is not None:
        info = model.info(function)
        return info.returns if info is not None else []
    return [node for node in model.parents if type(node) is cst.Return and model.enclosing_function(node) is None]


def _running_sums(model):
    """(function, target, added value, statement node) for `t += v`, `t = t + v`,
    `t[k] += v` (a total kept in a dict: the target is the dict's name) and
    `t = {k: t[k] + v for k in ...}` (a dict of totals rebuilt from itself each time)."""
    for bindings in model.bindings.values():
        for binding in bindings:
            statement = binding.statement
            # Exact types (these libcst classes have no subclasses): isinstance against
            # libcst's ABCs is a Python-level call, and this scans every node of the file.
            if type(statement) is not cst.Assign:
                continue
            value = statement.value
            if type(value) is cst.DictComp:
                value = value.value  # `{k: t[k] + v ...}`: each entry adds v to its old total
                if type(value) is cst.BinaryOperation and type(value.operator) is cst.Add \
                        and type(value.left) is cst.Subscript and dotted_name(value.left.value) == binding.target:
                    yield binding.function, binding.target, value.right, statement
            elif type(value) is cst.BinaryOperation and type(value.operator) is cst.Add \
                    and dotted_name(value.left) == binding.target:
                yield binding.function, binding.target, value.right, statement
    for statement, function in model.subscript_augs:
        if type(statement.operator) is cst.AddAssign:
            yield function, dotted_name(statement.target.value), statement.value, statement
    # `t += v`: the model records every augmented assignment to a name as an "aug" binding
    # (its statement is the AugAssign, its function the enclosing one), so there is no
    # need to scan every node of the file for them.
    for bindings in model.bindings.values():
        for binding in bindings:
            statement = binding.statement
            if binding.kind == "aug" and type(statement) is cst.AugAssign \
                    and type(statement.operator) is cst.AddAssign:
                yield binding.function, binding.target, statement.value, statement


class ClipGradWithoutUnscale(Rule):
    code = "TRN406"
    name = "clip-grad-without-unscale"
    severity = Severity.ERROR
    summary = "Gradients are clipped under a GradScaler without scaler.unscale_(optimizer) first."
    what = """
        Flags `clip_grad_norm_` / `clip_grad_value_` in a function that uses a
        `GradScaler` (`scaler.scale(...)` or `scaler.step(...)`) when no
        `scaler.unscale_(...)` comes before the clipping. A clip on the other branch of
        an if/else (the fp32 path) is left alone.
        It sees one function: an `unscale_` done by a helper or another method before the
        clipping method runs is not seen (that would be a false positive; none seen on
        real code), nor clipping inside a helper called after `scaler.scale(...)`.
        Severity error: the threshold is divided by the scale, the updates are wrong.
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
        # Safe only where `scaler.step(optimizer)` follows the clip in the same block: then the
        # scaler is in use there and unscales once per step. A step elsewhere (another loop, the
        # other branch of `if scaler:`) may mean no scaler here or another optimizer.
        step_statements = [ctx.model.statement_of(s.node) for _, s in scaler_calls if method_name(s.node) == "step"]
        safe = any(_follows_in_block(ctx.model, statement, later) for later in step_statements)
        return make_fix(ctx, f"Insert `{scaler}.unscale_({optimizer})` before clipping",
                        {statement: insert_before(statement, [unscale])}, SAFE if safe else UNSAFE)


def _follows_in_block(model, first, later) -> bool:
    """`later` is a statement after `first` in the same block."""
    block = model.parent(first)
    if later is None or block is None or model.parent(later) is not block:
        return False
    ids = [id(statement) for statement in getattr(block, "body", ())]
    return id(first) in ids and id(later) in ids and ids.index(id(first)) < ids.index(id(later))


def _is_grad_scaler(model, expr, function) -> bool:
    values = bound_values(model, expr, function)
    return not values or any(matches(constructor(model, v), *GRAD_SCALERS) for v in values)


OPTIM_STEP_RULES = [SchedulerStepBeforeOptimizerStep(), LossAccumulatedWithGraph(), ClipGradWithoutUnscale()]
