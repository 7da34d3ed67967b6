"""A forward that applies its layers in a loop: `for layer in self.layers: x = layer(x)`.

MLP builders keep their layers in an `nn.ModuleList` (or an `nn.Sequential`) filled in
`__init__`, often in a loop, and apply them one after the other in `forward`. What leaves the
loop is the output of the container's last layer: the last element of the literal it was
built from, or the last `self.layers.append(...)` of `__init__` in source order (the one that
runs last, also when it is inside the filling loop). An `extend`/`insert` or a layer appended
under a condition leaves the last layer unknown.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.uses import source_order

_CONTAINERS = ("torch.nn.ModuleList", "torch.nn.Sequential")
_BRANCHES = (cst.If, cst.IfExp, cst.Try, cst.While)


def looped_last_layer(model: FileModel, function, callee: str,
                      use: Optional[cst.CSTNode]) -> Optional[tuple[str, cst.BaseExpression]]:
    """(container, its last layer) when `callee(...)` at `use` is a layer a loop of `function`
    walks over `self.<container>` (`for layer in self.layers:`), else None."""
    if use is None or function is None or "." in callee:
        return None
    bindings = model.bindings_of(callee, function)
    if len(bindings) != 1 or bindings[0].kind != "for" or bindings[0].function is not function:
        return None
    loop = bindings[0].statement
    if type(loop) is not cst.For or type(loop.target) is not cst.Name or not model.is_within(use, loop.body):
        return None
    container = dotted_name(loop.iter)
    if not container or not container.startswith("self.") or container.count(".") != 1:
        return None
    cls = model.class_of(function)
    init = cls.methods.get("__init__") if cls is not None else None
    if init is None:
        return None
    held = [b for b in model.bindings_of(container, init.node) if b.function is init.node]
    if len(held) != 1 or held[0].kind != "assign" or held[0].index is not None \
            or type(held[0].value) is not cst.Call or not matches(model.qualify_call(held[0].value), *_CONTAINERS):
        return None
    last = _appended_last(model, init.node, container, held[0].value)
    if last is None:
        args = [a for a in held[0].value.args if a.keyword is None]
        if any(a.star for a in args):
            return None
        if matches(model.qualify_call(held[0].value), "torch.nn.ModuleList"):
            listed = args[0].value if len(args) == 1 else None
            elements = listed.elements if type(listed) is cst.List else ()
            last = elements[-1].value if elements and type(elements[-1]) is cst.Element else None
        else:
            last = args[-1].value if args else None
    return (container, last) if last is not None else None


def _appended_last(model: FileModel, init, container: str, built: cst.Call) -> Optional[cst.BaseExpression]:
    """The layer of the last `container.append(layer)` in `__init__`; None when there is none,
    or when the container is also changed otherwise or the last append is conditional."""
    sites = [site for site in model.calls_in(init) if dotted_name(site.receiver) == container]
    if not sites:
        return None
    if any(site.method != "append" or len(site.node.args) != 1 for site in sites):
        return _UNKNOWN
    order = source_order(model)
    last = max(sites, key=lambda site: order.get(site.node, -1))
    node = model.parents.get(last.node)
    while node is not None and node is not init:
        if isinstance(node, _BRANCHES):
            return _UNKNOWN
        node = model.parents.get(node)
    return last.node.args[0].value


# An expression no layer matches: the last layer is unknown.
_UNKNOWN = cst.Name("__unknown_layer__")
