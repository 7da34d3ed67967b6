"""Objects built from classes of other modules of the run, read through the project summaries.

`trainer = MUNIT_Trainer(config)` on one branch and `UNIT_Trainer(config)` on the other: the
classes a receiver can hold (`constructed_classes`). `self.loss = losses.triplet.TripletLoss()`
handed the model by a training loop: whether that class's code ever clears gradients
(`clearing_classes`, summarised per module; `never_clearing_project_object`).
"""

from __future__ import annotations

from auditor.analysis.model import assigned_calls


def constructed_classes(model, receiver: str, function) -> list:
    """The qualified classes whose constructor calls the plain bindings of `receiver` hold
    (`trainer = MUNIT_Trainer(config)` on one branch, `UNIT_Trainer(config)` on the other: on
    each path the loop runs that class's method); [] when some binding is anything else."""
    found = []
    for call in assigned_calls(model.bindings_of(receiver, function)) or ():
        qualname = model.qualify_call(call)
        if qualname is None:
            return []
        if qualname not in found:
            found.append(qualname)
    return found


def clearing_classes(model, may_clear: bool) -> dict:
    """{class: whether its methods clear gradients} for the module's classes (`may_clear`:
    the module's text mentions `zero_grad` or `.grad` at all)."""
    table = {name: False for name in model.class_info}
    if not may_clear:
        return table
    for info in model.function_info.values():
        top = info
        while top.cls is None and top.parent is not None and top.parent in model.function_info:
            top = model.function_info[top.parent]
        if top.cls is None or table.get(top.cls.name) is not False:
            continue
        if any("zero_grad" in (site.callee or "") or site.method == "zero_grad" for site in info.calls):
            table[top.cls.name] = True
    for target, bindings in model.bindings.items():
        if target.endswith(".grad"):
            for binding in bindings:
                cls = model.class_of(binding.function)
                if cls is not None:
                    table[cls.name] = True
    return table


def never_clearing_project_object(prog, callee: str, function) -> bool:
    """`self.loss(batch, self.encoder)` where `self.loss` is built from a class of another
    module of this run (`losses.triplet_loss.TripletLoss(...)`) whose code never clears
    gradients: handing it the model cannot clear them."""
    from auditor.analysis.names import resolve_import

    project = prog.flow.project
    module = prog.flow.module_name
    if project is None or module is None:
        return False
    classes = constructed_classes(prog.model, callee, function)
    if not classes:
        return False
    for qualname in classes:
        target = resolve_import(module, qualname)
        summary = project.get(target[0]) if target is not None else None
        if summary is None or (getattr(summary, "clearing_classes", None) or {}).get(target[1]) is not False:
            return False  # not a class of this run, or one that may clear
    return True
