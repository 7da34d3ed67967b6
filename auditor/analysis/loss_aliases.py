"""Built-in losses reached through an alias the criterion tables do not read.

- a lambda whose body calls a built-in loss on one of its parameters
  (`loss_fn = lambda p, t: F.cross_entropy(p, t)`): a call of it applies that loss to the
  argument in that parameter's place;
- `functools.partial` of a built-in loss function or object with keyword arguments only
  (`partial(F.cross_entropy, weight=w)`): the first argument of a call is the loss's input;
- a loss kept as a class attribute (`CRITERION = nn.CrossEntropyLoss()` in the class body),
  read as `self.CRITERION` (when no method assigns it on the instance) or `Client.CRITERION`.

Each answer is (loss kind, position of the input among the call's positional arguments).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.builds import built_in_loss, unwrap_moves
from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.roles import LOSS_FUNCTIONS

_PARTIAL = ("functools.partial",)


def wrapped_loss(model: FileModel, roles, value: cst.BaseExpression, function) -> Optional[tuple[str, int, str]]:
    """(kind, input position, how) for a lambda or a `functools.partial` of a built-in loss."""
    value = unwrap_moves(value)
    if type(value) is cst.Lambda:
        return _lambda_loss(model, roles, value, function)
    if type(value) is cst.Call and matches(model.qualify_call(value), *_PARTIAL):
        return _partial_loss(model, roles, value, function)
    return None


def _function_kind(model: FileModel, node: cst.BaseExpression) -> Optional[str]:
    qualified = model.qualify(node)
    return next((kind for kind, names in LOSS_FUNCTIONS.items() if matches(qualified, *names)), None)


def _lambda_loss(model: FileModel, roles, node: cst.Lambda, function) -> Optional[tuple[str, int, str]]:
    params = node.params
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.posonly_params or params.star_kwarg:
        return None
    names = [p.name.value for p in params.params]
    body = node.body
    if type(body) is not cst.Call:
        return None
    kind = _function_kind(model, body.func)
    if kind is None:
        kind = roles._loss_class_kind(body.func) if type(body.func) is cst.Call else \
            built_in_loss(model, roles, body.func, function)
    if kind is None:
        return None
    given = _input_of(body)
    if type(given) is not cst.Name or given.value not in names:
        return None
    return kind, names.index(given.value), "via a lambda that hands it to the loss"


def _partial_loss(model: FileModel, roles, call: cst.Call, function) -> Optional[tuple[str, int, str]]:
    args = call.args
    if not args or args[0].keyword is not None or args[0].star:
        return None
    # Only keyword arguments may follow: a bound positional would be the input itself.
    if any(a.keyword is None for a in args[1:]):
        return None
    wrapped = args[0].value
    kind = _function_kind(model, wrapped) or built_in_loss(model, roles, wrapped, function)
    if kind is None:
        return None
    return kind, 0, "via functools.partial of the loss"


def class_attribute_loss(model: FileModel, roles, name: str, function) -> Optional[tuple[str, int, str]]:
    """`self.CRITERION` / `Client.CRITERION` bound in the class body to a built-in loss."""
    if name.count(".") != 1:
        return None
    owner, attr = name.split(".")
    if owner == "self":
        cls = model.class_of(function)
        # An instance attribute of the same name, set by a method, hides the class's.
        if cls is None or model.bindings_of(name, function):
            return None
    else:
        cls = model.class_info.get(owner)
        if cls is None:
            return None
    kinds = set()
    for b in model.bindings.get(attr, []):
        if b.function is not None or _class_body_of(model, b.statement) is not cls.node:
            continue
        if b.kind != "assign" or b.index is not None:
            return None
        kinds.add(built_in_loss(model, roles, b.value, None))
    if len(kinds) != 1 or None in kinds:
        return None
    return kinds.pop(), 0, f"via the class attribute `{cls.name}.{attr}`"


def _class_body_of(model: FileModel, statement: cst.CSTNode) -> Optional[cst.ClassDef]:
    """The class whose body holds `statement` directly (not in a method)."""
    for ancestor in model.ancestors(statement):
        if type(ancestor) is cst.ClassDef:
            return ancestor
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return None
    return None


def _input_of(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "input":
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    return positional[0].value if positional and not positional[0].star else None


def alias_name(value: cst.BaseExpression) -> Optional[str]:
    """`Client.CRITERION` or `self.criterion` as a dotted name, for `criterion = Client.CRITERION`."""
    name = dotted_name(value)
    return name if name is not None and name.count(".") == 1 else None
