"""Methods of a file's classes that train: what a caller in another module runs when it calls
`trainer.train_epoch(loader)` on an instance of such a class (`trainer = Trainer(model, ...)`).

A method trains when it calls `backward()` or an optimizer's `step()` itself, or calls through
`self` another method of the same class that does (`fit` calling `self._run_epoch`). A subclass
of a class of the same file inherits the training methods it does not override (`class
Trainer(BaseTrainer)` whose `train` is the base's), and its own methods that call them train.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import assigned_calls


def training_methods(program) -> dict:
    """{class name: [its methods that train]} for the top-level classes of the file."""
    model = program.model
    classes = {}  # name -> ClassInfo, the top-level classes the index holds
    for cls in model.class_infos:
        if model.class_info.get(cls.name) is not cls:
            continue  # a redefined name: the first definition is the one the index holds
        if any(isinstance(a, (cst.FunctionDef, cst.ClassDef)) for a in model.ancestors(cls.node)):
            continue
        classes[cls.name] = cls
    trains = {name: {m for m, info in cls.methods.items()
                     if any(program.is_backward(s) or program.is_step(s) for s in info.calls)}
              for name, cls in classes.items()}
    changed = True
    while changed:  # through `self.` calls and same-file bases, until nothing is added
        changed = False
        for name, cls in classes.items():
            own = trains[name]
            for base in cls.bases:
                inherited = {m for m in trains.get(base, ()) if m not in cls.methods} - own
                if inherited:
                    own |= inherited
                    changed = True
            for method, info in cls.methods.items():
                if method not in own and any(_self_method(s.callee) in own for s in info.calls):
                    own.add(method)
                    changed = True
    return {name: sorted(methods) for name, methods in trains.items() if methods}


def _self_method(callee: Optional[str]) -> Optional[str]:
    if callee and callee.startswith("self.") and callee.count(".") == 1:
        return callee[5:]
    return None


def instance_class_call(model, receiver: str, function) -> Optional[cst.Call]:
    """The constructor call that every plain binding of `receiver` holds (`trainer =
    Trainer(model, opt)`), or None."""
    calls = assigned_calls(model.bindings_of(receiver, function))
    if not calls:
        return None
    names = {model.qualify_call(c) for c in calls}
    return calls[0] if len(names) == 1 and None not in names else None
