"""Rows cut off data at a bound (`X[:n]` and `X[n:]`): a split known by behaviour.

Two cuts of the same data at the same bound, one keeping the rows before it and one the
rows after, divide the data into two parts. When one part is named as training data, the
other is held out, whatever it is called (`X_tr, X_ho = X[:n], X[n:]`). With neither part
named, which one trains is not known (a notebook may build its filters from `eights[1000:]`
and test on `eights[:1000]`): nothing is said.
Cuts with two bounds (`X[i:i + n]`, windows), of columns (`data[:, :-1]`) or at different
bounds (`X[:-1]` inputs, `X[1:]` targets) hold nothing out.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name
from auditor.analysis.model import syntactic_children

HEAD, TAIL = "head", "tail"


def row_cut(node: cst.BaseExpression) -> Optional[tuple]:
    """(the data's name, HEAD/TAIL, the bound's code) of `X[:n]` / `X[n:]`, else None."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return None
    cut = node.slice[0].slice
    if not isinstance(cut, cst.Slice) or cut.step is not None or (cut.lower is None) == (cut.upper is None):
        return None
    base = dotted_name(node.value)
    if base is None:
        return None
    bound = cut.upper if cut.lower is None else cut.lower
    return base, HEAD if cut.lower is None else TAIL, _code(bound)


def held_out_cut(model, node: cst.BaseExpression, function, names_training: Callable[[str], bool]) -> bool:
    """Whether `node` is the held-out one of two complementary cuts in the scope of `function`
    (the module when None): its complement is bound to a name that `names_training` reads as
    training data, and it is not (the naming policy is the caller's: splits.py)."""
    cut = row_cut(node)
    if cut is None:
        return False
    cuts = _cuts_in(model, function)
    if any(names_training(name) for name in cuts.get(cut, ())):
        return False
    base, part, bound = cut
    return any(names_training(name) for name in cuts.get((base, TAIL if part == HEAD else HEAD, bound), ()))


def _cuts_in(model, function) -> dict:
    """{cut: the names given to it} for every row cut written in the scope."""
    key = ("row_cuts", function)
    found = model.cache.get(key)
    if found is not None:
        return found
    found = {}
    named: dict = {}  # id(cut node) -> the name it is assigned to
    scope = function.body if function is not None else model.module
    nodes = list(_walk(scope))
    for node in nodes:
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            for name, value in _named_parts(node.targets[0].target, node.value):
                named[id(value)] = name
    for node in nodes:
        cut = row_cut(node) if isinstance(node, cst.Subscript) else None
        if cut is not None:
            name = named.get(id(node))
            found.setdefault(cut, set()).update([name] if name else [])
    model.cache[key] = found
    return found


def _named_parts(target: cst.BaseExpression, value: cst.BaseExpression) -> list:
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
        if len(target.elements) != len(value.elements):
            return []
        return [(dotted_name(t.value), v.value) for t, v in zip(target.elements, value.elements)]
    return [(dotted_name(target), value)]


def _walk(scope: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The nodes of a scope, not entering nested functions and classes."""
    stack = [scope]
    while stack:
        node = stack.pop()
        yield node
        for child in syntactic_children(node):
            if not isinstance(child, (cst.FunctionDef, cst.ClassDef)):
                stack.append(child)


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
