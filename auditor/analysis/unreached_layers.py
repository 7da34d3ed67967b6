"""Layers a model class builds but its forward pass never runs.

`class AlexNet(nn.Module)` of a feature-map script keeps `self.classifier = nn.Sequential(
nn.Dropout(), ...)` from the original network but its `forward` returns the maps of
`self.features` alone: the dropout never runs, so the model computes the same in both
modes. An attribute that no method reads (only assigned) holds such layers; their
constructor calls are left out of the class's mode dependence. Not when a method other than
an initialiser reaches the submodules by iteration or by name (`self.children()`,
`getattr(self, name)`): then any attribute may run.
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import ClassInfo, syntactic_children
from auditor.analysis.names import dotted_name

_DYNAMIC = {"modules", "children", "named_children", "named_modules", "_modules", "__dict__"}
_DYNAMIC_CALLS = {"getattr", "vars"}


def unreached_layer_calls(cls: ClassInfo) -> frozenset:
    """The call nodes inside `self.x = ...` statements whose attribute no method reads."""
    if "forward" not in cls.methods:
        return frozenset()
    assigned: dict = {}
    targets: set = set()
    attributes: list = []  # every `self.x` Attribute node of the methods
    for name, info in cls.methods.items():
        for node in _walk(info.node.body):
            kind = type(node)
            if kind is cst.Assign:
                for target in node.targets:
                    targets.add(id(target.target))
                    attribute = dotted_name(target.target)
                    if attribute and attribute.startswith("self.") and attribute.count(".") == 1:
                        assigned.setdefault(attribute, []).append(node.value)
            elif kind is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self":
                if node.attr.value in _DYNAMIC and "init" not in name:
                    return frozenset()
                attributes.append(node)
            elif kind is cst.Call and type(node.func) is cst.Name and node.func.value in _DYNAMIC_CALLS \
                    and "init" not in name:
                return frozenset()
    # `self.x = ...` targets are Attribute nodes too: a read is one outside assignment targets.
    read = {"self." + node.attr.value for node in attributes if id(node) not in targets}
    calls: set = set()
    for attribute, values in assigned.items():
        if attribute not in read:
            for value in values:
                calls.update(n for n in _walk(value) if type(n) is cst.Call)
    return frozenset(calls)


def _walk(root: cst.CSTNode):
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) and current is not root:
            continue
        stack.extend(syntactic_children(current))
