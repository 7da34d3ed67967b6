"""Model classes whose forward pass can run without autograd by itself.

Detectors often dispatch in `forward`: `if not self.trainable: return self.inference(x)`,
with `inference` decorated `@torch.no_grad()`. Calling such a model for evaluation records
no graph, though no `no_grad` is in sight at the call. A class counts when its `forward` is
itself decorated to turn gradients off, or returns, on some path, the result of a method of
the same class that is.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.flow import OFF, decorated_grad, strip_moves
from auditor.analysis.model import ClassInfo, FileModel
from auditor.analysis.names import dotted_name, resolve_import
from auditor.analysis.roles import is_module_class


def grad_free_classes(model: FileModel) -> list[str]:
    """Names of the file's model classes whose forward can run with gradients off."""
    return sorted({info.name for info in model.class_infos
                   if is_module_class(model, info) and _forward_grad_free(model, info)})


def _forward_grad_free(model: FileModel, cls: ClassInfo) -> bool:
    forward = cls.methods.get("forward")
    if forward is None:
        return False
    if decorated_grad(model, forward) == OFF:
        return True
    for returned in forward.returns:
        method = _own_method_called(returned.value)
        target = cls.methods.get(method) if method else None
        if target is not None and target is not forward and decorated_grad(model, target) == OFF:
            return True
    return False


def _own_method_called(value: Optional[cst.BaseExpression]) -> Optional[str]:
    """`inference` for `return self.inference(x)`, else None."""
    if type(value) is not cst.Call:
        return None
    name = dotted_name(value.func) or ""
    parts = name.split(".")
    return parts[1] if len(parts) == 2 and parts[0] == "self" else None


def may_run_grad_free(model: FileModel, project, module: Optional[str], values: list) -> bool:
    """Whether the model built by `values` (the expressions a model name can hold) can run
    its forward with gradients off by itself. A class this file or the run knows answers
    for itself; when some value's class cannot be told (a parameter, a builder function),
    any such class of the file or the run may be the one: the answer is then yes if one exists."""
    local = model.cache.get("grad_free.classes")
    if local is None:
        local = model.cache["grad_free.classes"] = set(grad_free_classes(model))
    unknown = not values
    for value in values:
        found = _class_grad_free(model, project, module, value, local)
        if found:
            return True
        unknown = unknown or found is None
    if not unknown:
        return False
    return bool(local) or (project is not None and hasattr(project, "any_grad_free") and project.any_grad_free())


def _class_grad_free(model: FileModel, project, module: Optional[str], value, local: set) -> Optional[bool]:
    """True/False for a value that builds a model class known here or in the run, else None."""
    value = strip_moves(value)
    if type(value) is not cst.Call:
        return None
    name = dotted_name(value.func)
    if not name:
        return None
    if name in model.class_info:
        return name in local if is_module_class(model, model.class_info[name]) else None
    if project is None or not module or not hasattr(project, "grad_free"):
        return None
    qualified = model.qualify_call(value)
    targets = []
    if qualified is not None:
        target = resolve_import(module, qualified)
        if target is not None:
            targets.append(target)
    elif "." not in name:
        targets = [t for t in (resolve_import(module, f"{star}.{name}") for star in model.imports.stars) if t]
    for target in targets:
        if project.grad_free(*target):
            return True
        if project.model_class(*target) is not None:
            return False
    return None
