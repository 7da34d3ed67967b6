"""Models that a module's top-level functions return, for callers in other modules.

`model = train_model(model, loader)` and `model = train_model(epochs, loader)` (building the
model inside) hand the caller a model in the mode the function left it in. Within one file
the flow follows the returned parameter; a caller in another module lost the model's mode at
the assignment. `returned_models` records, per function, either the parameter every return
hands back or the mode of the model it builds and returns; the flow of a caller reads them
(`FlowAnalysis.returned_argument`, `_plan_assign`).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel, FunctionInfo
from auditor.analysis.names import dotted_name

PARAM, BUILT = "param", "built"


def _returned_name(info: FunctionInfo) -> Optional[str]:
    """The one plain name every `return` of the function gives back, else None."""
    names = {dotted_name(ret.value) if type(ret.value) is cst.Name else None for ret in info.returns}
    return names.pop() if len(names) == 1 and None not in names else None


def returned_models(model: FileModel, flow) -> dict:
    """{function: (PARAM, parameter, position or None) | (BUILT, "train"/"eval")} for the
    module's top-level functions returning one of their parameters untouched but for its mode
    (no other binding of it), or a model they build (every binding of the returned local is
    a call) whose mode is known and the same on every return."""
    from auditor.analysis.flow import EVAL, TRAIN, strip_moves

    found: dict = {}
    for info in model.function_info.values():
        if info.parent is not None or info.cls is not None or not info.returns:
            continue
        name = _returned_name(info)
        if name is None:
            continue
        bindings = model.bindings_of(name, info.node)
        if name in info.params:
            if all(b.kind == "param" or dotted_name(strip_moves(b.value)) == name for b in bindings):
                position = info.positional.index(name) if name in info.positional else None
                found[info.name] = (PARAM, name, position)
            continue
        local = [b for b in bindings if b.function is info.node]
        # (A class of another module is not known as a model here: a call will do, when the
        # mode at every return is known, as after an explicit `model.train()`.)
        if not local or len(local) != len(bindings) or not all(
                b.kind == "assign" and b.index is None and type(strip_moves(b.value)) is cst.Call for b in local):
            continue
        modes = {state.mode(name) for state in flow.return_states(info.node)}
        if len(modes) == 1:
            mode = modes.pop()
            if mode in (TRAIN, EVAL):
                found[info.name] = (BUILT, mode)
    return found


def returned_modes(project, pending: tuple, resolve) -> set:
    """The modes ("train", "eval", "?") of what an opaque call handed back (the flow's
    ("returned", targets, ((position or keyword, mode), ...), None)); `resolve` reads a
    handed argument's own, possibly pending, mode."""
    _, targets, handed, _ = pending
    for module, function in targets:
        summary = project.get(module)
        returned = (getattr(summary, "returned_models", None) or {}).get(function) if summary is not None else None
        if returned is None:
            continue
        if returned[0] == BUILT:
            return {returned[1]}
        _, param, position = returned
        for where, mode in handed:
            if where == param or (position is not None and where == position):
                return resolve(mode)
    return {"?"}
