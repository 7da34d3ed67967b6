"""Objects built at a module's top level and used by another module: the model and the criterion.

Phase 1 (`module_objects`) records, per file, what each name bound at module level holds
when every module-level binding of it agrees: a built-in loss (`criterion =
nn.CrossEntropyLoss()`: its loss kind) or a model (`model = IrisNet()`: the activation its
forward ends in, or the logits of an `nn.Linear`), with the file's directory.

Phase 2 (`shared_object`) answers for a name a file calls but never binds:

- imported from a module of the run (`from setup import model, criterion`): what that
  module's summary says the name holds;
- free, neither bound, defined nor imported (nor star-imported): a part of a lesson whose
  earlier part, a file of the same directory, built it (`part_1_model.py` binds `model`,
  `part_3_train.py` trains it, run one after the other in one namespace). Every file of the
  directory that binds the name must agree on what it holds, so two lessons sharing a folder
  and a name, one with a softmax model and one without, say nothing.
"""

from __future__ import annotations

import builtins
import os
from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, resolve_import
from auditor.analysis.reexports import defined_at

LOSS, MODEL = "loss", "model"
CLASS = "class"  # a model built from a class this file does not define: its name
# activations.SOFTMAX, SIGMOID and LOGITS (that module imports this one).
_MODEL_KINDS = ("softmax", "sigmoid", "logits")
_BUILTINS = frozenset(dir(builtins))
# project index -> {directory: {name: [(module, (role, kind))]}}, built once per run.
_BY_DIRECTORY: dict = {}


# -- phase 1 ---------------------------------------------------------------------------------

def module_objects(model: FileModel, path: str, text: str, activations_class) -> dict:
    """{"dir": the file's directory, "objects": {name: (role, kind or None)}} for the names
    bound at module level to a call (the directory alone when the file builds no model and
    no loss: a lesson's training part finds its earlier parts through it). `activations_class`
    is activations.Activations (handed in: that module asks this one in phase 2)."""
    from auditor.analysis.builds import unwrap_moves
    from auditor.analysis.roles import roles_of

    found: dict = {"dir": os.path.dirname(os.path.abspath(path)), "objects": {}}
    if "Loss" not in text and "nn." not in text and "Sequential" not in text:
        return found
    names = {name for name, bindings in model.bindings.items()
             if "." not in name and any(b.function is None and b.kind == "assign" and b.index is None
                                        and type(b.value) is cst.Call for b in bindings)}
    if not names:
        return found
    roles = roles_of(model)
    activations = None
    objects: dict = {}
    for name in sorted(names):
        top = [b for b in model.bindings[name] if b.function is None]
        if any(b.kind != "assign" or b.index is not None for b in top):
            objects[name] = (None, None)
            continue
        kinds = {roles._loss_class_kind(v) if type(v) is cst.Call else None
                 for v in (unwrap_moves(b.value) for b in top)}
        if len(kinds) == 1 and None not in kinds:
            objects[name] = (LOSS, kinds.pop())
            continue
        values = [unwrap_moves(b.value) for b in top if dotted_name(unwrap_moves(b.value)) != name]
        if not any(type(v) is cst.Call and _may_build_a_model(model, v) for v in values):
            objects[name] = (None, None)  # `df = pd.read_csv(...)`: not read as a model (cost)
            continue
        if activations is None:
            activations = activations_class(model)
        kind = next((k for k in _MODEL_KINDS
                     if activations._model_output(name, None, k, None, 0)), None)
        if kind is None:
            built = {_class_built(model, unwrap_moves(b.value)) for b in top
                     if dotted_name(unwrap_moves(b.value)) != name}  # `model1 = model1.cuda()`
            # `model1 = Model1(n)` with Model1 defined by another file of the directory:
            # phase 2 reads that file's summary (`outputs`).
            objects[name] = (CLASS, built.pop()) if len(built) == 1 and None not in built else (None, None)
            continue
        objects[name] = (MODEL, kind)
    found["objects"] = objects
    return found


def fragment_summary(ctx, summary_class, activations_class) -> Optional[object]:
    """The summary of a file with no function and no import: only what it builds at module
    level and where it is, when it builds or trains something (a lesson's part)."""
    text = ctx.source.text
    if "loss" not in text and "Loss" not in text and "nn." not in text:
        return None
    return summary_class(module=ctx.module_name, module_objects=module_objects(ctx.model, ctx.path, text,
                                                                                 activations_class))


# -- phase 2 ---------------------------------------------------------------------------------

