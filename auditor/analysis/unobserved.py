"""Training whose results nobody reads: a loop that times forward/backward/step.

Speed and memory benchmarks build a module, an optimizer over it, and run
`out = m(x); loss = ...; loss.backward(); opt.step()` many times while measuring the clock or
the device memory. Whatever the optimizer does to the weights, no number the program reports
depends on it. `training_unobserved` recognises that by behaviour, inside the function that
steps: the module is built there, and neither it nor anything computed from its outputs
leaves the backward/step chain (returned, printed, logged, stored, compared, handed to a
call, read by a nested function). Names are never read for meaning. When anything is
unclear, the answer is False (the results may matter).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name

# Methods on the module that neither read its weights out nor hand it anywhere.
_MODULE_HOUSEKEEPING = {"to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16"}
_PARAMETERS = {"parameters", "named_parameters"}
_OPTIMIZER_CALLS = {"step", "zero_grad"}
_MAX_ROUNDS = 8


def training_unobserved(prog, step_site, optimizer: Optional[str]) -> bool:
    """True when the optimizer stepped at `step_site` trains a module built in the same function
    and nothing computed by that module, nor the module or the optimizer, is ever read outside
    the forward -> loss -> backward -> step chain."""
    function = step_site.function
    if function is None or optimizer is None or "." in optimizer:
        return False
    model = prog.model
    module = _module_of(model, optimizer, function)
    if module is None:
        return False
    occurrences = _names_in(function)
    tainted: set[str] = set()  # names bound from the module's outputs (flow-insensitively)
    for _ in range(_MAX_ROUNDS):
        before = len(tainted)
        for name in (module, optimizer, *tainted):
            for node in occurrences.get(name, ()):
                verdict = _use(prog, node, function, module, optimizer, tainted)
                if verdict is False:
                    return False
        if len(tainted) == before:
            return True
    return False


def _module_of(model, optimizer: str, function) -> Optional[str]:
    """`m` when `optimizer` is bound only here to `Optim(m.parameters(), ...)` and `m` only here to
    the result of a call (a constructor, `Net(...).to(device)`)."""
    bindings = model.bindings_of(optimizer, function)
    owners = set()
    for b in bindings:
        if b.function is not function or b.kind != "assign" or b.index is not None or type(b.value) is not cst.Call:
            return None
        for arg in b.value.args:
            value = arg.value
            if type(value) is cst.Call and type(value.func) is cst.Attribute and \
                    value.func.attr.value in _PARAMETERS and type(value.func.value) is cst.Name:
                owners.add(value.func.value.value)
            elif not isinstance(value, (cst.Integer, cst.Float, cst.Name, cst.Attribute, cst.Tuple)):
                return None
    if len(owners) != 1:
        return None
    (module,) = owners
    built = model.bindings_of(module, function)
    if not built or any(b.function is not function or b.kind != "assign" or b.index is not None
                        or type(b.value) is not cst.Call for b in built):
        return None  # a parameter, a global, a module unpacked from a tuple: it may live on
    if any(_wraps_local(model, b.value, function) for b in built):
        return None  # `model = DDP(net)`: the weights are also `net`'s, read elsewhere
    return module


def _wraps_local(model, value: cst.Call, function) -> bool:
    """The module's constructor reads a local name bound to a call (another module, perhaps):
    `DDP(net)`, `Wrapper(backbone)`. A device (`torch.device(...)`) is not one."""
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            nonlocal found
            for b in model.bindings.get(node.value, ()):
                if b.function is function and b.kind != "param" and type(b.value) is cst.Call and \
                        dotted_name(b.value.func) not in ("torch.device", "device"):
                    found = True

    value.visit(_Find())
    return found


def _names_in(function: cst.FunctionDef) -> dict[str, list[cst.Name]]:
    """Every `Name` node under the function (nested functions included), by name."""
    found: dict[str, list[cst.Name]] = {}

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.setdefault(node.value, []).append(node)

    function.body.visit(_Collect())
    return found


def _use(prog, node: cst.Name, function, module: str, optimizer: str, tainted: set) -> Optional[bool]:
    """None: a harmless use (or a binding, whose new names join `tainted`); False: read out."""
    model = prog.model
    parent = model.parent(node)
    if type(parent) is cst.Attribute and parent.attr is node:
        return None  # `x.loss`: the attribute's name, not the variable
    if (type(parent) is cst.Arg and parent.keyword is node) or \
            (type(parent) in (cst.Param, cst.FunctionDef, cst.ClassDef) and parent.name is node):
        return None  # `f(loss=...)`'s keyword, a parameter's or a definition's own name
    owner = next((a for a in model.ancestors(node) if type(a) in (cst.FunctionDef, cst.Lambda, cst.ClassDef)), None)
    if owner is not function:
        return False  # a closure reads it: what it does there is unknown
    if _is_store(model, node):
        return None
    statement = _small_statement(model, node)
    if statement is None:
        return False  # an `if`/`while` test, a `for` iterable, a `with` item: a decision reads it
    name = node.value
    if name == optimizer:
        call = parent if type(parent) is cst.Call else model.parent(parent) if type(parent) is cst.Attribute else None
        if type(parent) is cst.Attribute and parent.value is node and type(call) is cst.Call and call.func is parent \
                and parent.attr.value in _OPTIMIZER_CALLS:
            return None
        if type(parent) is cst.Arg and type(model.parent(parent)) is cst.Call and type(statement) is cst.Expr:
            site = model.call_site.get(model.parent(parent))
            if site is not None and prog.is_step(site) or (site is not None and site.method == "unscale_"):
                return None  # `scaler.step(opt)`, `scaler.unscale_(opt)`
        return False
    if name == module and not (type(parent) is cst.Call and parent.func is node):
        # Not a forward call: only building the optimizer and housekeeping leave it unread.
        call = model.parent(parent) if type(parent) is cst.Attribute and parent.value is node else None
        if type(call) is cst.Call and call.func is parent:
            if parent.attr.value in _PARAMETERS and optimizer in _targets(statement):
                return None  # `opt = Adam(m.parameters())`
            if parent.attr.value in _MODULE_HOUSEKEEPING and (type(statement) is cst.Expr or
                                                              _targets(statement) == {module}):
                return None  # `m.train()`, `m = m.to(device)`
        return False  # returned, saved, evaluated, handed to a call: its weights are read
    if type(statement) is cst.Expr:
        return None if _inside_backward(prog, node, statement) else False
    if type(statement) in (cst.Assign, cst.AugAssign, cst.AnnAssign):
        return None if _binds(statement, tainted) else False
    return False


def _is_store(model, node: cst.Name) -> bool:
    """`node` is (part of) an assignment target or a loop target."""
    child, parent = node, model.parent(node)
    while type(parent) in (cst.Tuple, cst.List, cst.Element, cst.StarredElement):
        child, parent = parent, model.parent(parent)
    if type(parent) is cst.AssignTarget:
        return parent.target is child
    if type(parent) in (cst.AugAssign, cst.AnnAssign):
        return parent.target is child and child is node
    if type(parent) in (cst.For, cst.CompFor):
        return parent.target is child
    return False


def _small_statement(model, node: cst.CSTNode) -> Optional[cst.BaseSmallStatement]:
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, cst.BaseSmallStatement):
            return ancestor
        if isinstance(ancestor, (cst.BaseCompoundStatement, cst.SimpleStatementLine)):
            return None
    return None


def _targets(statement) -> set[str]:
    if type(statement) is cst.Assign:
        targets = [t.target for t in statement.targets]
    elif type(statement) in (cst.AugAssign, cst.AnnAssign):
        targets = [statement.target]
    else:
        return set()
    names: set[str] = set()
    for target in targets:
        parts = target.elements if type(target) in (cst.Tuple, cst.List) else [target]
        for part in parts:
            value = part.value if isinstance(part, (cst.Element, cst.StarredElement)) else part
            names.add(dotted_name(value) or "?")
    return names


def _binds(statement, tainted: set) -> bool:
    """The statement binds plain local names only: they now hold the module's outputs."""
    names = _targets(statement)
    if not names or any(n == "?" or "." in n for n in names):
        return False  # stored into an object or a container: it outlives the chain
    tainted.update(names)
    return True


def _inside_backward(prog, node: cst.Name, statement: cst.Expr) -> bool:
    """`loss.backward()`, `scaler.scale(loss).backward()`, `torch.autograd.backward(loss)`."""
    value = statement.value
    if type(value) is not cst.Call:
        return False
    site = prog.model.call_site.get(value)
    if site is None or not (prog.is_backward(site) or site.method == "manual_backward"):
        return False
    return any(a is value for a in prog.model.ancestors(node))
