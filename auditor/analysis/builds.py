"""What a value is built as: a built-in loss object, an instance of a user class.

Small readings shared by the loss analyses (`loss_inputs`, `handed`, `activations`): they
look at one file's bindings only and never at other modules.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches, resolve_import
from auditor.analysis.module_methods import SELF_RETURNING
from auditor.analysis.roles import LOSS_FUNCTIONS

# `.cuda()` / `.to(device)` / `.train()` on a model or a criterion return it, computing the same.
_MOVES = SELF_RETURNING + ("train", "eval")


def unwrap_moves(value: cst.BaseExpression) -> cst.BaseExpression:
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    return value


# Wrappers whose forward is the wrapped model's: `nn.DataParallel(net)`, `torch.compile(net)`; a deep
# copy (`copy.deepcopy(net)`: a federated client's or an EMA teacher's model) is the same class too.
_WRAPPERS = ("torch.nn.DataParallel", "torch.nn.parallel.DataParallel", "torch.nn.parallel.DistributedDataParallel",
             "torch.nn.parallel.distributed.DistributedDataParallel", "torch.compile", "copy.deepcopy")


def unwrap_model(model: FileModel, value: cst.BaseExpression) -> cst.BaseExpression:
    """`value` without moves and without the wrappers that compute the model's own forward:
    `nn.DataParallel(net).cuda()` is `net`, as `net.to(device)` is."""
    for _ in range(4):
        value = unwrap_moves(value)
        if type(value) is not cst.Call or not value.args or value.args[0].keyword is not None \
                or value.args[0].star or model.qualify_call(value) not in _WRAPPERS:
            return value
        value = value.args[0].value
    return value


def built_in_loss(model: FileModel, roles, value: cst.BaseExpression, function) -> Optional[str]:
    """The kind of a built-in loss object: `nn.NLLLoss()`, or a name bound only to such; also
    a callable that applies one to its first argument (`partial(F.cross_entropy, weight=w)`,
    `lambda p, t: F.nll_loss(p, t)`)."""
    value = unwrap_moves(value)
    if type(value) in (cst.Call, cst.Lambda):
        return _loss_object_kind(model, roles, value, function)
    name = dotted_name(value)
    if name is None:
        return None
    kinds = set()
    for b in model.bindings_of(name, function):
        inner = unwrap_moves(b.value)
        if b.kind == "assign" and b.index is None and dotted_name(inner) == name:
            continue  # `criterion = criterion.cuda()`: the same object
        if b.kind != "assign" or b.index is not None or type(inner) not in (cst.Call, cst.Lambda):
            return None
        kinds.add(_loss_object_kind(model, roles, inner, b.function))
    return kinds.pop() if len(kinds) == 1 else None


def _loss_object_kind(model: FileModel, roles, value, function) -> Optional[str]:
    kind = roles._loss_class_kind(value) if type(value) is cst.Call else None
    if kind is not None:
        return kind
    wrapped = wrapped_loss(model, roles, value, function)
    return wrapped[0] if wrapped is not None and wrapped[1] == 0 else None


def class_named(model: FileModel, func: cst.BaseExpression, module: str,
                is_package: bool) -> Optional[tuple[str, Optional[str]]]:
    """(class name, its module or None) for a call that builds a user class."""
    name = dotted_name(func)
    if name is None:
        return None
    if name in model.class_info:
        return name, module
    qualified = model.qualify(func)
    if qualified is None:
        # A name of a star import (`from model import *`): its module is unknown.
        final = name.rsplit(".", 1)[-1]
        return (final, None) if "." not in name and final[:1].isupper() and has_star_import(model) \
            else None
    target = resolve_import(module, qualified, is_package)
    return (target[1], target[0]) if target is not None else None


def has_star_import(model: FileModel) -> bool:
    found = model.cache.get("star_import")
    if found is None:
        found = model.cache["star_import"] = any(
            isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar)
            for line in model.module.body if isinstance(line, cst.SimpleStatementLine) for small in line.body)
    return found


def instance_class(model: FileModel, receiver: Optional[cst.BaseExpression], function, module: str,
                   is_package: bool) -> Optional[tuple[str, Optional[str]]]:
    """The user class that every binding of `receiver` was built from (a rebinding to
    itself, `model = model.to(device)`, keeps the object and is not a build)."""
    builds = class_builds(model, receiver, function, module, is_package)
    if builds is None:
        return None
    found = {owner for owner, _ in builds}
    return found.pop() if len(found) == 1 else None


def class_builds(model: FileModel, receiver: Optional[cst.BaseExpression], function, module: str,
                 is_package: bool) -> Optional[list]:
    """[(user class, binding statement)] for every binding of `receiver` (a rebinding to itself
    skipped), or None when one of them is not a build of a user class."""
    name = dotted_name(receiver) if receiver is not None else None
    if name is None:
        return None
    found = []
    for b in model.bindings_of(name, function):
        value = unwrap_model(model, b.value)
        if b.kind == "assign" and b.index is None and dotted_name(value) == name:
            continue
        if b.kind != "assign" or b.index is not None or type(value) is not cst.Call:
            return None
        owner = class_named(model, value.func, module, is_package)
        if owner is None:
            return None
        found.append((owner, b.statement))
    return found


# -- a callable that applies a built-in loss: `lambda p, t: F.cross_entropy(p, t)`, a partial --

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


def _input_of(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "input":
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    return positional[0].value if positional and not positional[0].star else None
