"""Methods of a project class, called from another module on an object of unknown class.

Research code keeps its networks in a plain object defined in `model.py` (`self.img_enc`,
`self.txt_enc`, an optimizer) whose methods switch them (`val_start()` calls
`self.img_enc.eval()`) and train them (`train_emb()` steps the optimizer); `train.py`
builds it once and hands it to `train(model, ...)` and `validate(model, ...)`, where its
class is unknown. Phase 1 records, per file, what each such method does to the object's
attributes (its mode effects on `self` and `self.<attr>`) and whether it steps an
optimizer. The project reads `model.val_start()` in `train.py` as switching `model.img_enc`,
and `model.train_emb(...)` as a training step of the attributes it holds, when every class
of the run defining that method name agrees.
"""

from __future__ import annotations

import weakref
from typing import Optional

from auditor.analysis.named_methods import _COMMON

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def wrapper_methods(model, flow) -> dict:
    """{method: [[[attribute suffix, [modes]], ...], steps]} per class of the file defining it,
    for the methods that switch `self` or its attributes to a definite mode or step an
    optimizer. The suffix is "" for `self`, ".img_enc" for `self.img_enc`. `flow` (None when
    the file switches no mode) answers the effects."""
    from auditor.analysis.roles import roles_of

    roles = None
    found: dict = {}
    for cls in model.class_infos:
        for name, method in cls.methods.items():
            if name.startswith("__") or name in _COMMON:
                continue
            effects = []
            for key, modes in sorted((flow.effects(method.node) if flow is not None else {}).items()):
                if (key == "self" or key.startswith("self.")) and all(m in ("train", "eval") for m in modes):
                    effects.append([key[4:], sorted(modes)])
            roles = roles or roles_of(model)
            steps = _steps(model, cls, method, roles)
            if effects or steps:
                found.setdefault(name, []).append([effects, steps])
    return found


def _steps(model, cls, method, roles) -> bool:
    """The method back-propagates and steps an optimizer, itself or through the methods of
    its class it calls on `self` (`step()` -> `self.optimize(loss)` -> `loss.backward()`,
    `self.optimizer.step()`)."""
    seen, pending = set(), [method]
    backward = stepped = False
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for site in current.calls:
            if site.method == "backward":
                backward = True
            elif site.method == "step" and site.receiver is not None and not site.node.args:
                receiver = model.code(site.receiver)
                stepped = stepped or "optim" in receiver.lower() or roles.is_optimizer(receiver, current.node)
            elif site.method in cls.methods and site.receiver is not None and model.code(site.receiver) == "self":
                pending.append(cls.methods[site.method])
    return backward and stepped


def project_wrapper_method(project, name: str) -> Optional[tuple]:
    """(effects [(suffix, modes)], steps) of the method `name` when every class of the run
    defining it (and recorded) does the same; None otherwise or when none does."""
    if project is None or not hasattr(project, "summaries") or not name or name in _COMMON:
        return None
    index = getattr(project, "index", project)
    table = _TABLES.get(index)
    if table is None:
        table = {}
        definers: dict = {}
        for summary in index.summaries.values():
            for method, entries in (getattr(summary, "wrapper_methods", None) or {}).items():
                table.setdefault(method, []).extend(entries)
            for method, qualified in (getattr(summary, "class_methods", None) or {}).items():
                definers[method] = definers.get(method, 0) + len(qualified)
        # A class defining the name that neither switches nor steps makes the call ambiguous.
        table = {method: entries for method, entries in table.items() if definers.get(method, 0) <= len(entries)}
        _TABLES[index] = table
    entries = table.get(name)
    if not entries or any(entry != entries[0] for entry in entries):
        return None
    effects, steps = entries[0]
    return [(suffix, tuple(modes)) for suffix, modes in effects], bool(steps)
