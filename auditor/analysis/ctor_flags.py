"""Flags a model's constructor stores, read for one construction.

`MLP(10, 3, task="classification")` with `self.task = task` in `__init__` and
`if self.task == "classification": x = F.softmax(x, 1)` in `forward`: for that construction
the softmax runs. A flag is known when `__init__` binds `self.<flag>` once, to a literal or
to one of its parameters, and the construction passes a literal for it (or leaves it to a
literal default). Tests read: `self.f`, `not ...`, and one comparison of `self.f` with
literals (`==`, `!=`, `is`, `is not`, `in`, `not in`).
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

_UNKNOWN = object()
_COMPARISONS = {
    cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b,
    cst.Is: lambda a, b: a is b, cst.IsNot: lambda a, b: a is not b,
    cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
}


def flag_guard(model, node: cst.CSTNode, function, cls, call: cst.Call) -> Optional[str]:
    """For this construction: "never" when `node` sits under a flag test that is false,
    "always" when every test around it is a known flag test that holds, else None."""
    known_all, seen = True, False
    current, child = model.parents.get(node), node
    while current is not None and current is not function:
        if type(current) is cst.If and (child is current.body or child is current.orelse):
            value = _test_value(model, current.test, cls, call)
            if value is None:
                known_all = False
            else:
                seen = True
                if value != (child is current.body):
                    return "never"
        elif isinstance(current, (cst.For, cst.While, cst.Try, cst.With)):
            known_all = False
        current, child = model.parents.get(current), current
    return "always" if seen and known_all else None


def after_taken_return(model, node: cst.CSTNode, function, cls, call: cst.Call) -> bool:
    """`node` comes after an `if <flag>: ... return` whose branch this construction takes."""
    statement = node
    while statement is not None and not isinstance(statement, cst.BaseStatement):
        statement = model.parents.get(statement)
    block = model.parents.get(statement) if statement is not None else None
    if type(block) is not cst.IndentedBlock:
        return False
    for sibling in block.body:
        if sibling is statement:
            return False
        if type(sibling) is not cst.If or flag_guard(model, sibling.body, function, cls, call) == "never":
            continue
        value = _test_value(model, sibling.test, cls, call)
        branch = sibling.body if value else sibling.orelse if value is False else None
        if isinstance(branch, cst.Else):
            branch = branch.body
        if isinstance(branch, cst.IndentedBlock) and _ends_in_return(branch):
            return True
    return False


def _ends_in_return(block: cst.IndentedBlock) -> bool:
    last = block.body[-1] if block.body else None
    return type(last) is cst.SimpleStatementLine and any(type(s) is cst.Return for s in last.body)


def _test_value(model, test: cst.BaseExpression, cls, call: cst.Call) -> Optional[bool]:
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = _test_value(model, test.expression, cls, call)
        return None if inner is None else not inner
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        target = test.comparisons[0]
        compare = _COMPARISONS.get(type(target.operator))
        left = _flag_or_literal(model, test.left, cls, call)
        right = _flag_or_literal(model, target.comparator, cls, call)
        if compare is None or left is _UNKNOWN or right is _UNKNOWN:
            return None
        try:
            return bool(compare(left, right))
        except TypeError:
            return None
    value = _flag(model, test, cls, call)
    return None if value is _UNKNOWN else bool(value)


def _flag_or_literal(model, node, cls, call) -> Any:
    value = _literal(node)
    return _flag(model, node, cls, call) if value is _UNKNOWN else value


def _flag(model, node: cst.BaseExpression, cls, call: cst.Call) -> Any:
    """The value `self.<flag>` holds for this construction, or _UNKNOWN."""
    if type(node) is not cst.Attribute or type(node.value) is not cst.Name or node.value.value != "self":
        return _UNKNOWN
    init = cls.methods.get("__init__")
    if init is None:
        return _UNKNOWN
    bindings = [b for b in model.bindings.get(f"self.{node.attr.value}", []) if model.class_of(b.function) is cls]
    if len(bindings) != 1 or bindings[0].function is not init.node or bindings[0].kind != "assign" \
            or bindings[0].index is not None:
        return _UNKNOWN
    value = bindings[0].value
    literal = _literal(value)
    if literal is not _UNKNOWN or type(value) is not cst.Name or value.value not in init.params:
        return literal
    return _literal(_given(init, value.value, call))


def _given(init, param: str, call: cst.Call) -> Optional[cst.BaseExpression]:
    """What the construction passes for `param`, else its default; None when unknown."""
    if any(arg.star for arg in call.args):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == param:
            return arg.value
    positional = [p for p in init.positional if p != "self"]
    plain = [arg.value for arg in call.args if arg.keyword is None]
    if param in positional and positional.index(param) < len(plain):
        return plain[positional.index(param)]
    return init.defaults.get(param)


def _literal(node: Optional[cst.BaseExpression]) -> Any:
    if type(node) is cst.SimpleString:
        try:
            return node.evaluated_value
        except (SyntaxError, ValueError):
            return _UNKNOWN
    if type(node) is cst.Integer:
        return int(node.value, 0)
    if type(node) is cst.Float:
        return float(node.value)
    if type(node) is cst.Name and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if type(node) in (cst.Tuple, cst.List, cst.Set):
        values = tuple(_literal(e.value) for e in node.elements)
        return _UNKNOWN if any(v is _UNKNOWN for v in values) else values
    return _UNKNOWN
