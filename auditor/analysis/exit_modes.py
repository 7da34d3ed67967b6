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


def exit_modes(model: FileModel, module: str) -> dict[str, str]:
    """{name: "train"/"eval"} for module-level names bound to a newly built model at the top
    level whose mode is the same on every path out of the imported top-level code."""
    from auditor.analysis.flow import EVAL, TRAIN, FlowAnalysis

    flow = FlowAnalysis(model, None, module)
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
            if mode in (TRAIN, EVAL):
                found[name] = mode
    return found


def imported_modes(model: FileModel, project: Any, module: Optional[str]) -> tuple:
    """((local name, mode), ...) for the models this file imports by name from modules of the
    run whose top-level code leaves them in a known mode (`from model import model`)."""
    if project is None or not module or not hasattr(project, "get"):
        return ()
    found = []
    for local, full in model.imports.aliases.items():
        target = resolve_import(module, full)
        if target is None:
            continue
        summary = project.get(target[0])
        mode = (getattr(summary, "exit_modes", None) or {}).get(target[1])
        if mode is not None:
            found.append((local, mode))
    return tuple(sorted(found))
