"""A module class that is a loss, not a model: it wraps torch losses and holds no weights.

`class LabelSmoothing(nn.Module)` whose `__init__` keeps `nn.KLDivLoss(...)`, a few numbers
and a target buffer computes a criterion. Calling it (`crit(predict.log(), target)` to plot
the penalty of label smoothing) runs no model: with constant inputs autograd records
nothing, and its mode changes nothing. Read from what the class stores on `self`: at least
one `torch.nn` loss, and otherwise only numbers, strings, tensors or names it never calls (a
called attribute holding a handed-in model, `self.model(x)`, makes it a model wrapper).
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import ClassInfo, FileModel, syntactic_children
from auditor.analysis.names import dotted_name

_PLAIN = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
          cst.Name, cst.Attribute, cst.Subscript, cst.BinaryOperation, cst.UnaryOperation, cst.Comparison,
          cst.BooleanOperation, cst.IfExp)
# torch functions that make a tensor (a buffer or a constant), never a layer.
_TENSOR_MAKERS = ("torch.tensor", "torch.zeros", "torch.ones", "torch.full", "torch.arange", "torch.eye",
                  "torch.Tensor", "torch.FloatTensor", "torch.LongTensor", "torch.as_tensor", "torch.from_numpy")
_BUILTINS = {"float", "int", "bool", "str", "list", "tuple", "dict", "set", "len", "max", "min", "abs"}


def is_loss_wrapper(model: FileModel, cls: ClassInfo) -> bool:
    """`cls` (a module class of the file) only wraps torch losses and holds no weights."""
    if any(base.rsplit(".", 1)[-1] != "Module" for base in cls.bases):
        return False  # a subclass of another class: its layers may come from there
    losses = 0
    stored: set = set()
    for info in cls.methods.values():
        for node in _self_assignments(info.node):
            target, value = node
            stored.add(target)
            kind = _stored_kind(model, value)
            if kind is None:
                return False
            losses += kind == "loss"
        for site in info.calls:
            qualified = model.qualify_call(site.node) or ""
            if qualified.endswith("Parameter") or site.method in ("register_parameter", "add_module"):
                return False
    if not losses:
        return False
    called = {site.callee for info in cls.methods.values() for site in info.calls if site.callee}
    return not any(name in called and not _holds_loss(model, cls, name) for name in stored)


def _self_assignments(function: cst.FunctionDef) -> list:
    found = []
    stack = [function.body]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(current, cst.Assign):
            for target in current.targets:
                name = dotted_name(target.target)
                if name and name.startswith("self."):
                    found.append((name, current.value))
        elif isinstance(current, cst.AnnAssign) and current.value is not None:
            name = dotted_name(current.target)
            if name and name.startswith("self."):
                found.append((name, current.value))
        stack.extend(syntactic_children(current))
    return found


def _stored_kind(model: FileModel, value: cst.BaseExpression):
    """"loss", "plain", or None (a layer, a model, or a call nobody can tell)."""
    if type(value) is cst.Call:
        qualified = model.qualify_call(value) or ""
        if qualified.startswith("torch.nn.") and qualified.endswith("Loss"):
            return "loss"
        if qualified.startswith(_TENSOR_MAKERS) or (type(value.func) is cst.Name and value.func.value in _BUILTINS
                                                    and not qualified):
            return "plain"
        return None
    if type(value) in (cst.Tuple, cst.List):
        kinds = [_stored_kind(model, e.value) for e in value.elements]
        return None if None in kinds else "plain"
    if isinstance(value, _PLAIN):
        return "plain"
    return None


def _holds_loss(model: FileModel, cls: ClassInfo, name: str) -> bool:
    for info in cls.methods.values():
        for target, value in _self_assignments(info.node):
            if target == name and _stored_kind(model, value) != "loss":
                return False
    return True
