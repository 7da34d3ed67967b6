"""Transformers kept in containers: one scaler per column or per series is held in a dict or
a list (`scalers[col] = MinMaxScaler()`, `{c: StandardScaler() for c in cols}`,
`[MinMaxScaler() for _ in cols]`) and fitted through an item (`scalers[col].fit_transform(..)`,
or `sc = scalers[col]; sc.fit_transform(..)`). The fit is the transformer's fit whatever the
key: what is fitted, and on which rows, is what the leakage rules judge."""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from auditor.analysis.names import dotted_name

_CACHE_KEY = "transformer_containers"


class _Collector(cst.CSTVisitor):
    """(container's dotted name, enclosing function) -> constructor calls stored into it."""

    def __init__(self) -> None:
        self.stored: dict = {}
        self._functions: list = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def _add(self, name: Optional[str], calls: list) -> None:
        if name and calls:
            function = self._functions[-1] if self._functions else None
            self.stored.setdefault((name, function), []).extend(calls)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            target = target.target
            if isinstance(target, cst.Subscript):  # `scalers[col] = MinMaxScaler()`
                self._add(dotted_name(target.value), _calls_in(node.value))
            else:  # `scalers = {c: MinMaxScaler() for c in cols}`, `[StandardScaler() for _ in x]`
                self._add(dotted_name(target), _element_calls(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        # `scalers.append(MinMaxScaler())`, `scalers.setdefault(col, MinMaxScaler())`
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("append", "setdefault", "insert") and node.args:
            self._add(dotted_name(func.value), _calls_in(node.args[-1].value))


def _calls_in(value: cst.BaseExpression) -> list:
    return [value] if isinstance(value, cst.Call) else []


def _element_calls(value: cst.BaseExpression) -> list:
    if isinstance(value, (cst.DictComp,)):
        return _calls_in(value.value)
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return _calls_in(value.elt)
    if isinstance(value, cst.Dict):
        return [e.value for e in value.elements if isinstance(e, cst.DictElement) and isinstance(e.value, cst.Call)]
    if isinstance(value, (cst.List, cst.Tuple)):
        return [e.value for e in value.elements if isinstance(e.value, cst.Call)]
    return []


def _stored(model) -> dict:
    stored = model.cache.get(_CACHE_KEY)
    if stored is None:
        collector = _Collector()
        model.module.visit(collector)
        stored = model.cache[_CACHE_KEY] = collector.stored
    return stored


def contained_transformer(model, item: cst.BaseExpression, function,
                          constructor: Callable[[cst.Call], Optional[str]]) -> Optional[str]:
    """The transformer class that `item`, an item of a container (`scalers[col]`), holds: what
    the container is filled with in this function or an enclosing scope (module level
    included), when a constructor stored into it is a transformer."""
    if not isinstance(item, cst.Subscript):
        return None
    name = dotted_name(item.value)
    if name is None:
        return None
    stored = _stored(model)
    scope = function
    while True:
        calls = stored.get((name, scope))
        if calls:
            found = {constructor(call) for call in calls} - {None}
            return min(found) if found else None
        if scope is None:
            return None
        info = model.function_info.get(scope)
        scope = info.parent if info else None
