"""Names taken out of autograd only in name: `with torch.no_grad(): noisev = noise`.

Code of the PyTorch 0.3 era wrapped its evaluation inputs in `Variable(x, volatile=True)`,
which switched autograd off for everything computed from them. Its ports often moved the
wrapping into a `with torch.no_grad():` block that holds only the alias, and left the forward
pass below the block:

    with torch.no_grad():
        noisev = noise
    samples = netG(noisev)      # runs with autograd on

The block says what the author wanted (no graph for this forward pass) and does nothing: it
ends before the model runs. This module finds, for a call argument, the alias binding in such
a block that is in force at the call.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import Binding, FileModel
from auditor.analysis.uses import source_order

_GRAD_OFF = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad")


def no_grad_alias(model: FileModel, argument: cst.BaseExpression, at: cst.CSTNode,
                  function: Optional[cst.FunctionDef]) -> Optional[Binding]:
    """The binding of the name `argument` in force at `at` when it is a plain alias
    (`v = x`, `v = x.to(device)` is not: a call) made inside a `no_grad` block that binds
    nothing else and does no work, and `at` is outside that block. None otherwise."""
    if type(argument) is not cst.Name:
        return None
    order = source_order(model)
    where = order.get(at, 0)
    bindings = [b for b in model.bindings.get(argument.value, ()) if b.function is function]
    before = [b for b in bindings if 0 <= order.get(b.statement, -1) < where]
    if not before:
        return None
    last = max(before, key=lambda b: order.get(b.statement, -1))
    if last.kind != "assign" or last.index is not None or type(last.value) not in (cst.Name, cst.Attribute):
        return None
    block = _grad_off_block(model, last.statement)
    if block is None or model.is_within(at, block):
        return None
    return last


def _grad_off_block(model: FileModel, statement: cst.CSTNode) -> Optional[cst.With]:
    """The `with torch.no_grad():` whose body is `statement`'s line and other plain aliases."""
    line = model.parent(statement)
    block = model.parent(line) if line is not None else None
    owner = model.parent(block) if block is not None else None
    if type(owner) is not cst.With or not any(_turns_grad_off(model, item.item) for item in owner.items):
        return None
    for entry in owner.body.body:
        if type(entry) is not cst.SimpleStatementLine:
            return None
        for small in entry.body:
            if type(small) is not cst.Assign or type(small.value) not in (cst.Name, cst.Attribute):
                return None
    return owner


def _turns_grad_off(model: FileModel, item: cst.BaseExpression) -> bool:
    if type(item) is not cst.Call:
        return False
    qualified = model.qualify_call(item) or ""
    if qualified in _GRAD_OFF:
        return True
    if qualified == "torch.set_grad_enabled" and item.args:
        value = item.args[0].value
        return type(value) is cst.Name and value.value == "False"
    return False
