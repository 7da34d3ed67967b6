"""Training-step helpers of other modules that never clear gradients, called in a loop here.

A module's summary lists its functions and methods that back-propagate and step on every
call and never clear gradients (`def learn(self): loss.backward(); self.optimizer.step()`,
`accumulation.unclearing_functions`, also through a helper they call). A loop of another module that calls one
of them on every iteration (`for episode in ...: agent.learn()`, with `agent = Agent(...)`
built from that module's class, or an imported function) and clears nothing itself applies,
at every step, the sum of all gradients so far: an RL agent's `learn()` in `agent.py` driven
by `main.py` is the common shape.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.accumulation import loop_clears_nothing, unclearing_functions
from auditor.analysis.model import CallSite


def unclearing_steps(prog) -> dict:
    """{top-level function: []} and {class: [methods]} of this module that step (themselves
    or through a helper they call) without ever clearing gradients (for the project summary)."""
    model = prog.model
    table: dict = {}
    for function in unclearing_functions(prog):
        info = model.function_info.get(function)
        if info is None:
            continue
        if info.cls is None and info.parent is None:
            table.setdefault(info.name, [])
        elif info.cls is not None and info.qualname == f"{info.cls.name}.{info.name}":
            methods = table.setdefault(info.cls.name, [])
            if info.name not in methods:
                methods.append(info.name)
    return table


def imported_unclearing_calls(prog) -> list[CallSite]:
    """Calls in a loop of this file of another module's never-clearing step helper, in a
    loop that clears nothing."""
    from auditor.analysis.project_names import project_entry

    flow = prog.flow
    if flow.project is None or flow.module_name is None:
        return []
    model = prog.model
    found = []
    for site in model.calls:
        if not prog.loops_of(site.node):
            continue
        entry: Optional[list] = None
        if site.qualname is not None and site.method is None:
            entry = project_entry(flow.project, flow.module_name, site.qualname, "unclearing_steps")
            matched = entry is not None and entry == []
        else:
            receiver, _, method = (site.callee or "").rpartition(".")
            if not receiver or "." in receiver or site.qualname is not None:
                continue
            matched = False
            for qualname in _constructed_classes(model, receiver, site.function):
                if qualname.rsplit(".", 1)[-1] in model.class_info:
                    continue  # a class of this file: its own summary is this file (read directly)
                entry = project_entry(flow.project, flow.module_name, qualname, "unclearing_steps")
                matched = matched or (bool(entry) and method in entry)
        if matched and loop_clears_nothing(prog, site, None):
            found.append(site)
    return found


def _constructed_classes(model, receiver: str, function) -> list:
    """The qualified classes whose constructor calls the plain bindings of `receiver` hold
    (`trainer = MUNIT_Trainer(config)` on one branch, `UNIT_Trainer(config)` on the other: on
    each path the loop runs that class's method); [] when some binding is anything else."""
    found = []
    for binding in model.bindings_of(receiver, function):
        if binding.kind != "assign" or binding.index is not None or not isinstance(binding.value, cst.Call):
            return []
        qualname = model.qualify_call(binding.value)
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
    classes = _constructed_classes(prog.model, callee, function)
    if not classes:
        return False
    for qualname in classes:
        target = resolve_import(module, qualname)
        summary = project.get(target[0]) if target is not None else None
        if summary is None or (getattr(summary, "clearing_classes", None) or {}).get(target[1]) is not False:
            return False  # not a class of this run, or one that may clear
    return True
