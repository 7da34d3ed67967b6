"""The model a function was handed, among a constructor's arguments.

`Featurizer(model)` inside `def evaluate(model, ...)`: the argument that is a parameter of
the enclosing function and a model (its uses or callers say so, not `num_classes`). Kept
apart so that mode_layers.py (layers' visibility) and wrapped_models.py (the wrapper's mode)
share it without importing each other.
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name

_MOVES = ("to", "cuda", "cpu", "half", "float", "double", "train", "eval", "requires_grad_")


def strip_moves(value: cst.BaseExpression) -> cst.BaseExpression:
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    return value


def is_handed_model(model: FileModel, name: str, function) -> bool:
    """The handed argument is a model (its uses or its callers say so), not `num_classes`."""
    from auditor.analysis.roles import roles_of  # imported late: mode_layers, which roles reads, imports this module

    return bool(roles_of(model).is_model(name, function))


def given_argument(model: FileModel, call: cst.Call, function) -> cst.BaseExpression | None:
    """The argument of the constructor `call` that is a parameter of `function` (the model
    handed in: `Featurizer(model)` inside `def evaluate(model, ...)`), else None."""
    info = model.function_info.get(function) if function is not None else None
    if info is None:
        return None
    for arg in call.args:
        value = strip_moves(arg.value)
        name = dotted_name(value)
        if name and name.split(".", 1)[0] in info.params and name.split(".", 1)[0] not in ("self", "cls") \
                and is_handed_model(model, name, function):
            return value
    return None
