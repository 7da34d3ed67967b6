"""Gradients rescaled in place between an accumulation window's backward calls and its step.

An accumulation window may average at the gradients instead of the loss: MAML-style meta
batches back-propagate one task loss at a time and then multiply every parameter's gradient
by `1 / meta_batch_size` before the step (`p.grad.data.mul_(1.0 / n)`, `p.grad /= n`,
`p.grad = p.grad / n`, an optimizer's `multiply_grads(1 / sample_size)`). The step then sees
the mean, as if each loss had been divided: the window is scaled.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.accumulation import exclusive
from auditor.analysis.model import CallSite
from auditor.analysis.names import dotted_name

_IN_PLACE = ("mul_", "div_", "true_divide_")
# Optimizer wrappers that rescale the gradients they hold (fairseq's `multiply_grads`).
_RESCALING_METHODS = ("multiply_grads", "scale_grads", "div_grads", "divide_grads")


def _reads_grad(node: Optional[cst.BaseExpression]) -> bool:
    """`p.grad`, `p.grad.data`, `param.grad[...]`: an expression over a `.grad` attribute."""
    name = dotted_name(node) if node is not None else None
    while node is not None and name is None and isinstance(node, (cst.Subscript, cst.Attribute)):
        node = node.value
        name = dotted_name(node)
    return bool(name) and "grad" in name.split(".")[1:]


def _names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    node.visit(_Collect())
    return found


def _rescales(site: CallSite) -> Optional[cst.BaseExpression]:
    """The factor of an in-place rescale of gradients made by this call, else None."""
    if not site.node.args:
        return None
    if site.method in _IN_PLACE and _reads_grad(site.receiver):
        return site.node.args[0].value
    if site.method in _RESCALING_METHODS:
        return site.node.args[0].value
    return None


def _order(model) -> dict:
    order = model.cache.get("statement_order")
    if order is None:
        order = model.cache["statement_order"] = {id(node): i for i, node in enumerate(model.parents)}
    return order


def gradients_rescaled(prog, step: CallSite, loop: cst.CSTNode, counters: frozenset = frozenset()) -> bool:
    """Are the gradients `step` applies multiplied or divided in place inside `loop` (the step's
    iteration), before the step and on a path that reaches it? A factor reading the
    micro-batch counter does not count (it weighs micro-batches unevenly)."""
    model = prog.model
    order = _order(model)
    before = order.get(id(step.node), -1)

    def usable(node: cst.CSTNode, factor: cst.BaseExpression) -> bool:
        return prog.inside(node, loop) and order.get(id(node), -1) < before and \
            not exclusive(prog, node, step.node) and not (_names(factor) & counters)

    for site in prog.sites_in(loop, step.function):
        factor = _rescales(site)
        if factor is not None and usable(site.node, factor):
            return True
    for name, bindings in model.bindings.items():
        if "grad" not in name.split(".")[1:]:
            continue
        for b in bindings:
            if b.function is not step.function:
                continue
            statement = b.statement
            if isinstance(statement, cst.AugAssign) and \
                    isinstance(statement.operator, (cst.DivideAssign, cst.MultiplyAssign)):
                if usable(statement, statement.value):
                    return True
            elif b.kind == "assign" and isinstance(b.value, cst.BinaryOperation) and \
                    isinstance(b.value.operator, (cst.Divide, cst.Multiply)) and _reads_grad_operand(b.value):
                if usable(statement, b.value):
                    return True
    return False


def _reads_grad_operand(value: cst.BinaryOperation) -> bool:
    """`p.grad / n`, `n * p.grad`: the rescaled gradient itself."""
    return _reads_grad(value.left) or _reads_grad(value.right)
