"""Functions that build and return a new model: `get_model("LeNet")`, `build_model(cfg)`.

A top-level function of the file (or a method, called as `self.build_model()` in its class)
is a model factory when every `return` gives a newly built
model (a model class of the file, a torch/torchvision constructor, another factory), directly
or through a local name bound only to such values, possibly moved (`.to(device)`), and the
function switches no mode (`m.eval(); return m` hands back a model in eval mode). What it
returns is then a fresh model, in training mode, like a constructor's result.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from auditor.analysis.model import FileModel, FunctionInfo
from auditor.analysis.names import dotted_name

_MOVES = ("to", "cuda", "cpu", "double", "float", "half")
_MAX_DEPTH = 3


def factory_of(model: FileModel, call: cst.Call, constructs: Callable, memo: str = "factories") -> Optional[FunctionInfo]:
    """The factory function of this file that `call` runs, else None. `constructs(call)`
    says whether a call builds a model (the roles' constructor test); `memo` names the
    file cache that keeps the answers of that test (one per test)."""
    func = call.func
    if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        return _factory_method(model, call, func.attr.value, constructs, memo)
    if type(func) is not cst.Name:
        return None
    named = [i for i in model.functions_named(func.value) if i.parent is None and i.cls is None]
    if len(named) != 1:
        return None
    return named[0] if is_factory(model, named[0], constructs, memo=memo) else None


def _factory_method(model: FileModel, call: cst.Call, name: str, constructs: Callable,
                    memo: str) -> Optional[FunctionInfo]:
    """`self.get_model()` in a method: the class's own method `name` when it is a factory
    (a trainer building its network: `self.net = self.build_model()`). A subclass of the
    file that defines its own `name` may return something else there: then None."""
    cls = model.class_of(model.enclosing_function(call))
    if cls is None:
        return None
    info = cls.methods.get(name)
    if info is None or info.parent is not None:
        return None
    if any(other is not cls and name in other.methods and cls.name in {b.rsplit(".", 1)[-1] for b in other.bases}
           for other in model.class_info.values()):
        return None
    return info if is_factory(model, info, constructs, memo=memo) else None


def is_factory(model: FileModel, info: FunctionInfo, constructs: Callable, depth: int = 0,
               memo: str = "factories") -> bool:
    answers = model.cache.setdefault(memo, {})
    found = answers.get(info.node)
    if found is None:
        answers[info.node] = False  # a recursion guard
        found = answers[info.node] = _returns_new_models(model, info, constructs, depth, memo)
    return found


def _returns_new_models(model: FileModel, info: FunctionInfo, constructs: Callable, depth: int, memo: str) -> bool:
    if not info.returns or depth > _MAX_DEPTH:
        return False
    if any(site.method in ("eval", "train", "requires_grad_") for site in info.calls):
        return False  # it sets the mode itself: not the fresh model's
    return all(ret.value is not None and _new_model(model, info, ret.value, constructs, depth, memo)
               for ret in info.returns)


def _new_model(model: FileModel, info: FunctionInfo, value: cst.BaseExpression, constructs: Callable,
               depth: int, memo: str) -> bool:
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    if type(value) is cst.Call:
        if constructs(value):
            return True
        inner = factory_of(model, value, constructs, memo) if depth < _MAX_DEPTH else None
        return inner is not None
    name = dotted_name(value)
    if type(value) is not cst.Name or name in info.params:
        return False
    bindings = [b for b in model.bindings_of(name, info.node) if b.function is info.node]
    return bool(bindings) and all(
        b.kind == "assign" and b.index is None and b.value is not value and (
            dotted_name(_unmoved(b.value)) == name or _new_model(model, info, b.value, constructs, depth + 1, memo))
        for b in bindings) and any(dotted_name(_unmoved(b.value)) != name for b in bindings)


def _unmoved(value: cst.BaseExpression) -> cst.BaseExpression:
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    return value
