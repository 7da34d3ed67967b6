"""Where a forward pass's result goes, inside the scope that computes it.

`result_use(...)` follows the output of one call through the names of its scope (a
function, or the module body), flow-insensitively, and answers:

- TRAINING: it reaches a backward call (`loss.backward()`, `accelerator.backward(loss)`,
  `scaler.scale(loss).backward()`) or a call that also takes an optimizer (a loss scaler);
- ESCAPES: it leaves the scope still attached to the graph (returned, stored in an
  attribute or a container, handed to a call whose result is dropped): the caller decides;
- SHAPE: only its shape is read (a smoke test);
- READOUT: it is only turned into numbers (`.item()`, `.argmax()`, `.cpu()`, `.detach()`,
  a comparison, numpy/scikit-learn, printing): this is evaluation or prediction;
- None: nothing is done with it that says either.

Names are never read for meaning here: this is behaviour, for the rules to weigh with
the names and the data.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel, syntactic_children
from auditor.analysis.names import dotted_name

TRAINING, ESCAPES, READOUT, SHAPE = "training", "escapes", "readout", "shape"

# Methods whose result holds no graph: numbers, indices, copies off the graph.
_DETACHING = {"detach", "item", "cpu", "numpy", "tolist", "argmax", "argmin", "data",
              "eq", "ne", "gt", "lt", "ge", "le", "isnan", "isinf", "isfinite", "nonzero", "round", "sign"}
_SHAPES = {"shape", "size", "dim", "ndim", "dtype", "device"}
# Methods that put their argument into the receiver (which then holds the graph).
_STORING = {"append", "extend", "insert", "add", "put", "update", "setdefault", "add_"}
# Calls that only show or record numbers.
_SHOWING = {"print", "len", "float", "int", "bool", "str", "repr", "format"}
_NUMBER_MODULES = ("numpy.", "sklearn.", "scipy.", "pandas.", "torchmetrics.", "math.", "matplotlib.")
_MAX_ROUNDS = 6
_CLOSURES = ".closures"  # a key no name can be


def result_use(model: FileModel, call: cst.Call, function: Optional[cst.FunctionDef], is_backward,
               is_optimizer, trains) -> tuple[Optional[str], list, Optional[str]]:
    """(TRAINING, ESCAPES, READOUT or None, the training calls reached, the use apart from
    training) for the value of `call` (see the module docstring).

    `is_backward(call_site)`, `is_optimizer(name, function)` and `trains(call_site)` (a
    call of a function of the file that back-propagates) come from the program.
    """
    names = _names_in(model, function)
    order = source_order(model)
    graph: dict[str, set] = {}  # name -> positions of the bindings that give it the graph
    numbers: dict[str, set] = {}  # the same for values already turned into numbers
    found: set = set()
    seen: set = set()
    pending = [call]
    for _ in range(_MAX_ROUNDS):
        for node in pending:
            detached = type(node) is cst.Name and _reached(model, order, node, function, numbers) \
                and not _reached(model, order, node, function, graph)
            _follow(model, order, node, function, graph, numbers, found, is_backward, is_optimizer, trains,
                    detached)
        # Flow matters where names are reused (a notebook's `loss` in training, then in
        # evaluation): an occurrence counts when the last binding before it is tainted.
        if function is not None and not graph.keys().isdisjoint(names[_CLOSURES]):
            found.add(ESCAPES)  # a nested function reads it: what it does there is its business
        pending = [n for name in {*graph, *numbers} for n in names.get(name, ())
                   if n not in seen and (_reached(model, order, n, function, graph)
                                         or _reached(model, order, n, function, numbers))]
        if not pending:
            break
        seen.update(pending)
    trained = [item for item in found if type(item) is not str]
    # What else the output does, training left aside: the use on a path where the training
    # call cannot run (`if train: loss.backward()` in a helper that also evaluates).
    rest = ESCAPES if ESCAPES in found else READOUT if READOUT in found else SHAPE if SHAPE in found else None
    if trained:
        return TRAINING, trained, rest
    return rest, [], rest


def source_order(model: FileModel) -> dict:
    """node -> its position in the source (the parent table is filled in pre-order)."""
    order = model.cache.get("source_order")
    if order is None:
        order = model.cache["source_order"] = {n: i for i, n in enumerate(model.parents)}
    return order


def _reached(model: FileModel, order: dict, occurrence: cst.Name, function, tainted: dict) -> bool:
    """The binding of `occurrence`'s name in force where it is read is one of `tainted`'s."""
    positions = tainted.get(occurrence.value)
    if not positions:
        return False
    at = order.get(occurrence, 0)
    last_taint = max((p for p in positions if p < at), default=None)
    if last_taint is None:
        return False
    for binding in model.bindings.get(occurrence.value, ()):
        if binding.function is function and binding.kind not in ("aug", "param"):
            where = order.get(binding.statement, -1)
            if last_taint < where < at and not (binding.kind == "assign" and _in_value(model, occurrence,
                                                                                          binding.statement)):
                return False  # rebound in between: another value
    return True


def _in_value(model: FileModel, occurrence: cst.Name, statement: cst.CSTNode) -> bool:
    """`occurrence` is read in the value of the assignment `statement` (`pred = (pred > 0.5)
    .float()`): the value is computed before the name is rebound, so it still reads the old one."""
    value = getattr(statement, "value", None)
    return value is not None and (occurrence is value or model.is_within(occurrence, value))


def _follow(model: FileModel, order: dict, node: cst.CSTNode, function, graph: dict, numbers: dict,
            found: set, is_backward, is_optimizer, trains, detached: bool) -> None:
    """Walk up from one occurrence of the value to its statement, recording what happens."""
    parents = model.parents
    child, current = node, parents.get(node)
    while current is not None:
        kind = type(current)
        if kind is cst.Attribute and current.value is child:
            if current.attr.value in _SHAPES:
                found.add(SHAPE)  # its shape, not its values: neither training nor a read-out
                return
            if current.attr.value in _DETACHING:
                detached = True
        elif kind is cst.Call:
            site = model.call_site.get(current)
            if current.func is child:
                # The receiver chain (`loss.backward()`, `scaler.scale(loss).backward()`).
                if site is not None and not detached and is_backward(site):
                    found.add(site)
                    return
            elif site is not None:
                method = site.method
                if not detached and (is_backward(site) or trains(site) or any(
                        is_optimizer(dotted_name(a.value), function) for a in current.args if a.keyword is None)):
                    found.add(site)
                    return
                qualified = site.qualname or ""
                callee = site.callee or ""
                if qualified.startswith(_NUMBER_MODULES) or callee in _SHOWING or \
                        callee.rsplit(".", 1)[-1].startswith(("log", "add_scalar", "print")):
                    detached = True
                    found.add(READOUT)
                elif method in _STORING and site.receiver is not None:
                    owner = dotted_name(site.receiver)
                    if owner is None or "." in owner:
                        found.add(READOUT if detached else ESCAPES)
                    else:
                        (numbers if detached else graph).setdefault(owner, set()).add(order.get(current, 0))
                        found.add(READOUT if detached else ESCAPES)  # `metric.update(out, y)`
                    return
                elif type(parents.get(current)) is cst.Expr and not detached:
                    found.add(ESCAPES)  # handed to a call whose result is dropped: it may train
                    return
        elif kind is cst.Comparison:
            detached = True
        elif kind in (cst.Return, cst.Yield):
            found.add(READOUT if detached else ESCAPES)
            return
        elif kind in (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.NamedExpr):
            if child is not getattr(current, "value", None):
                return  # an occurrence in a target: a subscript's index, not the value
            targets = [t.target for t in current.targets] if kind is cst.Assign else [current.target]
            for target in targets:
                _bind(target, detached, graph, numbers, found, order.get(current, 0))
            if detached:
                found.add(READOUT)
            return
        elif kind is cst.For and child is current.iter:
            _bind(current.target, detached, graph, numbers, found, order.get(current, 0))
            return
        elif kind in (cst.SimpleStatementLine, cst.If, cst.While, cst.With, cst.FunctionDef, cst.Module):
            if detached:
                found.add(READOUT)
            return
        child, current = current, parents.get(current)


def _bind(target: cst.BaseExpression, detached: bool, graph: dict, numbers: dict, found: set,
          position: int) -> None:
    if type(target) in (cst.Tuple, cst.List):
        for element in target.elements:
            _bind(element.value, detached, graph, numbers, found, position)
        return
    if type(target) is cst.StarredElement:
        _bind(target.value, detached, graph, numbers, found, position)
        return
    if type(target) is cst.Name:
        (numbers if detached else graph).setdefault(target.value, set()).add(position)
        return
    # `self.out = out`, `outputs[i] = out`: stored where another scope can read it.
    found.add(READOUT if detached else ESCAPES)


def _names_in(model: FileModel, function: Optional[cst.FunctionDef]) -> dict[str, list]:
    """name -> its occurrences (Name nodes read as values) in the scope, nested scopes left out."""
    table = model.cache.setdefault("uses.names", {})
    found = table.get(function)
    if found is not None:
        return found
    found: dict = {}
    closures: set = set()  # names that nested functions and lambdas read
    found[_CLOSURES] = closures
    root = function.body if function is not None else model.module
    stack = list(syntactic_children(root))
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is cst.Name:
            found.setdefault(node.value, []).append(node)
            continue
        if kind in (cst.FunctionDef, cst.Lambda):
            inner = [node.body]
            while inner:
                child = inner.pop()
                if type(child) is cst.Name:
                    closures.add(child.value)
                elif type(child) is cst.Attribute:
                    inner.append(child.value)
                else:
                    inner.extend(syntactic_children(child))
            continue
        if kind is cst.ClassDef:
            continue
        if kind is cst.Attribute:
            stack.append(node.value)  # `x.attr`: only `x` is a name read here
            continue
        stack.extend(syntactic_children(node))
    table[function] = found
    return found
