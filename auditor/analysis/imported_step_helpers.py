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


from auditor.analysis.accumulation import loop_clears_nothing, unclearing_functions
from auditor.analysis.model import CallSite
from auditor.analysis.project_objects import constructed_classes


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
            for qualname in constructed_classes(model, receiver, site.function):
                if qualname.rsplit(".", 1)[-1] in model.class_info:
                    continue  # a class of this file: its own summary is this file (read directly)
                entry = project_entry(flow.project, flow.module_name, qualname, "unclearing_steps")
                matched = matched or (bool(entry) and method in entry)
        if matched and loop_clears_nothing(prog, site, None):
            found.append(site)
    return found

