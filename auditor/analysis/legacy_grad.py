"""Inputs marked `volatile` (PyTorch before 0.4): the pre-`no_grad` way to evaluate.

`Variable(x, volatile=True)` made every result computed from `x` volatile: no graph was
recorded, as under `torch.no_grad()` today. Code of that era (`loss.data[0]`,
`Variable(...)`) evaluates so; a forward pass given such an input records nothing.

Read from the statements before the forward pass in its own block, walking back: the
assignment in force must make a volatile Variable on every path (both branches of an
`if`/`else`). Anything else (a loop target, one branch only, a parameter) is not known
to be volatile.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name

_MOVES = ("cuda", "cpu", "to", "type", "float", "double", "half", "long", "view", "unsqueeze", "squeeze")
_UNKNOWN = None  # walking back found no assignment of the name in this block


def volatile_input(model: FileModel, call: cst.Call) -> bool:
    """Some positional argument of `call` is a volatile Variable (directly, or through the
    assignment of its name in force before the call)."""
    for arg in call.args:
        if arg.keyword is not None or arg.star:
            continue
        if _volatile_value(arg.value):
            return True
        name = dotted_name(arg.value)
        if name and _volatile_name(model, name, call):
            return True
    return False


def _volatile_value(value: cst.BaseExpression) -> bool:
    """`Variable(x, volatile=True)`, possibly moved (`.cuda()`, `.type(FloatTensor)`)."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    if type(value) is not cst.Call or (dotted_name(value.func) or "").rsplit(".", 1)[-1] != "Variable":
        return False
    return any(a.keyword is not None and a.keyword.value == "volatile" and type(a.value) is cst.Name
               and a.value.value == "True" for a in value.args)


def _volatile_name(model: FileModel, name: str, call: cst.Call) -> bool:
    statement = model.statement_of(call)
    while statement is not None:
        block = model.parent(statement)
        body = list(getattr(block, "body", ()))
        if statement not in body:
            return False
        for earlier in reversed(body[:body.index(statement)]):
            found = _assigns(earlier, name)
            if found is not _UNKNOWN:
                return found
        # The start of this block: before an `if`'s body, or a loop's that never rebinds the
        # name, what runs before it decides; a function's body is reached from its caller.
        owner = model.parent(block)
        if owner is None or type(owner) in (cst.FunctionDef, cst.Module, cst.ClassDef):
            return False
        if type(owner) in (cst.For, cst.While) and (_mentions_assignment(owner, name) or (
                type(owner) is cst.For and name in _targets(owner.target))):
            return False  # the loop rebinds it: its previous round decides
        while owner is not None and not isinstance(owner, cst.BaseCompoundStatement):
            owner = model.parent(owner)  # `else:` -> its `if`
        statement = owner
    return False


def _assigns(statement: cst.CSTNode, name: str) -> Optional[bool]:
    """Whether the last assignment of `name` in `statement` gives a volatile Variable on
    every path through it (None: it does not assign `name`)."""
    if type(statement) is cst.SimpleStatementLine:
        found = _UNKNOWN
        for small in statement.body:
            if type(small) is cst.Assign and any(name in _targets(t.target) for t in small.targets):
                found = len(small.targets) == 1 and dotted_name(small.targets[0].target) == name \
                    and _volatile_value(small.value)
            elif type(small) in (cst.AugAssign, cst.AnnAssign) and name in _targets(small.target):
                found = False
        return found
    if type(statement) is cst.If:
        branches = [statement.body, statement.orelse]
        answers = []
        for branch in branches:
            if branch is None:
                answers.append(_UNKNOWN)
            elif type(branch) is cst.If:  # `elif`
                answers.append(_assigns(branch, name))
            else:
                block = branch.body if type(branch) is cst.Else else branch  # the indented block
                answers.append(_last_in(getattr(block, "body", ()), name))
        if all(a is _UNKNOWN for a in answers):
            return _UNKNOWN
        return all(a is True for a in answers)
    if isinstance(statement, cst.BaseCompoundStatement):
        # A loop, `with` or `try` that assigns the name: not followed (rarely volatile).
        return False if _mentions_assignment(statement, name) else _UNKNOWN
    return _UNKNOWN


def _last_in(statements, name: str) -> Optional[bool]:
    for statement in reversed(list(statements)):
        found = _assigns(statement, name)
        if found is not _UNKNOWN:
            return found
    return _UNKNOWN


def _mentions_assignment(node: cst.CSTNode, name: str) -> bool:
    found = []

    class _Finder(cst.CSTVisitor):
        def visit_AssignTarget(self, target: cst.AssignTarget) -> None:
            if name in _targets(target.target):
                found.append(target)

        def visit_For(self, loop: cst.For) -> None:
            if name in _targets(loop.target):
                found.append(loop)

        def visit_AugAssign(self, small: cst.AugAssign) -> None:
            if name in _targets(small.target):
                found.append(small)

        def visit_AsName(self, alias: cst.AsName) -> None:
            if name in _targets(alias.name):
                found.append(alias)

    node.visit(_Finder())
    return bool(found)


def _targets(target: cst.BaseExpression) -> list[str]:
    if type(target) in (cst.Tuple, cst.List):
        return [n for e in target.elements for n in _targets(e.value)]
    name = dotted_name(target)
    return [name] if name else []
