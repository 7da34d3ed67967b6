"""Built-in losses reached through an alias the criterion tables do not read.

- a lambda or `functools.partial` wrapping a built-in loss (read by `builds.wrapped_loss`);
- a loss kept as a class attribute (`CRITERION = nn.CrossEntropyLoss()` in the class body),
  read as `self.CRITERION` (when no method assigns it on the instance) or `Client.CRITERION`.

Each answer is (loss kind, position of the input among the call's positional arguments).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.builds import built_in_loss, wrapped_loss
from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name


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


def alias_name(value: cst.BaseExpression) -> Optional[str]:
    """`Client.CRITERION` or `self.criterion` as a dotted name, for `criterion = Client.CRITERION`."""
    name = dotted_name(value)
    return name if name is not None and name.count(".") == 1 else None
