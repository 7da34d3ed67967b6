"""Parameters updated by hand from their own gradient, and whether that gradient is cleared.

Plain gradient descent without an optimizer (`w -= lr * w.grad`, `p.data.sub_(lr * p.grad)`,
`w.data = w.data - lr * w.grad`) is a step like `optimizer.step()`: `backward()` adds into
`.grad`, so a training loop that updates a tensor this way must clear that tensor's gradient
every iteration (`w.grad.zero_()`, `w.grad = None`, `model.zero_grad()`), or each update
applies the sum of all gradients so far.

Only in-place updates of a tensor that lives across iterations count: `x = x - lr * x.grad`
rebinds the name to a new tensor (whose `.grad` starts empty), and a tensor re-created in
the loop (`x = x.detach().requires_grad_()`) has a fresh gradient each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name

# In-place tensor methods that move a tensor by an amount read from its gradient.
_IN_PLACE = frozenset({"sub_", "add_", "copy_", "addcmul_", "addcdiv_"})


@dataclass
class ManualUpdate:
    node: cst.CSTNode  # the statement or call that updates the tensor
    target: str  # the tensor updated (`w`, `self.W`, `p`), `.data` left off
    loop: cst.CSTNode  # the training loop: the innermost loop around it that back-propagates
    function: Optional[cst.FunctionDef]


def _base(name: Optional[str]) -> Optional[str]:
    """`w.data` and `w` are the same tensor."""
    while name is not None and name.endswith(".data"):
        name = name[: -len(".data")]
    return name


def _gradient_owners(node: cst.CSTNode) -> set[str]:
    """The tensors whose `.grad` an expression reads (`w.grad`, `p.grad.data`)."""
    owners: set[str] = set()

    class _Find(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> None:
            if n.attr.value == "grad":
                owner = _base(dotted_name(n.value))
                if owner:
                    owners.add(owner)

    node.visit(_Find())
    return owners


def manual_updates(prog) -> list[ManualUpdate]:
    """Tensors updated in place from their own `.grad` inside a loop that back-propagates."""
    model = prog.model
    cached = model.cache.get("manual_updates")
    if cached is not None:
        return cached
    candidates = []  # (node, target, function)
    for name, bindings in model.bindings.items():
        if name.endswith(".grad") or ".grad." in name:
            continue  # writes to the gradient itself (`p.grad += ...`): not an update of p
        for b in bindings:
            if b.kind == "aug" or (b.kind == "assign" and b.index is None and name.endswith(".data")):
                target = _base(name)
                if target and target in _gradient_owners(b.value):
                    candidates.append((b.statement, target, b.function))
    for site in model.calls:
        if site.method not in _IN_PLACE or site.receiver is None:
            continue
        target = _base(dotted_name(site.receiver))
        if target and not target.endswith(".grad") and \
                any(target in _gradient_owners(a.value) for a in site.node.args):
            candidates.append((site.node, target, site.function))
    found = []
    for node, target, function in candidates:
        loop = _training_loop(prog, node, function)
        if loop is None or _fresh_each_iteration(prog, target, loop, function):
            continue
        found.append(ManualUpdate(node, target, loop, function))
    model.cache["manual_updates"] = found
    return found


def _training_loop(prog, node: cst.CSTNode, function) -> Optional[cst.CSTNode]:
    for loop in prog.loops_of(node):
        if any(prog.is_backward(s) for s in prog.sites_in(loop, function)):
            return loop
    return None


def _fresh_each_iteration(prog, target: str, loop: cst.CSTNode, function) -> bool:
    """The name is bound anew inside the loop (`x = x.detach().requires_grad_()`), or is the
    loop's own variable over something other than parameters: a new tensor, a new gradient."""
    for b in prog.model.bindings.get(target, ()):
        if b.kind in ("assign", "with") and b.function is function and prog.inside(b.statement, loop):
            return True
    return False


def uncleared_manual_updates(prog) -> list[ManualUpdate]:
    """Manual updates that run on every iteration of their training loop while nothing in that
    iteration clears the updated tensor's gradient. Silent when a call in the loop may clear
    (a helper of the file that does, an unknown function handed the tensor or a model)."""
    found = []
    for update in manual_updates(prog):
        if not _runs_every_iteration(prog, update.node, update.loop):
            continue  # under a condition (an accumulation window, a warm-up): not judged
        cleared = _cleared_tensors(prog, update.loop, update.function)
        if cleared is None or update.target in cleared:
            continue
        found.append(update)
    return found


def _runs_every_iteration(prog, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
    for ancestor in prog.model.ancestors(node):
        if ancestor is loop:
            return True
        if type(ancestor) in (cst.If, cst.Try):
            return False  # (an inner `for p in model.parameters():` visits every tensor each time)
    return True


def _cleared_tensors(prog, loop: cst.CSTNode, function) -> Optional[set]:
    """The tensors whose gradients the loop's iteration clears; None when it clears them all
    (`zero_grad()`, a clear through a loop variable) or may (a call that cannot be read)."""
    model = prog.model
    loop_names = _names_bound_by_loops(loop)
    cleared: set = set()
    for name, bindings in model.bindings.items():
        if (name.endswith(".grad") or ".grad[" in name) and \
                any(prog.inside(b.statement, loop) for b in bindings):
            owner = _base(name[: -len(".grad")] if name.endswith(".grad") else name.split(".grad[")[0])
            if owner is None or owner.split(".")[0] in loop_names:
                return None
            cleared.add(owner)
    for site in prog.sites_in(loop, function):
        callee = site.callee or ""
        if site.method == "zero_grad" or "zero_grad" in callee:
            return None
        if site.method in ("zero_", "fill_", "detach_", "mul_") and ".grad" in callee:
            owner = _base(callee.rsplit(".grad", 1)[0])
            if owner is None or owner.split(".")[0] in loop_names:
                return None
            cleared.add(owner)
            continue
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None:
            info = model.function_info[resolved[0]]
            if any(s.method == "zero_grad" or "zero_grad" in (s.callee or "") or
                   (s.method in ("zero_", "fill_") and ".grad" in (s.callee or "")) for s in info.calls) or \
                    any(n.endswith(".grad") and any(b.function is resolved[0] for b in bs)
                        for n, bs in model.bindings.items()):
                return None
            continue
        if site.qualname is None and callee and (callee.startswith("self.") or "." not in callee):
            # an unknown helper handed a tensor, a model or an optimizer may clear gradients
            if any(dotted_name(a.value) is not None and not _literal(a.value) for a in site.node.args):
                if any(prog.roles.is_model(dotted_name(a.value), function) or
                       prog.roles.is_optimizer(dotted_name(a.value), function) or
                       _passes_parameters(a.value) for a in site.node.args):
                    return None
    return cleared


def _passes_parameters(node: cst.BaseExpression) -> bool:
    return "parameters" in (dotted_name(node) or "") or type(node) is cst.Call and \
        "parameters" in (dotted_name(node.func) or "")


def _literal(node: cst.BaseExpression) -> bool:
    return type(node) in (cst.Integer, cst.Float, cst.SimpleString)


def _names_bound_by_loops(loop: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class _Find(cst.CSTVisitor):
        def visit_For(self, n: cst.For) -> None:
            for t in _target_names(n.target):
                names.add(t)

    loop.visit(_Find())
    return names


def _target_names(target: cst.BaseExpression) -> list:
    if type(target) is cst.Name:
        return [target.value]
    if type(target) in (cst.Tuple, cst.List):
        return [n for e in target.elements for n in _target_names(e.value)]
    return []
