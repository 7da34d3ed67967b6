"""What a call names in another module of the same run: a project function or a project
class that shuffles by default.

Rules see one file; the project index (`ctx.project`) holds each module's summary. A call
written `utils.evaluation(...)` or `DataLoader(...)` (imported `from DataLoader import
DataLoader`) names a definition of the project only when a summarised module defines it;
otherwise it is a library's and the rules stay silent about it.
"""

from __future__ import annotations

import weakref
from typing import Optional

import libcst as cst

from auditor.analysis.names import resolve_import
from auditor.analysis.reexports import defined_at
from auditor.analysis.model import syntactic_children

_INDEXES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def project_defines(project, module: Optional[str], qualname: str, kind: str = "functions") -> bool:
    """Whether `qualname` (as imported in `module`) is a top-level function (`kind="functions"`)
    or a class listed under `kind` (`"shuffling_classes"`) of a module of this run."""
    if project is None or module is None or not hasattr(project, "summaries"):
        return False
    target = resolve_import(module, qualname)
    if target is None:
        return False
    target_module, name = target
    holder, name = _defining_summary(project, target_module, name, "all", lambda: project.summaries)
    return name in (getattr(holder, kind, ()) or ())


def any_shuffling_class(project) -> bool:
    """Whether any module of the run defines a class that shuffles by default (asked per file)."""
    if project is None or not hasattr(project, "summaries"):
        return False
    per_project = _INDEXES.setdefault(project, {})
    found = per_project.get("any_shuffling")
    if found is None:
        found = per_project["any_shuffling"] = any(getattr(s, "shuffling_classes", None)
                                                   for s in project.summaries.values())
    return found


def shuffles_by_default(cls) -> bool:
    """A class whose constructor takes `shuffle` with the default True and reads it
    (`self._need_shuffle = shuffle; if self._need_shuffle: self.shuffle()`)."""
    init = cls.methods.get("__init__")
    if init is None:
        return False
    default = init.defaults.get("shuffle")
    if not (isinstance(default, cst.Name) and default.value == "True"):
        return False
    return any(isinstance(node, cst.Name) and node.value == "shuffle" for node in _names(init.node.body))


def _names(node: cst.CSTNode):
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            yield current
        if isinstance(current, cst.Param):
            continue
        stack.extend(syntactic_children(current))


def project_has_table(project, kind: str) -> bool:
    """Some module of this run has entries in the summary table `kind` (asked once per run)."""
    if project is None or not hasattr(project, "summaries"):
        return False
    per_project = _INDEXES.setdefault(project, {})
    found = per_project.get(("has", kind))
    if found is None:
        found = per_project[("has", kind)] = any(getattr(summary, kind, None) for summary in project.summaries.values())
    return found


def project_entry(project, module: Optional[str], qualname: str, kind: str):
    """The entry of `qualname` (as imported in `module`) in the table `kind` (a dict keyed by
    top-level function name, e.g. `fitted_returns`) of a module of this run, or None."""
    if project is None or module is None or not hasattr(project, "summaries"):
        return None
    per_project = _INDEXES.setdefault(project, {})
    tables = per_project.get(("entries", kind))
    if tables is None:
        tables = per_project[("entries", kind)] = {
            module_name: getattr(summary, kind) for module_name, summary in project.summaries.items()
            if getattr(summary, kind, None)}
    if not tables:
        return None  # asked for every call of the file: most runs have no such module
    target = resolve_import(module, qualname)
    if target is None:
        return None
    target_module, name = target
    holder, name = _defining_summary(project, target_module, name, kind, lambda: tables)
    table = getattr(holder, kind, None) or {}
    return table.get(name)


def _defining_summary(project, target_module: str, name: str, among: str, candidates) -> tuple:
    """(summary, name) of the module that defines `name` as imported from `target_module`:
    the module itself, or the one a package re-exports it from (reexports.defined_at). The
    project's `get` knows directories without `__init__.py` two levels deep; deeper ones
    (`utils.load_data` imported where `utils/` has no `__init__.py`) are matched on whole
    trailing module-name components, when only one of `candidates()` (module names) does."""
    holder = project.get(target_module)  # a view: the module beside this file, when two share a name
    if holder is None:
        matches = _INDEXES.setdefault(project, {}).setdefault(("suffix", among), {})
        if target_module not in matches:  # library modules are asked about for every call
            found = [k for k in candidates() if target_module.endswith("." + k) or k.endswith("." + target_module)]
            matches[target_module] = found[0] if len(found) == 1 else None
        if matches[target_module] is None:
            return None, name
        target_module = matches[target_module]
    target_module, name = defined_at(project.get, target_module, name)
    return project.get(target_module), name