def shared_object(model: FileModel, project, module_name: Optional[str], is_package: bool,
                  name: Optional[str]) -> Optional[tuple[str, str, str]]:
    """(role, kind, where) for `name` used in this file and built at another module's top
    level (imported from it, or free and bound by the files of this file's directory)."""
    if not name or "." in name or project is None or not module_name or not hasattr(project, "get"):
        return None
    qualified = model.imports.qualify_dotted(name)
    if qualified is not None:
        return _imported(project, module_name, is_package, qualified, name)
    if name in _BUILTINS or model.bindings.get(name) or model.class_info.get(name) \
            or any(i.name == name for i in model.function_info.values()):
        return None
    if model.imports.stars:  # `from part_1 import *`: the name is whatever a starred module binds
        found = [_imported(project, module_name, is_package, f"{star}.{name}", name) for star in model.imports.stars]
        return next((answer for answer in found if answer is not None), None)
    own = getattr(project.get(module_name), "module_objects", None)
    if not own:
        return None
    holders = _by_directory(project).get(own["dir"], {}).get(name, [])
    holders = [(module, _class_read(project, own["dir"], held)) for module, held in holders if module != module_name]
    if not holders or any(held != holders[0][1] for _, held in holders) or holders[0][1][1] is None:
        return None
    role, kind = holders[0][1]
    where = ", ".join(sorted({module for module, _ in holders})[:2])
    return role, kind, f"`{name}` is not defined in this file; {where}, of the same directory, " \
                       f"binds it"


def _class_read(project, directory: str, held: tuple) -> tuple:
    """(MODEL, kind) for a model built from a class that a file of `directory` defines and
    whose summary says what its forward ends in; `held` itself otherwise."""
    if held[0] != CLASS:
        return held
    kinds = set()
    for summary in _summaries_in(project, directory):
        outputs = getattr(summary, "outputs", None) or {}
        for kind in _MODEL_KINDS:
            if (held[1], kind, None) in outputs:
                kinds.add(kind)
                break
    return (MODEL, kinds.pop()) if len(kinds) == 1 else (None, None)


def _may_build_a_model(model: FileModel, call: cst.Call) -> bool:
    """A call phase 1 can read as a model: a class of this file, a name it does not know (a
    class of another part), or torch's own containers and layers."""
    qualified = model.qualify_call(call)
    return qualified is None or qualified.startswith("torch.nn.")


def _class_built(model: FileModel, value) -> Optional[str]:
    """`Model1` for `Model1(n)`, a class this file neither defines nor imports from torch."""
    if type(value) is not cst.Call or type(value.func) is not cst.Name:
        return None
    name = value.func.value
    if model.class_info.get(name) or (model.imports.qualify_dotted(name) or "").startswith("torch") \
            or name in _BUILTINS:
        return None
    return name


def shared_loss_names(project) -> tuple:
    """Names bound to a built-in loss at the top level of some module of the run."""
    if project is None or not hasattr(project, "get"):
        return ()
    found = set()
    for names in _by_directory(project).values():
        found.update(name for name, holders in names.items() if any(held[0] == LOSS for _, held in holders))
    return tuple(sorted(found))


def _imported(project, module_name: str, is_package: bool, qualified: str,
              name: str) -> Optional[tuple[str, str, str]]:
    target = resolve_import(module_name, qualified, is_package)
    if target is None:
        return None
    module, attr = defined_at(project.get, *target)
    held = (getattr(project.get(module), "module_objects", None) or {}).get("objects", {}).get(attr)
    if not held or held[1] is None:
        return None
    return held[0], held[1], f"`{name}` is built at the top level of {module}"


def _by_directory(project) -> dict:
    index = getattr(project, "index", project)  # a base view reads its whole index
    key = id(index)
    cached = _BY_DIRECTORY.get(key)
    if cached is not None and cached[0] is index:
        return cached[1]
    holders = [(getattr(s, "module", None), s) for _, s in index.summary_bases] if getattr(index, "bases", None) \
        else list(getattr(index, "summaries", {}).items())
    table: dict = {}
    summaries: dict = {}
    for module, summary in holders:
        found = getattr(summary, "module_objects", None)
        if not found:
            continue
        summaries.setdefault(found["dir"], []).append(summary)
        names = table.setdefault(found["dir"], {})
        for name, held in found["objects"].items():
            names.setdefault(name, []).append((module, held))
    if len(_BY_DIRECTORY) > 8:
        _BY_DIRECTORY.clear()
    _BY_DIRECTORY[key] = (index, table, summaries)
    return table


def _summaries_in(project, directory: str) -> list:
    _by_directory(project)
    index = getattr(project, "index", project)
    return _BY_DIRECTORY[id(index)][2].get(directory, [])
