"""Generic queries over the file model that the TRN205-206, 303, 404-406, 5xx, 6xx rules share.

Small on purpose: each answers one question from the model's tables (calls,
bindings, parents, classes) without walking the tree again.
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.model import syntactic_children
from auditor.analysis.roles import is_module_class, is_torch_nn_class
from auditor.analysis.names import dotted_name
from auditor.analysis.splits import name_tokens

LOOPS = (cst.For, cst.While)
MODEL_WORDS = {"model", "net", "network", "module", "encoder", "decoder", "backbone", "classifier",
               "generator", "discriminator", "transformer"}


def qualify(model, node: Optional[cst.BaseExpression]) -> Optional[str]:
    return model.imports.qualify(node) if node is not None else None


def local_class(model, name: Optional[str]) -> Optional[cst.ClassDef]:
    for cls in model.classes:
        if cls.name.value == name:
            return cls
    return None


def methods(cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    return {s.name.value: s for s in body if isinstance(s, cst.FunctionDef)}


def class_of(model, function: Optional[cst.FunctionDef]) -> Optional[cst.ClassDef]:
    """The class whose method `function` is (None for plain functions)."""
    if function is None:
        return None
    block = model.parent(function)
    cls = model.parent(block) if block is not None else None
    return cls if isinstance(cls, cst.ClassDef) else None


def loops_around(model, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Enclosing for/while loops, innermost first, within the enclosing function."""
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, cst.FunctionDef):
            return
        if isinstance(ancestor, LOOPS):
            yield ancestor


def bound_values(model, expr: cst.BaseExpression, function: Optional[cst.FunctionDef]) -> list[cst.BaseExpression]:
    """What a name (or `self.x`) was assigned, looked up from `function`; `self.x` within its class."""
    name = dotted_name(expr)
    if name is None:
        return []
    found = model.bindings.get(name, [])
    if name.startswith("self."):
        cls = class_of(model, function)
        return [b.value for b in found if getattr(b, "kind", "assign") == "assign"
                and getattr(b, "index", None) is None and class_of(model, b.function) is cls]
    return model.values_of(name, function)


def constructor(model, value: cst.BaseExpression) -> Optional[str]:
    """The qualified class a value was built from (`nn.Linear(...)` -> torch.nn.Linear), or a local class name."""
    if not isinstance(value, cst.Call):
        return None
    qualified = qualify(model, value.func)
    if qualified:
        return qualified
    name = dotted_name(value.func)
    return name if name and local_class(model, name) is not None else None


def is_module_value(model, value: cst.BaseExpression) -> bool:
    """Built by an nn.Module class (torch.nn, a local Module subclass, torchvision/timm model factories)."""
    built = constructor(model, value)
    if built is None:
        return False
    if is_torch_nn_class(built) or built.startswith(("torchvision.models.", "timm.create_model")):
        return True
    cls = local_class(model, built)
    return cls is not None and is_module_class(model, cls)


def names_a_model(expr: cst.BaseExpression) -> bool:
    name = dotted_name(expr)
    return bool(name) and any(t in MODEL_WORDS for t in name_tokens(name))


def string_value(node: Optional[cst.BaseExpression]) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except (SyntaxError, ValueError):  # an escape CPython refuses ("\N{NOPE}") that libcst parses
            return None
        return value if isinstance(value, str) else None
    return None


def method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def receiver(call: cst.Call) -> Optional[cst.BaseExpression]:
    return call.func.value if isinstance(call.func, cst.Attribute) else None


NO_GRAD = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad")


def _disables_grad(model, expr: cst.BaseExpression) -> bool:
    from auditor.analysis.names import matches

    call = expr if isinstance(expr, cst.Call) else None
    target = call.func if call is not None else expr
    qualified = model.imports.qualify(target)
    if matches(qualified, *NO_GRAD):
        return True
    if matches(qualified, "torch.set_grad_enabled") and call is not None and call.args:
        value = call.args[0].value
        return isinstance(value, cst.Name) and value.value == "False"
    return False


def under_no_grad(model, node: cst.CSTNode) -> bool:
    """Inside `with torch.no_grad():` (inference_mode, set_grad_enabled(False)) or a function decorated so."""
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, cst.With) and any(_disables_grad(model, item.item) for item in ancestor.items):
            return True
        if isinstance(ancestor, cst.FunctionDef) and any(_disables_grad(model, d.decorator)
                                                         for d in ancestor.decorators):
            return True
    return False


def names_in(node: cst.CSTNode) -> set[str]:
    """Dotted names read anywhere in an expression (`a + self.b * f(c)` -> a, self.b, f, c)."""
    found: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        kind = type(current)
        if kind is cst.Name:
            found.add(current.value)
            continue
        if kind is cst.Attribute:
            name = dotted_name(current)
            if name:
                found.add(name)
                continue
        pending.extend(syntactic_children(current))
    return found


def exclusive_branches(model, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """True when `a` and `b` sit in different branches of one `if` (never both run)."""
    for ancestor in model.ancestors(a):
        if isinstance(ancestor, cst.FunctionDef):
            return False
        if isinstance(ancestor, cst.If) and ancestor.orelse is not None:
            in_body = model.is_within(a, ancestor.body)
            other = ancestor.orelse if in_body else ancestor.body
            if model.is_within(b, other):
                return True
    return False
