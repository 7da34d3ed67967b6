"""Models frozen for good: every parameter's `requires_grad` turned off, never turned back on.

A forward pass of such a model over inputs that need no gradient records no graph, with or
without `torch.no_grad()` (an Inception network scoring FID, a frozen teacher or feature
extractor): TRN102's "graph nobody uses" does not happen. Only the whole model counts: a
frozen backbone under a trainable head still builds the head's graph.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name
from auditor.analysis.uses import source_order

_MOVES = ("to", "cuda", "cpu", "float", "double", "half", "eval", "train")


def frozen_for_good(prog, key: str, function, at: cst.CSTNode, optimized) -> bool:
    """`key` (as called in `function`, at node `at`) is frozen before this call, in the same
    scope, and nothing in the file unfreezes it or hands its parameters to an optimizer.
    `optimized`: the modules the file's optimizers get (None: no optimizer built here)."""
    if optimized is not None and (not isinstance(optimized, set) or any(_related(key, o) for o in optimized)):
        return False  # trained here (or which modules are trained cannot be read)
    model = prog.model
    order = source_order(model)
    found = False
    for site in model.calls:
        verdict = _switch(site)
        if verdict is None:
            continue
        receiver = _module_of(site.receiver)
        if verdict:
            if receiver is None or _related(key, receiver):
                return False  # `requires_grad_()` / `requires_grad_(True)` turns it back on
            continue
        if receiver is not None and _covers(receiver, key) and _same_scope(prog, key, function, site.function) \
                and (site.function is not function or order.get(site.node, 0) < order.get(at, 0)):
            found = True
    for loop, owner, value in _parameter_loops(model):
        holder = _function_of(model, loop)
        if value:
            if _related(key, owner):
                return False
            continue
        if _covers(owner, key) and _same_scope(prog, key, function, holder) and \
                (holder is not function or order.get(loop, 0) < order.get(at, 0)):
            found = True
    return found


def _switch(site) -> Optional[bool]:
    """True for `x.requires_grad_()` / `(True)`, False for `(False)`, None for other calls."""
    if site.method != "requires_grad_" or site.receiver is None:
        return None
    args = site.node.args
    if not args:
        return True
    value = args[0].value
    if type(value) is cst.Name and value.value in ("True", "False"):
        return value.value == "True"
    return True  # a flag: it may turn it on


def _module_of(receiver: Optional[cst.BaseExpression]) -> Optional[str]:
    """`model` for `model.eval().to(device)`."""
    while type(receiver) is cst.Call and type(receiver.func) is cst.Attribute and \
            receiver.func.attr.value in _MOVES:
        receiver = receiver.func.value
    return dotted_name(receiver) if receiver is not None else None


def _parameter_loops(model):
    """(loop, owner, value) for `for p in owner.parameters(): p.requires_grad = value` with the
    assignment (or `p.requires_grad_(value)`) directly in the loop body; value True when unknown.
    Read once per file."""
    cached = model.cache.get("frozen.parameter_loops")
    if cached is None:
        cached = model.cache["frozen.parameter_loops"] = _find_parameter_loops(model)
    return cached


def _find_parameter_loops(model):
    found = []
    for node in model.parents:
        if type(node) is not cst.For or type(node.iter) is not cst.Call or \
                type(node.iter.func) is not cst.Attribute or node.iter.func.attr.value != "parameters":
            continue
        owner = _module_of(node.iter.func.value)
        target = dotted_name(node.target)
        if owner is None or target is None or type(node.body) is not cst.IndentedBlock:
            continue
        for statement in node.body.body:
            if type(statement) is not cst.SimpleStatementLine:
                continue
            for small in statement.body:
                value = _assigned(small, target)
                if value is not None:
                    found.append((node, owner, value))
    return found


def _assigned(small: cst.BaseSmallStatement, target: str) -> Optional[bool]:
    expr = None
    if type(small) is cst.Assign and len(small.targets) == 1 and \
            dotted_name(small.targets[0].target) == f"{target}.requires_grad":
        expr = small.value
    elif type(small) is cst.Expr and type(small.value) is cst.Call and \
            dotted_name(small.value.func) == f"{target}.requires_grad_":
        if not small.value.args:
            return True
        expr = small.value.args[0].value
    if expr is None:
        return None
    return not (type(expr) is cst.Name and expr.value == "False")


def _function_of(model, node):
    current = model.parents.get(node)
    while current is not None and type(current) is not cst.FunctionDef:
        current = model.parents.get(current)
    return current


def _covers(frozen: str, key: str) -> bool:
    """Freezing `frozen` freezes all of `key`: the same module, a holder of it, or the module
    inside a DataParallel wrapper (which has no parameters of its own)."""
    return key == frozen or key.startswith(frozen + ".") or frozen == key + ".module"


def _related(key: str, other: str) -> bool:
    return key == other or key.startswith(other + ".") or other.startswith(key + ".") or other == "self"


def _same_scope(prog, key: str, function, holder) -> bool:
    """The freeze reaches this call: the same function, the same class for `self.` names,
    or the module level for a name the function does not bind itself."""
    if holder is function:
        return True
    model = prog.model
    if key.startswith("self."):
        return holder is not None and function is not None and model.class_of(holder) is model.class_of(function) \
            and model.class_of(function) is not None
    if holder is None and function is not None:
        return all(b.function is None for b in model.bindings_of(key, function))
    return False
