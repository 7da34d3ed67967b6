"""Grad mode carried through a function of another module into a method of the object it is handed.

`with torch.no_grad(): eval_model(model, data)` in `train.py`, where `inference.eval_model`
loops `model.predict(batch)` and `predict` is a method of `MTDNNModel` in `mt_dnn/model.py`:
`predict` runs with autograd off, two calls up, through a function that knows nothing of
the class. Each side is summarised in phase 1:

- the callee module: which methods its top-level functions call on which positional
  parameter, and whether the call is itself under a grad-off context (`param_method_calls`);
- the caller module: at each call of a function of another module, the grad mode and the
  user class of each positional argument that names an object (None when unknown)
  (`handed_objects`).

The project index joins them (`derived_contexts`): a method `Class.method` gets one context
per call of such a function when at least one caller hands an instance of `Class`; calls
whose argument class is unknown count too (their grad mode may be the one that matters),
calls handing another class do not.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches

# Methods that are not an evaluation of the object (moves, mode switches, bookkeeping).
_NOT_CALLS_OF_INTEREST = frozenset({
    "to", "cuda", "cpu", "eval", "train", "parameters", "named_parameters", "state_dict", "load_state_dict",
    "zero_grad", "step", "backward", "item", "size", "append", "extend", "items", "keys", "values", "get",
    "update", "format", "float", "half", "double", "detach", "numpy", "tolist"})
# Phase 1 records at most this many calls per file (a generated file must not bloat summaries).
_MAX_CALLS = 400


def param_method_calls(model: FileModel) -> dict:
    """{function: [(position, method, "off"/"on")]} for the module's top-level functions that
    call a method on a positional parameter (`model.predict(batch)`); "off" when the call is
    under `torch.no_grad()` (or the like) in the function itself, "on" when it inherits the
    caller's mode."""
    from auditor.analysis.flow import OFF, ON, _decorated_grad

    found: dict = {}
    for info in model.function_info.values():
        if info.parent is not None or info.cls is not None:
            continue
        positional = info.positional
        decorated = _decorated_grad(model, info) == OFF
        for site in info.calls:
            if site.method is None or site.method in _NOT_CALLS_OF_INTEREST:
                continue
            name = dotted_name(site.receiver) if site.receiver is not None else None
            if name is None or name not in positional:
                continue
            local = OFF if decorated or _lexically_off(model, site.node) else ON
            entry = (positional.index(name), site.method, local)
            if entry not in found.get(info.name, ()):
                found.setdefault(info.name, []).append(entry)
    return found


def _lexically_off(model: FileModel, node: cst.CSTNode) -> bool:
    """Inside a `with torch.no_grad():` (inference_mode, set_grad_enabled(False)) block."""
    from auditor.analysis.flow import GRAD_OFF_CONTEXTS, SET_GRAD

    for ancestor in model.ancestors(node):
        if type(ancestor) is cst.FunctionDef:
            return False
        if type(ancestor) is not cst.With:
            continue
        for item in ancestor.items:
            call = item.item
            if type(call) is not cst.Call:
                continue
            qualified = model.imports.qualify(call.func)
            if matches(qualified, *GRAD_OFF_CONTEXTS):
                return True
            if matches(qualified, *SET_GRAD) and call.args and type(call.args[0].value) is cst.Name \
                    and call.args[0].value.value == "False":
                return True
    return False


def handed_objects(model: FileModel, module: str, is_package: bool, flow, sites: list) -> list:
    """[(target module, function, grad, {position: (class module, class) or None})] for the
    cross-module calls `sites` (from `project._cross_module_calls`) that hand a name: the
    class it was built from in this file (a parameter: the class every caller in this file
    hands), None when unknown."""
    found = []
    for site, targets in sites:
        described: dict = {}
        for position, arg in enumerate(site.node.args):
            if arg.keyword is not None or arg.star:
                break
            if dotted_name(arg.value) is None:
                continue
            described[position] = _object_class(model, arg.value, site.function, module, is_package, 0)
        if not described:
            continue
        grads = sorted({state.grad for state in flow.states_at(site.node)})
        for target in targets:
            for grad in grads:
                found.append((target[0], target[1], grad, described))
        if len(found) >= _MAX_CALLS:
            break
    return found


def _object_class(model: FileModel, value: cst.BaseExpression, function, module: str, is_package: bool,
                  depth: int) -> Optional[tuple]:
    """(class module, class) that `value` is an instance of, following a parameter of a
    top-level function to the arguments its callers in this file pass (all must agree)."""
    from auditor.analysis.builds import instance_class

    owner = instance_class(model, value, function, module, is_package)
    if owner is not None:
        return (owner[1], owner[0]) if owner[1] is not None else None
    info = model.info(function)
    name = dotted_name(value)
    if info is None or info.parent is not None or info.cls is not None or name not in info.positional \
            or depth > 1 or any(b.kind != "param" for b in model.bindings_of(name, function)):
        return None
    position = info.positional.index(name)
    answers = set()
    for site in model.calls:
        if site.callee != info.name or site.qualname is not None:
            continue
        args = [a for a in site.node.args if a.keyword is None and not a.star]
        if position >= len(args):
            return None
        answers.add(_object_class(model, args[position].value, site.function, module, is_package, depth + 1))
    return answers.pop() if len(answers) == 1 else None


def derived_contexts(summaries) -> dict:
    """{(class module, "Class.method"): [grad]} from the summaries' `handed_objects` joined with
    the `param_method_calls` of the functions they call."""
    from auditor.analysis.flow import OFF

    by_module = {getattr(s, "module", None): s for s in summaries}
    calls_by_target: dict = {}
    for summary in summaries:
        for target_module, function, grad, described in getattr(summary, "handed_objects", None) or ():
            calls_by_target.setdefault((target_module, function), []).append((grad, described))
    derived: dict = {}
    for (target_module, function), calls in calls_by_target.items():
        callee = by_module.get(target_module)
        uses = (getattr(callee, "param_method_calls", None) or {}).get(function) if callee is not None else None
        for position, method, local in uses or ():
            classes = {d[position] for _, d in calls if d.get(position) is not None}
            for cls in classes:
                grads = [OFF if local == OFF else grad for grad, d in calls
                         if position in d and d[position] in (cls, None)]
                derived.setdefault((cls[0], f"{cls[1]}.{method}"), []).extend(grads)
    return derived
