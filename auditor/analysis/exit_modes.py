"""The mode a module's top-level code leaves its module-level models in, for importers.

Tutorial projects often build and train a model at the top level of one module
(`model.py`: `model = Net()`, then the epoch loop) and evaluate it in another that imports
the object (`test.py`: `from model import model`). Importing runs the top level, so the
importer starts with the model in the mode that code leaves it in (training, unless it
switched it). `exit_modes` reads that mode in phase 1; `imported_modes` gives an importer
the modes of the names it imports, which the flow seeds at the top of the file.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import resolve_import


def _main_guard(statement: cst.CSTNode) -> bool:
    """`if __name__ == "__main__":` (its body does not run when the module is imported)."""
    if type(statement) is not cst.If or type(statement.test) is not cst.Comparison:
        return False
    test = statement.test
    sides = [test.left] + [c.comparator for c in test.comparisons]
    return any(type(s) is cst.Name and s.value == "__name__" for s in sides)


def imported_statements(model: FileModel) -> list:
    """The top-level statements that run when the module is imported."""
    return [s for s in model.module.body if not _main_guard(s)]


_KNOWN = ("train", "eval")  # flow.TRAIN, flow.EVAL (the flow imports this module: no import back)


def exit_modes(model: FileModel, flow) -> dict[str, tuple]:
    """{name: ("train"/"eval", True/False/None, layer)} for module-level names bound to a newly
    built model at the top level whose mode is the same on every path out of the imported
    top-level code, with whether that model has a mode-dependent layer. `flow`: a
    FlowAnalysis of the file without the project."""
    names = sorted(name for name, found in model.bindings.items()
                   if "." not in name and any(b.function is None and b.kind == "assign" and b.index is None
                                              and flow.fresh_model(b.value) for b in found))
    if not names:
        return {}
    states = flow.run_imported(imported_statements(model))
    found = {}
    for name in names:
        modes = {state.mode(name) for state in states}
        if len(modes) == 1:
            mode = modes.pop()
            if mode in _KNOWN:
                found[name] = (mode, *_layers(model, name))
    return found


def _layers(model: FileModel, name: str) -> tuple:
    """(True/False/None, layer): whether the model the top level binds to `name` has a
    mode-dependent layer, read from every value bound there (mode_layers.py)."""
    from auditor.analysis.mode_layers import mode_dependence

    unknown = False
    for binding in model.bindings.get(name, ()):
        if binding.function is not None:
            continue
        dependent, what = mode_dependence(model, binding.value)
        if dependent:
            return True, what
        unknown = unknown or dependent is None
    return (None, "") if unknown else (False, "")


def imported_layers(model: FileModel, project: Any, module: Optional[str], name: str) -> Optional[tuple]:
    """(True/False/None, layer) for a model imported by name (see `exit_modes`), else None."""
    entry = _imported_entry(model, project, module, name)
    return tuple(entry[1:]) if entry is not None else None


def _imported_entry(model: FileModel, project: Any, module: Optional[str], local: str) -> Optional[tuple]:
    full = model.imports.aliases.get(local)
    target = resolve_import(module, full) if full and module else None
    if target is None or project is None or not hasattr(project, "get"):
        return None
    summary = project.get(target[0])
    return (getattr(summary, "exit_modes", None) or {}).get(target[1])


def imported_modes(model: FileModel, project: Any, module: Optional[str]) -> tuple:
    """((local name, mode), ...) for the models this file imports by name from modules of the
    run whose top-level code leaves them in a known mode (`from model import model`)."""
    if project is None or not module or not hasattr(project, "get"):
        return ()
    found = []
    for local in model.imports.aliases:
        entry = _imported_entry(model, project, module, local)
        if entry is not None:
            found.append((local, entry[0]))
    return tuple(sorted(found))
