"""A call whose result is used as a module: it built one (or fetched one), it ran no forward pass.

`model = Model(envs).to(device)` then `model.load_state_dict(...)`, `model.eval()`: `Model` is a
network class handed to an evaluation helper (often annotated, loosely, `torch.nn.Module`), and
calling it builds the network. A forward pass returns tensors, and tensors have no
`load_state_dict`, `eval`, `train` or `parameters`: when the call's result, directly or through
the name it is bound to, gets one of those, the call made a module.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import CallSite, FileModel
from auditor.analysis.names import dotted_name
from auditor.analysis.uses import source_order

# Methods of `nn.Module` that a tensor (or a tuple/dict of tensors) does not have.
MODULE_ONLY_METHODS = frozenset({
    "load_state_dict", "state_dict", "eval", "train", "parameters", "named_parameters", "modules",
    "named_modules", "children", "named_children", "buffers", "named_buffers", "register_forward_hook",
    "register_buffer", "add_module"})
# Methods shared by modules and tensors that hand back the same object (moved or cast).
_PASS_THROUGH = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16"})


def result_is_a_module(model: FileModel, site: CallSite) -> bool:
    """`site`'s result gets a module-only method, chained on it (`Net(4).eval()`) or on the
    name it is assigned to, later in the same function before that name is bound again."""
    top = site.node
    while True:
        attribute = model.parent(top)
        call = model.parent(attribute) if attribute is not None else None
        if type(attribute) is not cst.Attribute or attribute.value is not top or \
                type(call) is not cst.Call or call.func is not attribute:
            break
        method = attribute.attr.value
        if method in MODULE_ONLY_METHODS:
            return True
        if method not in _PASS_THROUGH:
            return False
        top = call
    target = _assigned_name(model, top)
    return target is not None and _later_module_call(model, site, target)


def _assigned_name(model: FileModel, value: cst.CSTNode) -> Optional[str]:
    statement = model.parent(value)
    if type(statement) is not cst.Assign or statement.value is not value or len(statement.targets) != 1:
        return None
    return dotted_name(statement.targets[0].target)


def _later_module_call(model: FileModel, site: CallSite, target: str) -> bool:
    order = source_order(model)
    at = order.get(site.node, 0)
    rebound = min((order.get(b.statement, 0) for b in model.bindings_of(target, site.function)
                   if order.get(b.statement, 0) > at), default=None)
    for other in model.calls_in(site.function):
        if other.method not in MODULE_ONLY_METHODS or other.receiver is None or \
                dotted_name(other.receiver) != target:
            continue
        position = order.get(other.node, 0)
        if position > at and (rebound is None or position < rebound):
            return True
    return False
