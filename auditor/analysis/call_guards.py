"""Whether a call of a helper reaches a statement that its parameters guard.

`def prep(x, fit=False): if fit: return scaler.fit_transform(x) ...` fits only when the caller
turns `fit` on; `prep(x_test)` takes the other branch. Likewise `if scaler is None: scaler =
StandardScaler(); x = scaler.fit_transform(x)` fits only when no scaler is handed in. A guard is
an `if` around the statement whose test reads one parameter: `p`, `not p`, `p is None`,
`p is not None`, `p == "train"`; the call decides it when it passes (or defaults) a literal, or
a name for an `is None` test or for the truth of a parameter that defaults to None.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

_UNKNOWN = object()


def call_reaches(model, info, node: cst.CSTNode, arguments: dict) -> bool:
    """False when some guard of `node` in the function `info` is decided against it by the
    call's `arguments` ({parameter: expression}) or the parameters' defaults."""
    body = info.node.body
    child = node
    for ancestor in model.ancestors(node):
        if ancestor is body:
            break
        if isinstance(ancestor, cst.If):
            in_body = child is ancestor.body
            if in_body or child is ancestor.orelse:
                wanted = _guard_value(ancestor.test, info, arguments)
                if wanted is not _UNKNOWN and wanted != in_body:
                    return False
        child = ancestor
    return True


def _guard_value(test: cst.BaseExpression, info, arguments: dict):
    """True/False: what the test evaluates to for this call; _UNKNOWN when it cannot tell."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _guard_value(test.expression, info, arguments)
        return inner if inner is _UNKNOWN else not inner
    if isinstance(test, cst.Name):
        value = _argument(test.value, info, arguments)
        literal = _literal(value)
        if literal is _UNKNOWN and _optional_object(test.value, info) and isinstance(value, (cst.Name, cst.Attribute)):
            return True  # `if not scaler:` with `scaler=None` by default, and a scaler handed in
        return _UNKNOWN if literal is _UNKNOWN else bool(literal)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name):
        target = test.comparisons[0]
        value = _argument(test.left.value, info, arguments)
        if value is _UNKNOWN:
            return _UNKNOWN
        if isinstance(target.operator, (cst.Is, cst.IsNot)) and isinstance(target.comparator, cst.Name) \
                and target.comparator.value == "None":
            is_none = isinstance(value, cst.Name) and value.value == "None"
            if not is_none and _literal(value) is _UNKNOWN and not isinstance(value, (cst.Name, cst.Attribute,
                                                                                      cst.Call)):
                return _UNKNOWN
            return is_none if isinstance(target.operator, cst.Is) else not is_none
        if isinstance(target.operator, (cst.Equal, cst.NotEqual)):
            left, right = _literal(value), _literal(target.comparator)
            if left is _UNKNOWN or right is _UNKNOWN:
                return _UNKNOWN
            return (left == right) if isinstance(target.operator, cst.Equal) else (left != right)
    return _UNKNOWN


def _optional_object(name: str, info) -> bool:
    """A parameter that defaults to None: an object the caller may hand in (`scaler=None`)."""
    default = info.defaults.get(name)
    return isinstance(default, cst.Name) and default.value == "None"


def _argument(name: str, info, arguments: dict):
    """The expression the call gives parameter `name` (or its default); _UNKNOWN otherwise."""
    if name not in info.params:
        return _UNKNOWN
    value: Optional[cst.BaseExpression] = arguments.get(name, info.defaults.get(name))
    return _UNKNOWN if value is None else value


def _literal(value):
    """The Python value of a literal argument (True/False/None, a number, a string)."""
    if isinstance(value, cst.Name) and value.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[value.value]
    if isinstance(value, cst.Integer):
        return int(value.value)
    if isinstance(value, cst.SimpleString):
        try:
            return value.evaluated_value
        except (SyntaxError, ValueError):
            return _UNKNOWN
    return _UNKNOWN
