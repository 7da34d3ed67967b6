"""Which top-level functions of a module evaluate a model, read from what they do.

A training script often calls an evaluation function of another module of its project each
epoch (`from test import kNN`, `from engine import evaluate`). Its name may say nothing
(`kNN`), or say evaluation while it trains (`evaluate` that steps an optimizer). Phase 1
records, per module, each top-level function's behaviour so that callers in other modules
read it instead of the name (the project summary field `evaluating_functions`):

- `(EVALUATES, model position, data positions)`: it runs a forward pass of a model it is
  handed (or of a module-level model) and never back-propagates or steps an optimizer,
  itself or through its own helpers of the file; the data positions are the parameters its
  forward-pass loops iterate (`for x, y in testloader`);
- `(TRAINS,)`: it back-propagates or steps, itself or through its own helpers;
- `(SWITCHED,)`: its own backward/step sits under an `if` on a parameter (`if train:`,
  `if optimizer is not None:`): what a call does depends on its arguments; callers read the
  name, as before.

A function that hands its model to a call it cannot see into (a function imported from
elsewhere that might step it) is left out: nobody can tell what it does.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

EVALUATES = "evaluates"
TRAINS = "trains"
SWITCHED = "switched"  # trains only under `if train:` / `if optimizer is not None:`: as the caller says

# Roots of calls that never train the model they are handed.
_LIBRARY_ROOTS = frozenset({"torch", "numpy", "np", "sklearn", "scipy", "math", "time", "copy", "len", "print",
                            "isinstance", "getattr", "hasattr", "enumerate", "zip", "range", "tqdm"})


def evaluating_functions(prog) -> dict:
    """{name: entry} for the module's top-level plain functions (see the module docstring)."""
    model = prog.model
    trains_memo: dict = {}
    forwards_by_function: dict = {}
    for forward in prog.forwards():
        forwards_by_function.setdefault(forward.site.function, []).append(forward)
    found = {}
    for function, info in model.function_info.items():
        if info.parent is not None or info.cls is not None:
            continue
        if _trains(prog, info, trains_memo, set()):
            found[info.name] = (SWITCHED,) if _switched(prog, info) else (TRAINS,)
            continue
        entry = _evaluation(prog, info, forwards_by_function)
        if entry is not None:
            found[info.name] = entry
    return found


def _callees(prog, info) -> list:
    """Functions of the file that `info` (or a function nested in it) calls."""
    found = []
    for site in _all_calls(prog, info):
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None:
            found.append(resolved[0])
    return found


def _all_calls(prog, info) -> list:
    calls = list(info.calls)
    for other in prog.model.function_info.values():
        if other.parent is info.node:
            calls += _all_calls(prog, other)
    return calls


def _trains(prog, info, memo: dict, active: set) -> bool:
    """Whether it back-propagates or steps, itself or through functions of the file."""
    if info.node in memo:
        return memo[info.node]
    if info.node in active:
        return False
    active.add(info.node)
    trains = any(prog.is_backward(s) or prog.is_step(s) for s in _all_calls(prog, info)) or any(
        _trains(prog, prog.model.function_info[f], memo, active) for f in _callees(prog, info)
        if f in prog.model.function_info)
    active.discard(info.node)
    memo[info.node] = trains
    return trains


def _switched(prog, info) -> bool:
    """Every backward/step of the function itself under an `if` whose test reads a parameter."""
    trains = [s for s in _all_calls(prog, info) if prog.is_backward(s) or prog.is_step(s)]
    if not trains:
        return False  # it trains through its helpers: no switch seen
    params = set(info.params)
    for step in trains:
        guarded = False
        for ancestor in prog.model.ancestors(step.node):
            if ancestor is info.node:
                break
            if isinstance(ancestor, cst.If) and prog.model.is_within(step.node, ancestor.body) and any(
                    isinstance(n, cst.Name) and n.value in params for n in _names(ancestor.test)):
                guarded = True
                break
        if not guarded:
            return False
    return True


def _names(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _evaluation(prog, info, forwards_by_function: dict) -> Optional[tuple]:
    """(EVALUATES, model position or None, data positions) or None."""
    params = info.positional
    inner = [info.node] + [f for f, other in prog.model.function_info.items() if other.parent is info.node]
    forwards = [f for node in inner for f in forwards_by_function.get(node, [])]
    if not forwards:
        return None
    model_param = None
    for forward in forwards:
        root = forward.key.split(".", 1)[0].split("[", 1)[0]
        if root in params:
            model_param = root
            break
    else:
        # Only a module-level model (or one built inside) runs: evaluation still, if no parameter
        # is a model the function hands on.
        if not all(forward.key.split(".", 1)[0] not in params for forward in forwards):
            return None
    if model_param is not None and _handed_to_unknown(prog, info, model_param):
        return None
    data = set()
    for forward in forwards:
        for loop in prog.loops_of(forward.site.node):
            iterated = _iterated_name(loop)
            if iterated in params:
                data.add(iterated)
    return (EVALUATES, params.index(model_param) if model_param is not None else None,
            tuple(sorted(params.index(p) for p in data)))


def _handed_to_unknown(prog, info, name: str) -> bool:
    """`train_step(net, ...)`: the model handed to a call that is neither a function of the
    file nor a known library's: it might train it there."""
    for site in _all_calls(prog, info):
        if not any(isinstance(a.value, cst.Name) and a.value.value == name for a in site.node.args):
            continue
        if prog.flow.resolve(site) is not None if site.qualname is None else False:
            continue
        root = (site.qualname or site.callee or "").split(".", 1)[0]
        if root in _LIBRARY_ROOTS or (site.callee or "").startswith(name + "."):
            continue
        return True
    return False


def _iterated_name(loop) -> Optional[str]:
    """`testloader` of `for x in testloader`, `enumerate(testloader)`, `tqdm(testloader)`."""
    if not isinstance(loop, cst.For):
        return None
    it = loop.iter
    while isinstance(it, cst.Call) and it.args:
        it = it.args[0].value
    return it.value if isinstance(it, cst.Name) else None
