"""Gradient accumulation: which backward calls add up into one optimizer step.

Two forms are recognised:
- a step under a counter or modulo condition inside the micro-batch loop
  (`if (i + 1) % k == 0: opt.step()`), with backward outside that condition;
- an inner loop over `range(k)` that calls backward, followed by the step.
Accelerate's `accelerator.accumulate(...)` / `accelerator.backward(...)` scale for
the user and are not accumulation loops to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from auditor.analysis.model import CallSite
from auditor.analysis.names import dotted_name


@dataclass
class AccumulationLoop:
    loop: cst.CSTNode  # the micro-batch loop
    step: CallSite
    backwards: list[CallSite]
    condition: Optional[cst.If]  # form 1: the `if` guarding the step


def _contains_modulo(node: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_BinaryOperation(self, n: cst.BinaryOperation) -> None:
            nonlocal found
            if isinstance(n.operator, cst.Modulo):
                found = True

    node.visit(_Find())  # a condition is a handful of nodes
    return found


def _names_in(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            names.add(n.value)

    node.visit(_Collect())
    return names


def accumulation_loops(prog) -> list[AccumulationLoop]:
    model = prog.model
    cached = model.cache.get("accumulation")
    if cached is not None:
        return cached
    found: list[AccumulationLoop] = []
    for step in model.calls:
        if not prog.is_step(step):
            continue
        loops = prog.loops_of(step.node)
        if not loops:
            continue
        loop = loops[0]
        sites = prog.sites_in(loop, step.function)
        backwards = [s for s in sites if prog.is_backward(s)]
        if any(_accelerate(s) for s in sites):
            continue
        condition = _accumulation_condition(prog, step, loop)
        if condition is not None:
            outside = [b for b in backwards if not prog.inside(b.node, condition)]
            if outside:
                found.append(AccumulationLoop(loop, step, outside, condition))
            continue
        for inner in _inner_range_loops(prog, loop, step):
            inner_backwards = [b for b in backwards if prog.inside(b.node, inner)]
            if inner_backwards:
                found.append(AccumulationLoop(inner, step, inner_backwards, None))
    model.cache["accumulation"] = found
    return found


def _accelerate(site: CallSite) -> bool:
    """`accelerator.accumulate(model)` / `accelerator.backward(loss)`: Accelerate scales the loss."""
    if site.method in ("accumulate", "no_sync") or (site.method == "backward" and site.node.args):
        return True
    return False


def _accumulation_condition(prog, step: CallSite, loop) -> Optional[cst.If]:
    """The `if` between the loop and the step whose test counts micro-batches."""
    for ancestor in prog.model.ancestors(step.node):
        if ancestor is loop:
            return None
        if isinstance(ancestor, cst.If) and not prog.inside(step.node, ancestor.test):
            if _contains_modulo(ancestor.test):
                return ancestor
            counters = _counters(prog, loop)
            if _names_in(ancestor.test) & counters and isinstance(ancestor.test, cst.Comparison):
                return ancestor
    return None


def _counters(prog, loop) -> set[str]:
    """Names incremented (`n += 1`) inside the loop body."""
    names = set()
    for name, bindings in prog.model.bindings.items():
        for b in bindings:
            if b.kind == "aug" and isinstance(b.statement, cst.AugAssign) and \
                    isinstance(b.statement.operator, cst.AddAssign) and prog.inside(b.statement, loop):
                names.add(name)
    return names


def _inner_range_loops(prog, loop, step: CallSite) -> list:
    """Loops over `range(...)` inside `loop` (or before the step) that do not hold the step."""
    inner = []
    for site in prog.sites_in(loop, step.function):
        if site.callee != "range":
            continue
        parent = prog.model.parent(site.node)
        if isinstance(parent, cst.For) and parent.iter is site.node and parent is not loop and \
                not prog.inside(step.node, parent):
            inner.append(parent)
    return inner


def backward_operand(site: CallSite) -> Optional[cst.BaseExpression]:
    """The loss tensor a backward call differentiates (through `scaler.scale(...)`)."""
    receiver = site.receiver
    if receiver is None:
        return site.node.args[0].value if site.node.args else None
    if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute) and \
            receiver.func.attr.value == "scale" and receiver.args:
        return receiver.args[0].value
    return receiver


def scaled(prog, node: Optional[cst.BaseExpression], function, depth: int = 0) -> Optional[bool]:
    """True: divided by something (or times a reciprocal); False: a plain loss; None: cannot tell."""
    if node is None or depth > 6:
        return None
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Divide):
            return True
        if isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                if isinstance(side, cst.Float) or (isinstance(side, cst.BinaryOperation) and
                                                   isinstance(side.operator, cst.Divide)):
                    return True
                if isinstance(side, (cst.Name, cst.Attribute)):
                    if any(scaled(prog, v, function, depth + 1) for v in
                           prog.model.values_of(dotted_name(side) or "", function)):
                        return True
            return None
        if isinstance(node.operator, cst.Add):
            left = scaled(prog, node.left, function, depth + 1)
            right = scaled(prog, node.right, function, depth + 1)
            if left is True and right is True:
                return True
            return False if left is False and right is False else None
        return None
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("div", "div_", "true_divide"):
            return True
        if dotted_name(func) in ("torch.div", "torch.true_divide"):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in ("sum", "mean", "float", "squeeze"):
            return scaled(prog, func.value, function, depth + 1)
        site = prog.model.call_site.get(node)
        if site is not None:
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            if resolved is not None:
                info = prog.model.function_info[resolved[0]]
                verdicts = [scaled(prog, r.value, info.node, depth + 1) for r in info.returns if r.value]
                if verdicts and all(v is True for v in verdicts):
                    return True
                return False if verdicts and all(v is False for v in verdicts) else None
            kind = prog.roles.loss_kind_of_callee(site.callee, node, site.function)
            name = (site.callee or "").lower()
            if kind or "loss" in name or "criterion" in name or (site.qualname or "").startswith("torch.nn.functional"):
                return False
            if site.callee is not None and prog.roles.is_model(site.callee, site.function):
                return False
            # `crit(model(x), y)`: whatever it is called, it scores the model's output.
            for arg in node.args:
                inner = arg.value
                if isinstance(inner, cst.Call) and prog.roles.is_model(dotted_name(inner.func), site.function):
                    return False
        return None
    if isinstance(node, cst.Attribute) and node.attr.value == "loss":
        return False
    if isinstance(node, cst.Subscript) and isinstance(node.value, (cst.Name, cst.Call)):
        from auditor.analysis.model import subscript_key

        if subscript_key(node) == "loss":
            return False
        return None
    if isinstance(node, cst.Name):
        bindings = prog.model.bindings_of(node.value, function)
        if not bindings:
            return None
        verdicts = []
        for b in bindings:
            if b.kind == "aug":
                op = b.statement.operator if isinstance(b.statement, cst.AugAssign) else None
                if isinstance(op, (cst.DivideAssign, cst.MultiplyAssign)):
                    return True
                continue
            if b.kind != "assign" or b.index is not None:
                return None
            verdicts.append(scaled(prog, b.value, b.function, depth + 1))
        if any(v is True for v in verdicts):
            return True
        return False if verdicts and all(v is False for v in verdicts) else None
    return None
