"""TRN103 at a call of a wrapper's training method defined in another module.

`model.train_emb(images, captions)` in `train.py`, where `model` is a parameter and the one
class of the run defining `train_emb` (in `model.py`) back-propagates and steps its own
optimizer: the call is a training step of the networks the object holds. When a
validation on this path left one of them in eval mode (`model.val_start()`, which the
project reads as `model.img_enc.eval()`), that step trains in eval mode. A wrapper method
that itself switches the attribute to training mode (`train_emb` calling `self.train_start()`)
is its own guard.
"""

from __future__ import annotations

from typing import Optional

from auditor.analysis.flow import EVAL
from auditor.analysis.named_methods import library_object
from auditor.analysis.names import dotted_name
from auditor.analysis.wrapper_methods import project_wrapper_method


def wrapper_step(prog, site) -> Optional[tuple]:
    """(receiver key, {attribute suffixes the method itself switches to training}) for a
    call of another module's stepping wrapper method on an object of unknown class."""
    if site.qualname is not None or site.receiver is None or not site.method:
        return None
    flow = prog.flow
    if flow.project is None or flow.resolve(site) is not None:
        return None  # a method of this file: the step inside it is checked there
    key = dotted_name(site.receiver)
    if not key or key == "self" or library_object(prog.model, key, site.function):
        return None
    wrapped = project_wrapper_method(flow.project, site.method)
    if wrapped is None or not wrapped[1]:
        return None
    guarded = {suffix for suffix, modes in wrapped[0] if "train" in modes}
    return key, guarded


def report_wrapper_steps(ctx, prog, reported: set) -> None:
    for site in prog.model.calls:
        if site.node in reported:
            continue
        found = wrapper_step(prog, site)
        if found is None:
            continue
        key, guarded = found
        if "" in guarded:
            continue  # the method switches the whole object to training mode itself
        for state in prog.flow.states_at(site.node):
            # The object itself in eval mode (`self.model.eval()` on the wrapper): guarded when the
            # method switches any of its networks back to training mode.
            bad = sorted(held for held, mode in state.modes if mode == EVAL and (
                (held == key and not guarded) or (held.startswith(key + ".") and held[len(key):] not in guarded)))
            if bad:
                reported.add(site.node)
                ctx.report(site.node,
                           f"this training step (`{key}.{site.method}()` back-propagates and steps an optimizer) "
                           f"can run with `{bad[0]}` in eval mode (set by an earlier `.eval()` on this path, e.g. "
                           f"a validation through `{key}`); switch it back to training mode before training")
                break
