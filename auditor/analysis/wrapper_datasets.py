"""The user's dataset classes that wrap another dataset, judged by what they do.

`DatasetWrapper(CIFAR100(root, train=False))`, `TransformedSubset(test_subset, tf)`: a class
whose `__init__` keeps one of its arguments on `self` and whose `__getitem__` indexes that
attribute serves the rows of the dataset it was handed, so it holds that dataset's split, as
`Subset(...)` or `DataLoader(...)` do. The class's name says nothing; its item access does.
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.model import FileModel, syntactic_children
from auditor.analysis.names import dotted_name

_CACHE_KEY = "wrapper_datasets.classes"


def wrapper_classes(model: FileModel) -> dict:
    """{class name: (position, parameter)} for this file's classes whose items are items of the
    dataset handed to their constructor at that position (or by that keyword)."""
    found = model.cache.get(_CACHE_KEY)
    if found is None:
        found = model.cache[_CACHE_KEY] = _find(model)
    return found


def wrapped_argument(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
    """The dataset a call of a wrapper class of this file wraps, or None for any other call."""
    return wrapped_by(call, wrapper_classes(model))


def wrapped_by(call: cst.Call, table: Optional[dict]) -> Optional[cst.BaseExpression]:
    """The argument of `call` that `table` (`wrapper_classes`) says the called class wraps."""
    func = call.func
    entry = table.get(func.value) if table and isinstance(func, cst.Name) else None
    if entry is None:
        return None
    position, parameter = entry
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == parameter:
            return arg.value
    plain = [a for a in call.args if a.keyword is None]
    if any(a.star for a in plain[:position + 1]) or position >= len(plain):
        return None
    return plain[position].value


def _find(model: FileModel) -> dict:
    table: dict = {}
    for info in model.class_infos:
        init, getitem = info.methods.get("__init__"), info.methods.get("__getitem__")
        if init is None or getitem is None or info.name in table:
            continue
        positional = init.positional
        kept = _kept_parameters(init.node, set(positional))
        indexed = _indexed_attributes(getitem.node)
        for attribute, parameter in kept.items():
            if attribute in indexed:
                table[info.name] = (positional.index(parameter), parameter)
                break
    return table


def _kept_parameters(function: cst.FunctionDef, parameters: set) -> dict:
    """{attribute: parameter} for `self.attribute = parameter` statements of the constructor
    (the first such statement in source order per attribute; nested helpers not read)."""
    kept: dict = {}
    for node in _nodes_in_order(function, skip=cst.FunctionDef):
        if type(node) is not cst.Assign or not isinstance(node.value, cst.Name) \
                or node.value.value not in parameters:
            continue
        for target in node.targets:
            name = dotted_name(target.target)
            if name is not None and name.startswith("self.") and name.count(".") == 1:
                kept.setdefault(name[5:], node.value.value)
    return kept


def _indexed_attributes(function: cst.FunctionDef) -> set:
    """Attributes of `self` that `__getitem__` indexes: `self.base[i]`, `self.data[self.idx[i]]`."""
    found: set = set()
    for node in _nodes_in_order(function):
        if type(node) is cst.Subscript:
            name = dotted_name(node.value)
            if name is not None and name.startswith("self.") and name.count(".") == 1:
                found.add(name[5:])
    return found


def _nodes_in_order(root: cst.CSTNode, skip: Optional[type] = None) -> Iterator[cst.CSTNode]:
    """`root` and the nodes under it, each before its children, in source order; the nodes
    under a `skip` node other than `root` are left out. (A libcst visitor sees the same nodes,
    but rebuilds every one of them on the way.)"""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if skip is not None and node is not root and type(node) is skip:
            continue
        stack.extend(reversed(syntactic_children(node)))
