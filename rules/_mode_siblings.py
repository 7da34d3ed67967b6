"""A trainer class whose other method leaves its network in eval mode (TRN103).

`class Model: def fit(...): ... self.optimizer.step()` with no `self.net.train()`, and
`def predict(...): self.net.eval(); ...` that never switches it back: a `fit` called after a
`predict` (or a callback of `fit` that predicts) trains in eval mode. The flow knows nothing
of the net's mode when `fit` starts (its callers are elsewhere); this reads the class.

Kept narrow: a plain class (not an nn.Module), one network switched in the whole class (a
second, such as a frozen teacher kept in eval on purpose, makes it silent), and a sibling
method that runs the net and can end with it in eval mode, never in training mode.
"""

from __future__ import annotations

from typing import Optional

from auditor.analysis.flow import EVAL, TRAIN
from auditor.analysis.names import dotted_name
from auditor.analysis.roles import is_module_class


def sibling_leaving_eval(prog, function) -> Optional[tuple]:
    """(key, method name) when a step in `function`, a method of a plain class, trains the
    class's one switched network `self.x` that another method of the class leaves in eval
    mode; else None. Memoised per class."""
    model = prog.model
    info = model.info(function)
    cls = info.cls if info is not None else None
    if cls is None or is_module_class(model, cls):
        return None
    memo = model.cache.setdefault("mode.sibling_eval", {})
    if cls.node not in memo:
        memo[cls.node] = _find(prog, cls)
    found = memo[cls.node]
    if found is None or found[1] == info.name:
        return None
    if any(b.function is function for b in model.bindings.get(found[0], ())):
        return None  # `fit` builds a new network (`self.net = build()`): whatever predict left is gone
    if not _runs_with_grad(model, cls, info, found[0], 0):
        return None  # the step trains other modules: the net left in eval is a frozen teacher here
    return found


def _runs_with_grad(model, cls, method, key: str, depth: int) -> bool:
    """`method` runs the net with autograd on: `self.net(x)` outside `no_grad`, itself or
    through another method of the class (`self.loss_fn(x)` running it). A distillation step
    that only runs parts of a teacher under `no_grad` trains other modules."""
    from auditor.analysis.param_calls import _lexically_off

    for site in method.calls:
        if _lexically_off(model, site.node):
            continue
        if site.callee in (key, key + ".forward"):
            return True
        if depth < 2 and site.callee and site.callee.startswith("self.") and site.callee.count(".") == 1:
            other = cls.methods.get(site.callee[5:])
            if other is not None and other is not method and _runs_with_grad(model, cls, other, key, depth + 1):
                return True
    return False


def _find(prog, cls) -> Optional[tuple]:
    model = prog.model
    switched = set()
    for method in cls.methods.values():
        for site in method.calls:
            if site.method in ("train", "eval") and site.receiver is not None:
                name = dotted_name(site.receiver) or ""
                if not name.startswith("self."):
                    return None  # a model switched by another name: not read here
                switched.add(".".join(name.split(".")[:2]))
    if len(switched) != 1:
        return None
    (key,) = switched
    for method in cls.methods.values():
        if method.name.startswith("__"):
            continue
        modes = prog.flow.effects(method.node).get(key)
        if modes and EVAL in modes and TRAIN not in modes and _runs(method, key):
            return key, method.name
    return None


def _runs(method, key: str) -> bool:
    """The method runs the net itself (`self.net(x)`): a prediction, not an `export()` or
    `save()` that switches it to eval mode for tracing and is seldom followed by training."""
    return any(site.callee in (key, key + ".forward") for site in method.calls)
