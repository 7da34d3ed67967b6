"""TRN101 where the flow cannot say which mode a model enters a function in.

A function that trains a model and later evaluates the same model, with no mode switch
anywhere in the function, runs both in one mode, whatever that mode is. Training in eval
mode would be its own bug; the usual case, and the one reported, is a model left in training
mode for the evaluation (a class trainer whose `fit` trains, then scores its validation
loader each epoch, and only `predict` calls `eval()`). Reported only for models whose
mode-dependent layers are visible: the claim is then that dropout or batch norm is active.
"""

from __future__ import annotations

from typing import Optional

from auditor.analysis.flow import UNKNOWN
from auditor.analysis.names import dotted_name
from auditor.analysis.uses import TRAINING, source_order
from rules._queries import names_in

_MODE_METHODS = ("train", "eval")


def shared_with_training(prog, forward, evaluated: list) -> list:
    """[(state, evidence)] for an evaluation forward whose model trains earlier in the same
    function in the same (unknown) mode; [] when the flow knows the mode or nothing shows it."""
    key = forward.key
    function = forward.site.function
    if function is None or any(state.mode(key) not in (None, UNKNOWN) for state, _ in evaluated):
        return []
    model = prog.model
    order = source_order(model)
    at = order.get(forward.site.node, 0)
    trained = _trained_before(prog, key, function, at, order)
    if trained is None:
        return []
    if _switches_or_hands_over(model, key, function, forward.site.node, trained):
        return []
    name = model.info(function).name
    return [(state, f"{evidence} after training it in `{name}()` with no mode switch in between,")
            for state, evidence in evaluated]


def _trained_before(prog, key: str, function, at: int, order: dict):
    """The first forward pass of `key` in `function`, before position `at`, whose output is
    back-propagated, on a path where the flow does not know the mode either."""
    for other in prog.forwards():
        site = other.site
        if other.key != key or site.function is not function or order.get(site.node, 0) >= at:
            continue
        if prog.result_use(site) != TRAINING and not _in_a_training_loop(prog, site):
            continue
        if all(state.mode(key) in (None, UNKNOWN) for state in prog.flow.states_at(site.node)):
            return site.node
    return None


def _in_a_training_loop(prog, site) -> bool:
    """The forward's innermost loop calls backward (the use of its output is not followed,
    e.g. through `out = out.squeeze()` on one branch)."""
    loops = prog.loops_of(site.node)
    return bool(loops) and prog.backward_reachable(loops[0], site.function, None)


def _switches_or_hands_over(model, key: str, function, evaluated, trained) -> bool:
    """A mode call on the model (or a part or holder of it) anywhere in the function, or a
    call other than its own forward passes that is handed the model (a helper that may switch
    it) between the training forward and this one."""
    order = source_order(model)
    low, high = order.get(trained, 0), order.get(evaluated, 0)
    root = key.split(".", 1)[0] if not key.startswith("self.") else ".".join(key.split(".", 2)[:2])
    for site in model.calls_in(function):
        if site.method in _MODE_METHODS:
            held = dotted_name(site.receiver) if site.receiver is not None else None
            if held is not None and _related(held, key):
                return True
            continue
        if site.callee == key or not low < order.get(site.node, 0) < high:
            continue
        for arg in site.node.args:
            if any(_related(n, key) or n == root for n in names_in(arg.value)):
                return True
    return False


def _related(name: Optional[str], key: str) -> bool:
    """`name` is the model, a part of it (`model.encoder`) or what holds it (`self` for `self.net`
    does not count: `self` is every attribute's holder)."""
    if name is None or name == "self":
        return False
    return name == key or key.startswith(name + ".") or name.startswith(key + ".")
