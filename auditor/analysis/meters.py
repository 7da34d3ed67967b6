"""Meters: methods that add an argument into a total held on the object (TRN405).

`tracker.update(loss)` keeps every iteration's autograd graph alive when `update` does
`self.sum += val` (or `self.totals[key] += losses[key]`) with the raw tensor. The method may
be in the same file (read directly) or in another module: phase 1 records, per file, which
methods of which classes are such meters (`meter_methods`) and which attributes an
`__init__` fills with an instance of a user class (`attribute_classes`, so that
`metrics.losses_track.update_train_losses(loss)` finds the class of `losses_track`).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, resolve_import


def self_total_fed_by(model: FileModel, function: cst.FunctionDef, param: str) -> Optional[cst.AugAssign]:
    """`self.x += <param ...>` (or `self.x[key] += param[key]`) in `function`, the parameter not
    turned into a number on the way (`param.item()`, `float(param)`)."""
    return next((node for node in _self_sums(model, function) if reads_raw(node.value, param)), None)


def _self_sums(model: FileModel, function: cst.FunctionDef) -> list:
    """The `self.x += ...` / `self.x[k] += ...` statements of `function` (not of nested ones),
    from one pass over the file's nodes (the model's parent map), cached."""
    table = model.cache.get("self_sums")
    if table is None:
        table = model.cache["self_sums"] = {}
        for node in model.parents:
            if type(node) is not cst.AugAssign or type(node.operator) is not cst.AddAssign:
                continue
            target = node.target
            while type(target) is cst.Subscript:
                target = target.value
            if type(target) is cst.Attribute and dotted_name(target.value) == "self":
                table.setdefault(model.enclosing_function(node), []).append(node)
    return table.get(function, [])


def reads_raw(value: cst.BaseExpression, param: str) -> bool:
    """`value` is `param`, `param[key]` or arithmetic on them, never through a detaching call."""
    if type(value) is cst.BinaryOperation and type(value.operator) in (cst.Multiply, cst.Divide, cst.Add, cst.Subtract):
        return reads_raw(value.left, param) or reads_raw(value.right, param)
    while type(value) is cst.Subscript:
        value = value.value
    return type(value) is cst.Name and value.value == param


# -- phase 1 ------------------------------------------------------------------------------

def meter_methods(model: FileModel) -> dict:
    """{(class, method): {positional index: the total as written}} for this file's meters."""
    found: dict = {}
    for cls in model.class_infos:
        for name, info in cls.methods.items():
            if name.startswith("__") or not info.positional:
                continue
            sums = _self_sums(model, info.node)
            for position, param in enumerate(info.positional):
                total = next((node for node in sums if reads_raw(node.value, param)), None)
                if total is not None:
                    found.setdefault((cls.name, name), {})[position] = model.code(total.target)
    return found


def attribute_classes(model: FileModel, module: str, is_package: bool) -> dict:
    """{(class, attribute): (module, class)} for `self.attr = Other(...)` in an `__init__`,
    `Other` a class of this file or one imported from another module."""
    found: dict = {}
    for target, bindings in model.bindings.items():
        if not target.startswith("self.") or target.count(".") != 1:
            continue
        by_class: dict = {}
        for b in bindings:
            cls = model.class_of(b.function)
            if cls is not None:
                by_class.setdefault(cls.name, []).append(b)
        for name, held in by_class.items():
            b = held[0]
            info = model.info(b.function)
            if len(held) != 1 or info is None or info.name != "__init__" or b.kind != "assign" \
                    or type(b.value) is not cst.Call:
                continue
            owner = _class_of_call(model, b.value, module, is_package)
            if owner is not None:
                found[(name, target[5:])] = owner
    return found


def _class_of_call(model: FileModel, call: cst.Call, module: str, is_package: bool) -> Optional[tuple]:
    name = dotted_name(call.func)
    if name is None or not name.rsplit(".", 1)[-1][:1].isupper():
        return None
    if name in model.class_info:
        return module, name
    qualified = model.qualify(call.func)
    target = resolve_import(module, qualified, is_package) if qualified else None
    return target


# -- phase 2 ------------------------------------------------------------------------------

def summary_of(project, module: str):
    """The summary of `module`, also when the importer names it from a directory above
    (`networks.common.metrics` for the file the run calls `metrics`: a namespace package
    that `sys.path` reaches from the repository root)."""
    if project is None or not hasattr(project, "get"):
        return None
    found = project.get(module)
    parts = module.split(".")
    for start in range(1, len(parts)):
        if found is not None:
            break
        found = project.get(".".join(parts[start:]))
    return found


def imported_meter(model: FileModel, project, module: str, is_package: bool, holder: str, method: str,
                   function) -> Optional[tuple]:
    """(class, its module, {position: total}) when `holder.method(...)` calls a meter of
    another module: `holder` is a name bound to an instance of an imported class, possibly
    followed by attributes that `__init__`s fill with instances (`metrics.losses_track`)."""
    head, *attributes = holder.split(".")
    bindings = model.bindings_of(head, function)
    owners = set()
    for b in bindings:
        if b.kind != "assign" or b.index is not None or type(b.value) is not cst.Call:
            return None
        owners.add(_class_of_call(model, b.value, module, is_package))
    if len(owners) != 1 or None in owners:
        return None
    owner_module, owner = owners.pop()
    for attribute in attributes:
        summary = summary_of(project, owner_module)
        found = (getattr(summary, "attribute_classes", None) or {}).get((owner, attribute))
        if found is None:
            return None
        # A class of the same file keeps the name the importer used for that file.
        owner_module, owner = (owner_module if found[0] == getattr(summary, "module", None) else found[0]), found[1]
    summary = summary_of(project, owner_module)
    totals = (getattr(summary, "meter_methods", None) or {}).get((owner, method))
    return (owner, owner_module, totals) if totals else None
