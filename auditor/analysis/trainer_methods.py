"""Methods of a file's classes that train: what a caller in another module runs when it calls
`trainer.train_epoch(loader)` on an instance of such a class (`trainer = Trainer(model, ...)`).

A method trains when it calls `backward()` or an optimizer's `step()` itself, or calls through
`self` another method of the same class that does (`fit` calling `self._run_epoch`).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst


def training_methods(program) -> dict:
    """{class name: [its methods that train]} for the top-level classes of the file."""
    model = program.model
    table = {}
    for cls in model.class_infos:
        if model.class_info.get(cls.name) is not cls:
            continue  # a redefined name: the first definition is the one the index holds
        if any(isinstance(a, (cst.FunctionDef, cst.ClassDef)) for a in model.ancestors(cls.node)):
            continue
        direct = {name for name, info in cls.methods.items()
                  if any(program.is_backward(s) or program.is_step(s) for s in info.calls)}
        if not direct:
            continue
        trains = set(direct)
        changed = True
        while changed:
            changed = False
            for name, info in cls.methods.items():
                if name not in trains and any(_self_method(s.callee) in trains for s in info.calls):
                    trains.add(name)
                    changed = True
        table[cls.name] = sorted(trains)
    return table


def _self_method(callee: Optional[str]) -> Optional[str]:
    if callee and callee.startswith("self.") and callee.count(".") == 1:
        return callee[5:]
    return None


def instance_class_call(model, receiver: str, function) -> Optional[cst.Call]:
    """The constructor call that every plain binding of `receiver` holds (`trainer =
    Trainer(model, opt)`), or None."""
    calls = []
    for binding in model.bindings_of(receiver, function):
        if binding.kind != "assign" or binding.index is not None or not isinstance(binding.value, cst.Call):
            return None
        calls.append(binding.value)
    if not calls:
        return None
    names = {model.qualify_call(c) for c in calls}
    return calls[0] if len(names) == 1 and None not in names else None
