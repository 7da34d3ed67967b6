"""Method calls on an object of another module's class that holds this file's model.

`mcts = MCTS(network)` (the class imported from `mcts.py`, whose `__init__` keeps
`self.network = network`), then `mcts.search(board)`: the method runs `self.network` in the
mode `network` has here at the method call. A summary `calls` entry for
(`mcts`, `MCTS.search`) carries the constructor arguments' modes keyed `init:<position>` or
`init:<keyword>`; the flow of `mcts.py` maps them to the attributes `__init__` stores
(`FlowAnalysis._project_entry`). An entry only when some argument has a known mode.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, resolve_import

INIT = "init:"
_MAX_CALLS = 200
_UNKNOWN = "?"  # flow.UNKNOWN (flow imports this module, so not imported from it)


def held_method_calls(model, module: str, is_package: bool, flow) -> list:
    """[(target module, "Class.method", grad, {"init:<i>" or "init:<kw>": mode})]."""
    found: list = []
    for site in model.calls:
        if site.qualname is not None or site.receiver is None or type(site.receiver) is not cst.Name \
                or not site.method or site.method.startswith("__"):
            continue
        built = _built_from(model, site.receiver.value, site.function, module, is_package)
        if built is None:
            continue
        (target_module, cls), handed = built
        for state in flow.states_at(site.node):
            modes = {}
            for key, name in handed:
                mode = state.mode(name)
                if mode is not None and mode != _UNKNOWN:
                    modes[INIT + str(key)] = mode
            if modes:
                found.append((target_module, f"{cls}.{site.method}", state.grad, modes))
        if len(found) >= _MAX_CALLS:
            break
    return found


def _built_from(model, name: str, function, module: str, is_package: bool) -> Optional[tuple]:
    """((class module, class), [(position or keyword, handed name)]) when `name` is bound once,
    here, to a call of a capitalised class imported from another module of the project."""
    bindings = model.bindings_of(name, function)
    if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].index is not None:
        return None
    call = bindings[0].value
    if type(call) is not cst.Call:
        return None
    qualified = model.qualify_call(call)
    if not qualified or not qualified.rsplit(".", 1)[-1][:1].isupper():
        return None
    target = resolve_import(module, qualified, is_package)
    if target is None:
        return None
    handed = []
    for index, arg in enumerate(call.args):
        if arg.star:
            break
        argument = dotted_name(arg.value)
        if argument:
            handed.append((arg.keyword.value if arg.keyword is not None else index, argument))
    return (target, handed) if handed else None


def init_modes(model, info, arg_modes: dict) -> list:
    """[(`self.attr`, mode)] for the `init:` entries of a method's call context: the attribute
    its class's `__init__` stores each handed parameter in (`self.network = network`)."""
    cls = info.cls
    init = cls.methods.get("__init__") if cls is not None else None
    if init is None:
        return []
    params = [p for p in init.positional if p != "self"]
    found = []
    for key, mode in arg_modes.items():
        if not isinstance(key, str) or not key.startswith(INIT):
            continue
        handed = key[len(INIT):]
        param = params[int(handed)] if handed.isdigit() and int(handed) < len(params) else \
            (handed if not handed.isdigit() and handed in init.params else None)
        if param is None:
            continue
        for name, stored in model.bindings.items():
            if not name.startswith("self.") or name.count(".") != 1:
                continue
            values = [b for b in stored if b.function is init.node]
            if len(values) == 1 and len(stored) == 1 and values[0].kind == "assign" and values[0].index is None \
                    and type(values[0].value) is cst.Name and values[0].value.value == param:
                found.append((name, mode))
    return found
