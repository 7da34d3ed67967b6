"""Two readings of a step helper called in a loop (TRN403), kept apart from accumulation.py.

- Back-propagation through the file's own helpers: `train_step` steps the optimizer and
  gets its backward from `self.forward_backward(batch)`, a method of the file that calls
  `loss.backward()` on every call (torchtitan-style recipes; meta-pytorch/torchforge f55a207).
- A trainer class built on another module's class may have hooks that clear gradients; but
  when the function that runs the loop clears them itself, once, before the loop
  (`self.optimizers.zero_grad()` above `while step < n: self.train_step(batch)`), the class
  does its own clearing and clears too rarely: the base class's hooks are no excuse.
"""

from __future__ import annotations

from auditor.analysis.uses import source_order


def backpropagates_every_call(prog, function, unconditional, is_backward, depth: int = 0) -> bool:
    """`function` calls backward on every call: itself (outside loops and conditions, as
    `unconditional(site)` says), or through a function of the file it calls that way."""
    if depth > 2:
        return False
    for site in prog.model.calls_in(function):
        if not unconditional(prog, site, function):
            continue
        if is_backward(prog, site):
            return True
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None and resolved[0] is not function and \
                backpropagates_every_call(prog, resolved[0], unconditional, is_backward, depth + 1):
            return True
    return False


def clears_once_before(prog, function, loop) -> bool:
    """`function` clears gradients (`x.zero_grad()`) outside `loop`, above it: once per run
    of the loop, not once per iteration."""
    if function is None:
        return False
    order = source_order(prog.model)
    start = order.get(loop, 0)
    for site in prog.model.calls_in(function):
        if site.method == "zero_grad" and order.get(site.node, 0) < start and \
                not prog.inside(site.node, loop):
            return True
    return False
