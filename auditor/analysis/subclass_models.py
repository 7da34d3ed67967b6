"""Models that subclasses install for the methods of their base class.

A wrapper family (`class BaseModelTorch: def fit(self, ...): out = self.model(x); loss =
loss_func(out, y)`, with `class MLP(BaseModelTorch): def __init__(...): self.model = MLPNet(...)`)
trains, in the base class's method, whatever model each subclass puts in the attribute. The
base class itself only holds a placeholder (`None`) or nothing, so what the loss gets is
decided by the subclasses, often in other modules.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.builds import unwrap_model
from auditor.analysis.model import FileModel, syntactic_children
from auditor.analysis.names import dotted_name


def class_bases(model: FileModel) -> dict:
    """{class: (base last names, methods it defines without calling the base's own)} for the
    file's classes: a subclass that replaces a method entirely does not run the base's one."""
    found: dict = {}
    for cls in model.class_info.values():
        replaced = []
        for name, method in cls.methods.items():
            if not _calls_base_method(method.node, name):
                replaced.append(name)
        found[cls.name] = (tuple(sorted({b.rsplit(".", 1)[-1] for b in cls.bases})), tuple(sorted(replaced)))
    return found


def _calls_base_method(method: cst.FunctionDef, name: str) -> bool:
    """Whether the method calls `<call>.name(...)`: `super().fit(...)`, `super(MLP, self).fit(...)`,
    so that the base's method still runs."""
    stack: list = [method.body]
    while stack:
        current = stack.pop()
        if type(current) is cst.Call:
            func = current.func
            if type(func) is cst.Attribute and func.attr.value == name and type(func.value) is cst.Call:
                return True
        stack.extend(syntactic_children(current))
    return False


def placeholder_only(model: FileModel, attribute: str, bindings: list) -> bool:
    """The class's own bindings of `self.attr` hold no model: `self.model = None`, or the same
    model moved or wrapped (`self.model = nn.DataParallel(self.model)`), or none at all."""
    for b in bindings:
        value = b.value
        if type(value) is cst.Name and value.value == "None":
            continue
        if value is not None and dotted_name(unwrap_model(model, value)) == attribute:
            continue
        return False
    return True


def installed_by_subclasses(project, base: str, attribute: str, method: str) -> list:
    """[(subclass, module, class of the model)] that the run's subclasses of `base` (direct or not) put in
    `self.<attribute>` in their `__init__`, for those that still run the base's `method`."""
    summaries = getattr(project, "summaries", None)
    if not summaries:
        return []
    tables = [(getattr(s, "class_bases", None) or {}, getattr(s, "attribute_classes", None) or {})
              for s in summaries.values()]
    found: list = []
    bases_of = {name: entry for table, _ in tables for name, entry in table.items()}
    for table, held in tables:
        for name, (_, replaced) in table.items():
            if method in replaced or not _descends(bases_of, name, base):
                continue
            owner = held.get((name, attribute))
            if owner is not None:
                found.append((name, *owner))
    return found


def _descends(bases_of: dict, name: str, base: str) -> bool:
    seen: set = set()
    todo = list(bases_of.get(name, ((), ()))[0])
    while todo:
        current = todo.pop()
        if current == base:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(bases_of.get(current, ((), ()))[0])
    return False


def subclass_output(project, base: str, attribute: str, method: str, kind: str, index,
                    summarized) -> Optional[tuple]:
    """Evidence that one subclass of `base` installs in `self.<attribute>` a model whose
    forward ends in `kind`: on the configuration that builds that subclass, the base's
    `method` feeds its output on."""
    for subclass, module, name in installed_by_subclasses(project, base, attribute, method):
        summary = project.get(module)
        if summarized(getattr(summary, "outputs", None) or {}, name, kind, index):
            return subclass, module, name
    return None
