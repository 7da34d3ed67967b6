"""Factories that build a model class of another module: `def get_model(name): if name == 'a':
return nets.A() ... return nets.B()`.

A file importing such a factory (`model = get_model(args.name)`, or `from factory import *`)
learns from the phase-1 summary which classes the factory can return; each class's own
module summary then says what its forward returns. Phase 1 cannot read the classes itself
(it sees one file), so it records the classes, not their outputs.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.builds import class_named, unwrap_model
from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name

_MAX_CLASSES = 8


def factory_builds(model: FileModel, module: str, is_package: bool) -> dict:
    """{function: ((module, class), ...)} for the top-level functions whose every `return`
    gives a new instance of a user class of another module (directly, or through a name
    bound only to such builds in the function)."""
    found = {}
    for info in model.function_info.values():
        if info.cls is not None or info.parent is not None or not info.returns:
            continue
        classes = _returned_classes(model, info, module, is_package)
        if classes:
            found[info.name] = classes
    return found


def _returned_classes(model: FileModel, info, module: str, is_package: bool) -> Optional[tuple]:
    owners = set()
    for ret in info.returns:
        value = unwrap_model(model, ret.value) if ret.value is not None else None
        if type(value) is cst.Name:
            bindings = [b for b in model.bindings_of(value.value, info.node) if b.function is info.node]
            values = [unwrap_model(model, b.value) for b in bindings
                      if not (b.kind == "assign" and b.index is None and dotted_name(unwrap_model(model, b.value))
                              == value.value)]
            if not bindings or any(b.kind != "assign" or b.index is not None for b in bindings):
                return None
        else:
            values = [value]
        for built in values:
            if type(built) is not cst.Call:
                return None
            owner = class_named(model, built.func, module, is_package)
            if owner is None or owner[1] is None or owner[1] == module:
                return None  # this file's own classes are read where the factory is (activations)
            owners.add((owner[1], owner[0]))
    return tuple(sorted(owners)) if 0 < len(owners) <= _MAX_CLASSES else None
