"""Gradient accumulation: which backward calls add up into one optimizer step.

The one place that pairs backward, step and zero_grad per optimizer (`optimizer_steps`);
the TRN401-TRN403 rules ask it rather than walking loops themselves.

An accumulation window is a step that consumes several backward calls of ONE optimizer:
- a step under a counter or modulo condition inside the micro-batch loop
  (`if (i + 1) % k == 0: opt.step()`, or a name bound to such a test), with backward outside
  that condition (or in its other branch: DDP's `no_sync()` micro-batches);
- an inner loop over `range(k)` that calls backward, followed by the step.
A Lightning `training_step` that calls `self.manual_backward` is one micro-batch of the
trainer's loop. Accelerate's `accelerator.backward` inside `accelerator.accumulate(...)`
(or with `gradient_accumulation_steps` set) and DeepSpeed's `engine.backward` scale for
the user and are not windows to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from auditor.analysis.model import CallSite
from auditor.analysis.names import dotted_name
from auditor.analysis.step_helpers import backpropagates_every_call, clears_once_before


@dataclass
class AccumulationLoop:
    loop: cst.CSTNode  # the micro-batch loop (or a Lightning `training_step`, one micro-batch per call)
    step: CallSite
    backwards: list[CallSite]  # backward calls that run on micro-batches where the step does not
    condition: Optional[cst.If]  # form 1: the `if` guarding the step
    counters: frozenset = frozenset()  # names that count micro-batches in this loop (never a window size)
    # A backward inside a helper of the file that the loop calls every micro-batch: the call
    # in the loop, by id of the backward's node (the finding goes there).
    via: dict = field(default_factory=dict)


@dataclass
class OptimizerStep:
    """One optimizer's step inside a loop, with the backward calls and gradient clears that serve it.

    A backward feeds the step(s) that run after it before the next step that runs whenever
    it runs: in a GAN, `d_loss.backward(); opt_d.step()` feeds the critic's optimizer only,
    and a generator update under `if i % n_critic == 0:` with its own backward is not an
    accumulation window. A clear serves the step when it clears that optimizer (same
    receiver, or the model whose parameters it optimizes) and can run on the same path.
    """
    step: CallSite
    loop: cst.CSTNode
    optimizer: Optional[str]  # `opt` in `opt.step()` / `scaler.step(opt)`
    backwards: list[CallSite]  # backward calls whose gradients this step consumes
    clears: list[CallSite]  # zero_grad calls on the same path that certainly clear this optimizer
    maybe_clears: list[CallSite]  # ... that may clear it (receiver's relation unknown)


def _contains_modulo(node: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_BinaryOperation(self, n: cst.BinaryOperation) -> None:
            nonlocal found
            if isinstance(n.operator, cst.Modulo):
                found = True

    node.visit(_Find())  # a condition is a handful of nodes
    return found


def _names_in(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            names.add(n.value)

    node.visit(_Collect())
    return names


# -- one loop iteration, per optimizer ----------------------------------------------------------

def iteration_of(prog, site: CallSite) -> Optional[cst.CSTNode]:
    """The loop whose one iteration holds `site`: the innermost loop, or a Lightning
    `training_step` that back-propagates itself (`self.manual_backward`), which the
    trainer calls once per micro-batch."""
    loops = [loop for loop in prog.loops_of(site.node) if not _distributes_step(prog, loop, site)]
    if loops:
        return loops[0]
    function = site.function
    info = prog.model.info(function)
    if info is not None and info.name == "training_step" and info.cls is not None and \
            any(s.method == "manual_backward" for s in info.calls):
        return function
    if info is not None and _steps_per_window(prog, site, info):
        return function
    return None


def _loop_names(loop: cst.CSTNode) -> set[str]:
    """The names a `for` loop binds (`for o in opts`, `for name, opt in opts.items()`)."""
    if type(loop) is not cst.For:
        return set()
    return {n.value for n in _names_of_target(loop.target)}


def _names_of_target(target: cst.BaseExpression) -> list:
    if type(target) is cst.Name:
        return [target]
    if type(target) in (cst.Tuple, cst.List):
        return [n for e in target.elements for n in _names_of_target(e.value)]
    return []


def _distributes_step(prog, loop: cst.CSTNode, site: CallSite) -> bool:
    """`for opt in optimizers: opt.step()` (or `scaler.step(opt)`): a loop over the optimizers
    that applies one iteration's gradients to each; it back-propagates nothing itself, so the
    training iteration is the loop around it."""
    optimizer = optimizer_of_step(site) if prog.is_step(site) or prog.is_zero_grad(site) else None
    if optimizer is None or optimizer.split(".")[0] not in _loop_names(loop):
        return False
    return not any(is_backward(prog, s) for s in prog.sites_in(loop, site.function))


def same_optimizer_collection(prog, a: str, a_node: cst.CSTNode, b: str, b_node: cst.CSTNode) -> bool:
    """`for o in opts: o.zero_grad()` and `for opt in opts: opt.step()`: loop variables over
    the same collection of optimizers clear and step the same optimizers."""
    first, second = _iterated_collection(prog, a, a_node), _iterated_collection(prog, b, b_node)
    return first is not None and first == second


def _iterated_collection(prog, name: str, node: cst.CSTNode) -> Optional[str]:
    for loop in prog.loops_of(node):
        if type(loop) is cst.For and name in _loop_names(loop):
            iterated = loop.iter
            if type(iterated) is cst.Call and dotted_name(iterated.func) in ("enumerate", "reversed") \
                    and iterated.args:
                iterated = iterated.args[0].value
            if type(iterated) is cst.Call and type(iterated.func) is cst.Attribute and \
                    iterated.func.attr.value in ("values", "items"):
                iterated = iterated.func.value
            return dotted_name(iterated)
    return None


def _steps_per_window(prog, step: CallSite, info) -> bool:
    """A function run once per micro-batch by its caller (`def update(self, batch):`): it
    back-propagates on every call, outside any condition, and steps only under a micro-batch
    counter test (`if self.updates % k == 0:`). One call is one iteration of the window."""
    function = info.node
    counters = frozenset(_counters(prog, function))
    if _accumulation_condition(prog, step, function, counters) is None:
        return False
    return any(is_backward(prog, s) and not _conditions(prog, s.node, function) and not prog.loops_of(s.node)
               for s in info.calls)


def is_backward(prog, site: CallSite) -> bool:
    """`loss.backward()`, `torch.autograd.backward(...)`, Lightning's `self.manual_backward(loss)`."""
    return prog.is_backward(site) or site.method == "manual_backward"


def optimizer_of_step(step: CallSite) -> Optional[str]:
    if step.node.args and "scaler" in (dotted_name(step.receiver) or "").lower():
        return dotted_name(step.node.args[0].value)
    return dotted_name(step.receiver)


def exclusive(prog, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """`a` and `b` sit in different branches of one `if` (fp32 path vs AMP path): never both run.
    Branches on the micro-batch counter alternate across iterations (`if (i + 1) % k != 0:` a
    `no_sync()` backward, `else:` backward and step): those are not exclusive."""
    model = prog.model
    for ancestor in model.ancestors(a):
        if type(ancestor) is cst.FunctionDef:
            return False
        if type(ancestor) is cst.If and ancestor.orelse is not None:
            other = ancestor.orelse if model.is_within(a, ancestor.body) else ancestor.body
            if model.is_within(b, other):
                return not _counter_test(prog, ancestor.test, model.enclosing_function(ancestor))
    return False


def _counter_test(prog, test: cst.BaseExpression, function, counters: frozenset = frozenset()) -> bool:
    """A test on the micro-batch count: a modulo (`(i + 1) % k == 0`), a comparison of a counter
    (`seen == k`), or a name bound to one (`sync = (i + 1) % k == 0; if sync:`)."""
    if _contains_modulo(test) or (isinstance(test, cst.Comparison) and _names_in(test) & counters):
        return True
    if isinstance(test, cst.UnaryOperation):
        test = test.expression
    name = dotted_name(test)
    if name is None:
        return False
    values = [b.value for b in prog.model.bindings.get(name, ()) if b.kind == "assign" and b.index is None
              and (function is None or b.function is function)]
    return bool(values) and all(_contains_modulo(v) or (isinstance(v, cst.Comparison) and _names_in(v) & counters)
                                for v in values)


def _same_branch(prog, node: cst.CSTNode, condition: cst.If, step: cst.CSTNode) -> bool:
    """`node` runs when the step under `condition` runs: inside the same branch of that `if`,
    or past the same guard (`if (i + 1) % k != 0: continue`)."""
    if not prog.inside(step, condition) and _is_guard(prog, condition):
        loop = next((a for a in prog.model.ancestors(condition) if type(a) in (cst.For, cst.While, cst.FunctionDef)),
                    None)
        return loop is not None and any(g is condition for g in _guards(prog, node, loop))
    if condition.orelse is not None and prog.inside(step, condition.orelse):
        return prog.inside(node, condition.orelse)
    return prog.inside(node, condition.body)


def _conditions(prog, node: cst.CSTNode, loop: cst.CSTNode) -> list:
    """The `if` statements between `node` and its loop (tests excluded), and the guards before
    it that leave the iteration (`if (i + 1) % k != 0: continue`): `node` runs only past them."""
    found = []
    for ancestor in prog.model.ancestors(node):
        if ancestor is loop:
            break
        if type(ancestor) is cst.If and not prog.inside(node, ancestor.test):
            found.append(ancestor)
    # only guards on the micro-batch count: `if batch is None: continue` skips data, not a window
    return found + [g for g in _guards(prog, node, loop) if _contains_modulo(g.test)]


_EXITS = (cst.Continue, cst.Return, cst.Break, cst.Raise)


def _guards(prog, node: cst.CSTNode, loop: cst.CSTNode) -> list:
    """`if test: ...; continue` (or return, break, raise), without an else, before `node` in a
    block between `node` and `loop`: the rest of the block runs only when the test is false."""
    model = prog.model
    found = []
    child = node
    for ancestor in model.ancestors(node):
        if type(ancestor) is cst.IndentedBlock or type(ancestor) is cst.Module:
            for statement in ancestor.body:
                if statement is child:
                    break
                if type(statement) is cst.If and statement.orelse is None and _always_exits(statement.body):
                    found.append(statement)
        if ancestor is loop:
            break
        child = ancestor
    return found


def _always_exits(block: cst.BaseSuite) -> bool:
    """The block's last statement leaves it: `continue`, `return`, `break` or `raise`."""
    body = block.body if type(block) is cst.IndentedBlock else [block]
    if not body:
        return False
    last = body[-1]
    small = last.body if type(last) in (cst.SimpleStatementLine, cst.SimpleStatementSuite) else None
    return bool(small) and type(small[-1]) in _EXITS


def _passes(prog, node: cst.CSTNode, condition: cst.If, loop: cst.CSTNode) -> bool:
    """`node` runs only when `condition` lets the step run: inside its body, or past it when
    it is a guard that leaves the iteration."""
    if _is_guard(prog, condition):
        return any(g is condition for g in _guards(prog, node, loop))
    return prog.inside(node, condition)


def _is_guard(prog, condition: cst.If) -> bool:
    return condition.orelse is None and _always_exits(condition.body)


def optimizer_steps(prog) -> list[OptimizerStep]:
    """Every optimizer step inside a loop, with the backward calls and clears that serve it."""
    model = prog.model
    cached = model.cache.get("optimizer_steps")
    if cached is not None:
        return cached
    found: list[OptimizerStep] = []
    per_loop: dict = {}  # id(loop) -> (sites, {id(backward node): consumers}): one walk per loop
    for step in model.calls:
        if not prog.is_step(step):
            continue
        loop = iteration_of(prog, step)
        if loop is None:
            continue
        known = per_loop.get(id(loop))
        if known is None:
            sites = prog.sites_in(loop, step.function) if loop is not step.function else \
                list(model.calls_in(step.function))
            steps = [s for s in sites if prog.is_step(s)]
            known = per_loop[id(loop)] = (sites, {id(b.node): _consumers(prog, b, steps, sites, loop)
                                                  for b in sites if is_backward(prog, b)})
        sites, consumers = known
        backwards = [b for b in sites if id(b.node) in consumers and not exclusive(prog, b.node, step.node)
                     and any(c is step for c in consumers[id(b.node)])]
        optimizer = optimizer_of_step(step)
        clears, maybe = [], []
        for site in sites:
            if not prog.is_zero_grad(site) or exclusive(prog, site.node, step.node):
                continue
            verdict = clears_optimizer(prog, site, optimizer, step)
            if verdict is True:
                clears.append(site)
            elif verdict is None:
                maybe.append(site)
        found.append(OptimizerStep(step, loop, optimizer, backwards, clears, maybe))
    model.cache["optimizer_steps"] = found
    return found


def _consumers(prog, backward: CallSite, steps: list, sites: list, loop) -> list:
    """The steps that consume `backward`'s gradients: those following it in the iteration
    (wrapping to the next one) up to the first that runs whenever the backward runs, and the
    steps right after that one (`opt.step(); sparse_opt.step()`) until the next backward or
    zero_grad (a GAN's generator update starts there)."""
    index = next(i for i, s in enumerate(sites) if s is backward)
    step_nodes = {id(s.node) for s in steps}
    mine = set(map(id, _conditions(prog, backward.node, loop)))
    consumers = []
    settled = False
    for site in sites[index + 1:] + sites[:index]:
        if id(site.node) not in step_nodes:
            if settled and (is_backward(prog, site) or prog.is_zero_grad(site)):
                break
            continue
        if exclusive(prog, site.node, backward.node):
            continue
        consumers.append(site)
        if all(id(c) in mine for c in _conditions(prog, site.node, loop)):
            settled = True  # runs whenever the backward runs: it takes these gradients
    return consumers


def clears_optimizer(prog, site: CallSite, optimizer: Optional[str], step: CallSite) -> Optional[bool]:
    """Does this `zero_grad()` clear the gradients `optimizer` steps with? None: cannot tell."""
    target = dotted_name(site.receiver) if site.method == "zero_grad" else None
    if site.method != "zero_grad" or target is None or optimizer is None:
        return None
    if target == optimizer or same_optimizer_collection(prog, target, site.node, optimizer, step.node):
        return True
    function = site.function
    if prog.roles.is_optimizer(target, function):
        return False  # another optimizer's parameters
    bindings = [b for b in prog.model.bindings_of(optimizer, step.function)
                if b.kind in ("assign", "with") and b.index is None and type(b.value) is cst.Call]
    built = [b.value for b in bindings]
    if built:
        # `Adam(model.parameters())`, `params = list(dec.parameters()) + ...; Adam(params)`:
        # clearing `model` (or a module above one it reads) clears this optimizer's gradients.
        read = _parameter_sources(prog, [a.value for v in built for a in v.args], bindings[0].function)
        # `self.model = model; self.opt = SGD(model.parameters())` in `__init__`: `self.model`
        # is the module the optimizer was built over under the name it had there.
        names = {target} | {n for b in bindings if b.function is not step.function
                            for n in map(dotted_name, prog.model.values_of(target, b.function)) if n}
        if any(name == t or name.startswith(t + ".") for name in read for t in names):
            return True
        owners = {name.rsplit(".", 1)[0] for name in read if name.endswith((".parameters", ".named_parameters"))}
        if prog.roles.is_model(target, function) and owners and \
                not any(t.startswith(owner + ".") for owner in owners for t in names):
            return False  # other modules' parameters only (`generator.zero_grad()` vs `opt_d`)
        return None  # a part of a module it optimizes, or parameters it cannot read
    if prog.roles.is_model(target, function):
        # The optimizer was built elsewhere: `model.zero_grad()` clears it when it is the
        # only optimizer this function steps.
        stepped = {optimizer_of_step(s) for s in prog.model.calls_in(step.function) if prog.is_step(s)}
        return True if stepped == {optimizer} else None
    return None


def _parameter_sources(prog, exprs: list, function, depth: int = 0) -> set[str]:
    """Dotted names read by an optimizer's arguments, through local names (`params = ...`)."""
    read: set[str] = set()
    for expr in exprs:
        for name in _dotted_names_in(expr):
            read.add(name)
            if depth < 3 and "." not in name:
                values = prog.model.values_of(name, function)
                read |= _parameter_sources(prog, values, function, depth + 1)
    return read


def _dotted_names_in(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> Optional[bool]:
            name = dotted_name(n)
            if name:
                names.add(name)
            return True

        def visit_Name(self, n: cst.Name) -> None:
            names.add(n.value)

    node.visit(_Collect())
    return names


def clears_otherwise(prog, use: OptimizerStep) -> Optional[bool]:
    """True if something else in the loop clears gradients (`p.grad = None`, a helper that
    calls zero_grad), None if unknown code handed the optimizer or model might, else False.
    `zero_grad()` calls themselves were paired per optimizer by the analysis; an object built
    from a class of this run that never clears (a loss module of another file) is not unknown."""
    from auditor.analysis.project_objects import never_clearing_project_object

    model = prog.model
    loop, step = use.loop, use.step
    inside = [s for s in prog.sites_in(loop, step.function) if not exclusive(prog, s.node, step.node)]
    for name in model.bindings:
        if name.endswith(".grad") and any(prog.inside(b.statement, loop) for b in model.bindings[name]):
            return True
    for site in inside:
        if prog.is_zero_grad(site):
            continue
        if "zero_grad" in (site.callee or ""):
            return True  # `zero_grad(model)`, `self.zero_grad_all()`
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None:
            info = model.function_info[resolved[0]]
            if any(prog.is_zero_grad(s) or "zero_grad" in (s.callee or "") for s in info.calls):
                return True
            continue
        if site.qualname is not None or site.callee is None:
            continue
        # An unknown helper handed the optimizer or the model may clear gradients itself.
        for arg in site.node.args:
            name = dotted_name(arg.value)
            if name and (prog.roles.is_optimizer(name, site.function) or
                         prog.roles.is_model(name, site.function)):
                if site.callee.split(".")[0] in ("self",) or "." not in site.callee:
                    if never_clearing_project_object(prog, site.callee, site.function):
                        break  # a loss object of this run whose class never clears
                    return None
    return False


def periodic_clear(prog, use: OptimizerStep) -> Optional[cst.If]:
    """The `if` on the iteration count (`if i % 100 == 0:`, a logging block) under which every
    clear of this optimizer sits, while its step runs on every iteration: between two clears
    the steps apply the sum of all gradients since the last one. None otherwise (a clear on
    every iteration, in an `else` too, or a step that is itself gated: accumulation)."""
    if not use.clears or use.maybe_clears or use.loop is use.step.function or \
            not runs_every_iteration(prog, use.step.node, use.loop):
        return None
    found = None
    for clear in use.clears:
        periodic = next((c for c in _conditions(prog, clear.node, use.loop)
                         if type(c) is cst.If and c.orelse is None and prog.inside(clear.node, c.body)
                         and _contains_modulo(c.test)), None)
        if periodic is None:
            return None
        found = found or periodic
    return found


def runs_every_iteration(prog, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
    """No `if` between `node` and its loop: it runs on every micro-batch."""
    return not _conditions(prog, node, loop)


# -- accumulation windows -----------------------------------------------------------------------

def accumulation_loops(prog) -> list[AccumulationLoop]:
    """Steps that consume several backward calls: under a counter/modulo condition with
    backward outside it, or after an inner `range(k)` loop that back-propagates."""
    model = prog.model
    cached = model.cache.get("accumulation")
    if cached is not None:
        return cached
    found: list[AccumulationLoop] = []
    for use in optimizer_steps(prog):
        step, loop = use.step, use.loop
        if not use.backwards or any(_scales_for_you(prog, b) for b in use.backwards):
            continue
        increments = frozenset(_counters(prog, loop))
        condition = _accumulation_condition(prog, step, loop, increments)
        counters = increments | _loop_targets(loop)
        if condition is not None:
            outside = [b for b in use.backwards if not _same_branch(prog, b.node, condition, step.node)]
            if outside:
                # `if not last: with no_sync(): backward` / `else: backward; step`: the window's
                # last micro-batch back-propagates beside the step and is one of the k too (a
                # backward beside a step with nothing in the other branch runs once per window)
                if any(prog.inside(b.node, condition) for b in outside):
                    outside = list(use.backwards)
                found.append(AccumulationLoop(loop, step, outside, condition, counters))
            continue
        if loop is step.function:
            continue
        for inner in _inner_range_loops(prog, loop, step):
            inner_backwards = [b for b in use.backwards if prog.inside(b.node, inner)]
            if inner_backwards:
                found.append(AccumulationLoop(inner, step, inner_backwards, None,
                                              counters | _loop_targets(inner)))
    found.extend(_split_windows(prog))
    model.cache["accumulation"] = found
    return found


# -- windows split across functions of the file -------------------------------------------------

def _helper_sites(prog, site: CallSite, depth: int = 0) -> list[CallSite]:
    """The call sites of the same-file function `site` runs, and of those it runs (a few levels)."""
    resolved = prog.flow.resolve(site) if site.qualname is None and site.method not in ("step", "backward") else None
    if resolved is None or depth > 2:
        return []
    memo = prog.model.cache.setdefault("helper_sites", {})  # per function, from the top level only
    if depth == 0 and resolved[0] in memo:
        return memo[resolved[0]]
    info = prog.model.function_info[resolved[0]]
    found = list(info.calls)
    for inner in info.calls:
        if inner.function is info.node:
            found += _helper_sites(prog, inner, depth + 1)
    if depth == 0:
        memo[resolved[0]] = found
    return found


def _split_windows(prog) -> list[AccumulationLoop]:
    """Windows whose backward or step sits in a helper the loop calls:
    - `loss.backward()` every micro-batch and `if (i + 1) % k == 0: self.optimizer_step()`, a
      helper that steps (and may clear) but never back-propagates;
    - `self.backward_step(batch)` every micro-batch, a helper that back-propagates but never
      steps, and `optimizer.step()` under the counter (or after an inner `range(k)` loop).
    Loops holding a helper that does both, or no step at all, are left to the other analyses."""
    model = prog.model
    found: list[AccumulationLoop] = []
    for use in optimizer_steps(prog):
        if use.backwards or use.loop is use.step.function:
            continue
        loop, step = use.loop, use.step
        condition = _accumulation_condition(prog, step, loop, frozenset(_counters(prog, loop)))
        regions = [condition] if condition is not None else \
            [inner for inner in _inner_range_loops(prog, loop, step)]
        for region in regions:
            via = {}
            for site in prog.sites_in(loop, step.function):
                if condition is not None and _same_branch(prog, site.node, condition, step.node):
                    continue
                if condition is None and not prog.inside(site.node, region):
                    continue
                inner = _helper_sites(prog, site)
                backwards = [s for s in inner if is_backward(prog, s) and not _scales_for_you(prog, s)]
                if len(backwards) == 1 and not any(prog.is_step(s) for s in inner):
                    via[id(backwards[0].node)] = (backwards[0], site)
            if via:
                # counters stay empty: the helper's divisor is read in the helper's own scope
                found.append(AccumulationLoop(loop if condition is not None else region, step,
                                              [b for b, _ in via.values()], condition, frozenset(),
                                              {key: call for key, (_, call) in via.items()}))
    stepping: dict = {}
    for site in model.calls:
        loop = prog.loops_of(site.node)[0] if prog.loops_of(site.node) else None
        if loop is None or prog.is_step(site) or is_backward(prog, site):
            continue
        inner = _helper_sites(prog, site)
        if not any(prog.is_step(s) for s in inner) or any(is_backward(prog, s) for s in inner):
            continue
        stepping.setdefault(id(loop), (loop, []))[1].append(site)
    for loop, helpers in stepping.values():
        function = helpers[0].function
        sites = prog.sites_in(loop, function)
        if len(helpers) != 1 or any(prog.is_step(s) for s in sites):
            continue  # several updates, or one in the loop itself: not one window to judge
        step = helpers[0]
        backwards = [s for s in sites if is_backward(prog, s) and not _scales_for_you(prog, s)]
        if not backwards:
            continue
        increments = frozenset(_counters(prog, loop))
        counters = increments | _loop_targets(loop)
        condition = _accumulation_condition(prog, step, loop, increments)
        if condition is not None:
            outside = [b for b in backwards if not _same_branch(prog, b.node, condition, step.node)]
            if outside:
                found.append(AccumulationLoop(loop, step, outside, condition, counters))
            continue
        for inner_loop in _inner_range_loops(prog, loop, step):
            inside = [b for b in backwards if prog.inside(b.node, inner_loop)]
            if inside:
                found.append(AccumulationLoop(inner_loop, step, inside, None, counters | _loop_targets(inner_loop)))
    return found


def dropped_micro_batches(prog) -> list[tuple[OptimizerStep, cst.If, CallSite]]:
    """(step, condition, backward): backward and step both under a micro-batch counter while the
    loss is computed on every micro-batch and the gradients are cleared on every one: the
    forward passes of the other micro-batches are thrown away (meant as accumulation)."""
    found = []
    model = prog.model
    for use in optimizer_steps(prog):
        loop = use.loop
        if not use.backwards or not use.clears:
            continue
        condition = _accumulation_condition(prog, use.step, loop, frozenset(_counters(prog, loop)))
        if condition is None or not all(_same_branch(prog, b.node, condition, use.step.node)
                                        for b in use.backwards):
            continue
        if any(_passes(prog, c.node, condition, loop) for c in use.clears):
            continue  # cleared right before its own backward: a gated update (GAN critic schedule)
        for backward in use.backwards:
            operand = backward_operand(backward)
            name = dotted_name(operand) if operand is not None else None
            if name is None:
                continue
            bindings = model.bindings_of(name, backward.function)
            if bindings and all(b.kind == "assign" and prog.inside(b.statement, loop)
                                and not _passes(prog, b.statement, condition, loop) for b in bindings):
                found.append((use, condition, backward))
    return found


def module_clears_under_accumulate(prog) -> list:
    """(zero_grad site, accumulate call): `module.zero_grad()` run unconditionally inside
    `with accelerator.accumulate(module):` in a loop. Accelerate makes the prepared
    optimizer's `step()`/`zero_grad()` no-ops until the window's last micro-batch; a plain
    module's `zero_grad()` is not wrapped, so it wipes the window's gradients every time."""
    model = prog.model
    found = []
    for site in model.calls:
        if site.method != "zero_grad" or not prog.loops_of(site.node):
            continue
        cleared = dotted_name(site.receiver)
        if cleared is None:
            continue
        for ancestor in model.ancestors(site.node):
            if type(ancestor) in (cst.If, cst.FunctionDef, cst.Lambda):
                break  # conditional (e.g. `if accelerator.sync_gradients:`), or another scope
            if type(ancestor) is not cst.With:
                continue
            calls = [item.item for item in ancestor.items if type(item.item) is cst.Call
                     and type(item.item.func) is cst.Attribute and item.item.func.attr.value == "accumulate"]
            if any(dotted_name(a.value) == cleared for call in calls for a in call.args if a.keyword is None):
                found.append((site, calls[0]))
                break
    return found


def _scales_for_you(prog, site: CallSite) -> bool:
    """A backward that divides by the accumulation steps itself: `accelerator.backward(loss)`
    inside `accelerator.accumulate(...)` or with an Accelerator built with
    `gradient_accumulation_steps`; DeepSpeed's `engine.backward(loss)` (it scales by its own
    setting). `accelerator.backward` under a manual `step % k` gate, with an Accelerator built
    here without that setting, divides by 1 and is checked like `loss.backward()`."""
    if site.method not in ("backward", "manual_backward") or not site.node.args or \
            site.node.args[0].keyword is not None:
        return False
    if site.method == "manual_backward" or (site.qualname or "").endswith("autograd.backward"):
        return False  # Lightning's manual optimisation leaves scaling to the user
    model = prog.model
    for ancestor in model.ancestors(site.node):
        if type(ancestor) is cst.With and any(
                type(item.item) is cst.Call and type(item.item.func) is cst.Attribute and
                item.item.func.attr.value in ("accumulate", "no_sync") for item in ancestor.items):
            return True
    receiver = dotted_name(site.receiver) or ""
    if "accelerator" not in receiver.lower():
        return True  # DeepSpeed engine, Fabric...: their own accumulation settings
    built = [s for s in model.calls if (s.callee or "").rsplit(".", 1)[-1] == "Accelerator"]
    if not built:
        return True  # built elsewhere: its settings cannot be read
    return any(a.keyword is not None and a.keyword.value in ("gradient_accumulation_steps",
                                                              "gradient_accumulation_plugin")
               for s in built for a in s.node.args) or \
        any(name.endswith(".gradient_accumulation_steps") and "accelerator" in name.lower() for name in model.bindings)


def _accumulation_condition(prog, step: CallSite, loop, counters: frozenset) -> Optional[cst.If]:
    """The `if` between the loop and the step whose test counts micro-batches."""
    for ancestor in prog.model.ancestors(step.node):
        if ancestor is loop:
            break
        if isinstance(ancestor, cst.If) and not prog.inside(step.node, ancestor.test):
            if _counter_test(prog, ancestor.test, step.function, counters):
                return ancestor
    for guard in _guards(prog, step.node, loop):  # `if (i + 1) % k != 0: continue` before the step
        if _counter_test(prog, guard.test, step.function, counters):
            return guard
    return None


def _counters(prog, loop) -> set[str]:
    """Names incremented (`n += 1`) inside the loop body."""
    names = set()
    for name, bindings in prog.model.bindings.items():
        for b in bindings:
            if b.kind == "aug" and isinstance(b.statement, cst.AugAssign) and \
                    isinstance(b.statement.operator, cst.AddAssign) and prog.inside(b.statement, loop):
                names.add(name)
    return names


def _loop_targets(loop) -> frozenset:
    """The loop's own index (`for i, batch in enumerate(loader)`, `for step in range(n)`,
    Lightning's `batch_idx`): it counts micro-batches and is never a window size."""
    if type(loop) is cst.For and type(loop.iter) is cst.Call and dotted_name(loop.iter.func) in ("enumerate", "range"):
        target = loop.target
        if type(target) is cst.Tuple and target.elements:
            target = target.elements[0].value
        if type(target) is cst.Name:
            return frozenset((target.value,))
    if type(loop) is cst.FunctionDef:
        return frozenset(p.name.value for p in loop.params.params if p.name.value in ("batch_idx", "batch_nb"))
    return frozenset()


def _inner_range_loops(prog, loop, step: CallSite) -> list:
    """Loops over `range(...)` inside `loop` (or before the step) that do not hold the step,
    and loops over the pieces of one batch (`for xs, ys in zip(x.chunk(k), y.chunk(k))`,
    `for xs in x.split(mb)`): micro-batches of the step's batch."""
    inner = []
    for site in prog.sites_in(loop, step.function):
        if site.callee == "range":
            parent = prog.model.parent(site.node)
            iterated = type(parent) is cst.For and parent.iter is site.node
        elif _splits_a_batch(site):
            parent = _loop_iterating(prog, site.node)
            iterated = parent is not None
        else:
            continue
        if iterated and parent is not loop and parent not in inner and not prog.inside(step.node, parent):
            inner.append(parent)
    return inner


_PIECES = ("chunk", "split", "tensor_split")


def _splits_a_batch(site: CallSite) -> bool:
    """`x.chunk(k)`, `x.split(mb)`, `torch.split(x, mb)`: a tensor cut into pieces (not a
    string's `line.split()` or `split(",")`)."""
    if (site.method or (site.qualname or "").rpartition(".")[2]) not in _PIECES:
        return False
    if site.method and site.qualname is None and type(site.receiver) is cst.SimpleString:
        return False
    args = [a.value for a in site.node.args if a.keyword is None]
    return bool(args) and not any(type(a) in (cst.SimpleString, cst.FormattedString) for a in args)


def _loop_iterating(prog, node: cst.CSTNode):
    """The `for` loop whose iterated expression is `node` itself or `zip(...)`/`enumerate(...)`
    of it."""
    child, parent = node, prog.model.parent(node)
    for _ in range(6):
        if type(parent) is cst.Arg:
            child, parent = parent, prog.model.parent(parent)
            continue
        if type(parent) is cst.Call and dotted_name(parent.func) in ("zip", "enumerate"):
            child, parent = parent, prog.model.parent(parent)
            continue
        break
    return parent if type(parent) is cst.For and parent.iter is child else None


def backward_operand(site: CallSite) -> Optional[cst.BaseExpression]:
    """The loss tensor a backward call differentiates (through `scaler.scale(...)`)."""
    receiver = site.receiver
    if receiver is None:
        return site.node.args[0].value if site.node.args else None
    if site.node.args and site.node.args[0].keyword is None and _backward_helper(site):
        return site.node.args[0].value  # `accelerator.backward(loss)`, `self.manual_backward(loss)`
    if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute) and \
            receiver.func.attr.value == "scale" and receiver.args:
        return receiver.args[0].value
    return receiver


_HELPER_WORDS = ("accelerator", "fabric", "engine", "autograd", "deepspeed", "model", "self", "trainer")


def _backward_helper(site: CallSite) -> bool:
    """A backward that takes the loss as its argument rather than being called on it."""
    if site.method == "manual_backward":
        return True
    name = (dotted_name(site.receiver) or "").lower()
    return any(word in name for word in _HELPER_WORDS)


def scaled(prog, node: Optional[cst.BaseExpression], function, depth: int = 0,
           counters: frozenset = frozenset()) -> Optional[bool]:
    """True: divided by something (or times a reciprocal); False: a plain loss; None: cannot tell.

    A divisor that reads a micro-batch counter (`loss / (i + 1)`, `loss / micro`) is not the
    window size: dividing by 1, 2, 3... weighs micro-batches unevenly and still sums them.
    """
    if node is None or depth > 6:
        return None
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Divide):
            return False if _names_in(node.right) & counters else True
        if isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                if isinstance(side, cst.Float) or (isinstance(side, cst.BinaryOperation) and
                                                   isinstance(side.operator, cst.Divide)):
                    return True
                if isinstance(side, (cst.Name, cst.Attribute)):
                    if any(scaled(prog, v, function, depth + 1, counters) for v in
                           prog.model.values_of(dotted_name(side) or "", function)):
                        return True
            return None
        if isinstance(node.operator, (cst.Add, cst.Subtract)):
            # `ce + 0.1 * reg`: a literal factor on one term of a sum weighs that term against
            # the others; it is not the window's division (the whole sum would carry it)
            left = _term_scaled(prog, node.left, function, depth + 1, counters)
            right = _term_scaled(prog, node.right, function, depth + 1, counters)
            if left is True and right is True:
                return True
            # `l_distill + w * l_proj`: a plain loss term is summed over the window whatever
            # weighs the other term; a divided term beside it leaves the verdict open.
            return False if False in (left, right) and True not in (left, right) else None
        return None
    if isinstance(node, cst.Call):
        func = node.func
        if type(func) is cst.Name and func.value == "sum" and node.args and not node.args[0].keyword \
                and prog.model.imports.qualify(func) is None and not prog.model.functions_named("sum"):
            return _terms_scaled(prog, node.args[0].value, function, depth + 1, counters)
        if isinstance(func, cst.Attribute) and func.attr.value in ("div", "div_", "true_divide"):
            return True
        if dotted_name(func) in ("torch.div", "torch.true_divide"):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in ("sum", "mean", "float", "squeeze"):
            return scaled(prog, func.value, function, depth + 1, counters)
        site = prog.model.call_site.get(node)
        if site is not None:
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            if resolved is not None:
                info = prog.model.function_info[resolved[0]]
                verdicts = [scaled(prog, r.value, info.node, depth + 1) for r in info.returns if r.value]
                if verdicts and all(v is True for v in verdicts):
                    return True
                return False if verdicts and all(v is False for v in verdicts) else None
            if _sum_reduced(prog, node, site.function):
                return None  # summed over the batch: the window's sums add up to the full batch's sum
            kind = prog.roles.loss_kind_of_callee(site.callee, node, site.function)
            name = (site.callee or "").lower()
            if kind or "loss" in name or "criterion" in name or (site.qualname or "").startswith("torch.nn.functional"):
                return False
            if site.callee is not None and prog.roles.is_model(site.callee, site.function):
                return False
            # `crit(model(x), y)`: whatever it is called, it scores the model's output.
            for arg in node.args:
                inner = arg.value
                if isinstance(inner, cst.Call) and prog.roles.is_model(dotted_name(inner.func), site.function):
                    return False
        return None
    if isinstance(node, cst.Attribute) and node.attr.value == "loss":
        return False
    if isinstance(node, cst.Subscript) and isinstance(node.value, (cst.Name, cst.Call)):
        from auditor.analysis.model import subscript_key

        if subscript_key(node) == "loss":
            return False
        index = _integer_index(node)
        return None if index is None else _indexed_scaled(prog, node.value, index, function, depth, counters)
    if isinstance(node, cst.Name):
        inplace = _divided_in_place(prog, node.value, function, counters)
        if inplace is not None:
            return inplace
        bindings = prog.model.bindings_of(node.value, function)
        if not bindings:
            return None
        verdicts = []
        for b in bindings:
            if b.kind == "param":
                # `def step(self, loss, i): backward(loss)`: what this file's callers hand it
                verdicts.append(_argument_scaled(prog, b.function, node.value, depth + 1))
                continue
            if b.kind == "aug":
                op = b.statement.operator if isinstance(b.statement, cst.AugAssign) else None
                if isinstance(op, (cst.DivideAssign, cst.MultiplyAssign)):
                    return False if _names_in(b.statement.value) & counters else True
                continue
            if b.kind != "assign":
                return None
            if b.index is not None:
                verdicts.append(_element_scaled(prog, b, depth + 1, counters))
                continue
            if _refreshes(b.value, node.value):
                continue  # `loss = loss.mean()` (DataParallel): the other bindings decide
            verdicts.append(scaled(prog, b.value, b.function, depth + 1, counters))
        if any(v is True for v in verdicts):
            return True
        return False if verdicts and all(v is False for v in verdicts) else None
    return None


def _argument_scaled(prog, function, param: str, depth: int) -> Optional[bool]:
    """The verdict on what every call of `function` in this file passes as `param`; None when
    a caller leaves it out or there is no caller here (another module's, unread)."""
    from auditor.analysis.model import bind_arguments

    if function is None or depth > 6:
        return None
    info = prog.model.function_info.get(function)
    calls = prog.flow.call_sites_of(function)
    if info is None or not calls:
        return None
    verdicts = []
    for call, bound in calls:
        argument = bind_arguments(info, call.node, bound).get(param)
        if argument is None:
            return None
        verdicts.append(scaled(prog, argument, call.function, depth))
    if all(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


def _term_scaled(prog, term: cst.BaseExpression, function, depth: int, counters: frozenset) -> Optional[bool]:
    """The verdict on one term of a sum. `lm_loss * args.lm_coef`: a plain loss times a weight
    read from configuration (a name or attribute bound to nothing this file computes) is a
    weighted plain loss; each term of the sum has its own weight, none is the window's division.
    A weight bound here to a division (`w = 1 / k`) still counts as one."""
    verdict = scaled(prog, _unweighted(term), function, depth, counters)
    if verdict is not None or type(term) is not cst.BinaryOperation or type(term.operator) is not cst.Multiply:
        return verdict
    for loss, weight in ((term.left, term.right), (term.right, term.left)):
        if type(weight) in (cst.Name, cst.Attribute) and \
                not prog.model.values_of(dotted_name(weight) or "", function) and \
                scaled(prog, loss, function, depth, counters) is False:
            return False
    return None


def _unweighted(term: cst.BaseExpression) -> cst.BaseExpression:
    """`0.1 * reg` -> `reg`: a term of a sum without its literal weight."""
    if isinstance(term, cst.BinaryOperation) and isinstance(term.operator, cst.Multiply) and not term.lpar:
        if isinstance(term.left, (cst.Float, cst.Integer)):
            return term.right
        if isinstance(term.right, (cst.Float, cst.Integer)):
            return term.left
    return term


def _divided_in_place(prog, name: str, function, counters: frozenset) -> Optional[bool]:
    """`loss.div_(k)` (or `loss.mul_(1 / k)`) in the function: divided in place, True (False when
    the divisor reads the micro-batch counter); None when no such call."""
    for site in prog.model.calls_in(function):
        if site.receiver is None or dotted_name(site.receiver) != name or not site.node.args:
            continue
        argument = site.node.args[0].value
        if site.method in ("div_", "true_divide_"):
            return False if _names_in(argument) & counters else True
        if site.method == "mul_" and (type(argument) is cst.Float or (
                type(argument) is cst.BinaryOperation and type(argument.operator) is cst.Divide)):
            return True
    return None


def _terms_scaled(prog, terms: cst.BaseExpression, function, depth: int, counters: frozenset) -> Optional[bool]:
    """The verdict on `sum(terms)`: `sum([l1, l2])`, `sum(crit(o, y) for o in outs)`, or a name
    bound to such a list. As for `l1 + l2`: every term divided, divided; a plain term and no
    divided one, plain; otherwise open."""
    if type(terms) in (cst.ListComp, cst.GeneratorExp, cst.SetComp):
        return scaled(prog, terms.elt, function, depth, counters)
    if type(terms) in (cst.List, cst.Tuple):
        elements = [e.value for e in terms.elements if type(e) is cst.Element]
        if not elements or len(elements) != len(terms.elements):
            return None
        verdicts = [scaled(prog, e, function, depth, counters) for e in elements]
        if all(v is True for v in verdicts):
            return True
        return False if False in verdicts and True not in verdicts else None
    if type(terms) is cst.Name:
        bindings = prog.model.bindings_of(terms.value, function)
        if len(bindings) == 1 and bindings[0].kind == "assign" and bindings[0].index is None and \
                type(bindings[0].value) in (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp):
            return _terms_scaled(prog, bindings[0].value, bindings[0].function, depth + 1, counters)
    return None


_DEVICE_MOVES = ("cuda", "to", "cpu", "float", "double", "half")


def _says_sum(node) -> bool:
    """`reduction="sum"` (or legacy `size_average=False`) among a call's arguments."""
    for arg in node.args if type(node) is cst.Call else ():
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "reduction" and type(arg.value) is cst.SimpleString and \
                arg.value.value.strip("'\"") == "sum":
            return True
        if keyword == "size_average" and type(arg.value) is cst.Name and arg.value.value == "False":
            return True
    return False


def _sum_reduced(prog, call: cst.Call, function, index: Optional[int] = None) -> bool:
    """A loss reduced by summing over the batch: `F.mse_loss(p, y, reduction="sum")`, or a
    call of a criterion built that way (`crit = nn.BCELoss(reduction="sum").cuda()`,
    legacy `size_average=False`), or of an instance of this file's own loss module whose
    `forward` returns such sums (a YOLO loss adding up `reduction="sum"` terms; `index`:
    the element unpacked from the tuple it returns). Accumulating such losses over
    micro-batches gives exactly the sum over the whole batch, the same scale as one big
    batch: nothing to divide."""
    if _says_sum(call):
        return True
    callee = dotted_name(call.func)
    values = prog.model.values_of(callee, function, kinds=("assign",)) if callee else []
    for value in values:
        while type(value) is cst.Call and type(value.func) is cst.Attribute and \
                value.func.attr.value in _DEVICE_MOVES:
            value = value.func.value  # `nn.BCELoss(reduction="sum").cuda()`
        if not _says_sum(value) and not _module_returns_sums(prog, value, index):
            return False
    return bool(values)


def _module_returns_sums(prog, value: cst.BaseExpression, index: Optional[int]) -> bool:
    """`Yolo_loss(...)`: a class of this file whose every `forward` return (its `index`-th
    element when it returns a tuple) is a sum over the batch."""
    if type(value) is not cst.Call:
        return False
    cls = prog.model.class_info.get(dotted_name(value.func) or "")
    forward = cls.methods.get("forward") if cls is not None else None
    if forward is None or not forward.returns:
        return False
    for ret in forward.returns:
        out = ret.value
        if type(out) is cst.Tuple:
            if index is None or index >= len(out.elements):
                return False
            out = out.elements[index].value
        elif index is not None:
            return False
        if out is None or not _sums_over_batch(prog, out, forward.node, 0):
            return False
    return True


def _sums_over_batch(prog, node: cst.BaseExpression, function, depth: int) -> bool:
    """An expression built only from batch sums: `reduction="sum"` calls, `.sum()`, their
    additions, weights (`w * l`) and constant divisors (`l / 2`), and names bound to such
    sums (a running `loss += ...` starting from 0). A division by anything else (the batch
    size) makes it a mean again."""
    if depth > 8:
        return False
    if type(node) in (cst.Integer, cst.Float):
        return True
    if type(node) is cst.Call:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "sum" and not node.args:
            return True
        return _says_sum(node)
    if type(node) is cst.BinaryOperation:
        op = type(node.operator)
        if op in (cst.Add, cst.Subtract):
            return _sums_over_batch(prog, node.left, function, depth + 1) and \
                _sums_over_batch(prog, node.right, function, depth + 1)
        if op is cst.Multiply:
            return any(_sums_over_batch(prog, side, function, depth + 1) and
                       type(other) in (cst.Integer, cst.Float, cst.Name, cst.Attribute)
                       for side, other in ((node.left, node.right), (node.right, node.left)))
        if op is cst.Divide:
            return type(node.right) in (cst.Integer, cst.Float) and \
                _sums_over_batch(prog, node.left, function, depth + 1)
        return False
    if type(node) is cst.Name:
        bindings = prog.model.bindings_of(node.value, function)
        if not bindings:
            return False
        for b in bindings:
            if b.kind not in ("assign", "aug"):
                return False
            value = b.value
            if b.index is not None:
                if type(value) is not cst.Tuple or b.index >= len(value.elements):
                    return False
                value = value.elements[b.index].value
            if b.kind == "aug" and type(b.statement) is cst.AugAssign and \
                    type(b.statement.operator) is not cst.AddAssign:
                return False
            if not _sums_over_batch(prog, value, function, depth + 1):
                return False
        return True
    return False


def _refreshes(value: cst.BaseExpression, name: str) -> bool:
    """`loss.mean()`, `loss.sum()`, `loss.float()` of the name being bound: a rebinding that
    neither divides by the window nor makes a new loss."""
    return type(value) is cst.Call and not value.args and type(value.func) is cst.Attribute and \
        value.func.attr.value in ("sum", "mean", "float", "squeeze") and \
        type(value.func.value) is cst.Name and value.func.value.value == name


def _integer_index(node: cst.Subscript) -> Optional[int]:
    """`0` for `outputs[0]`; None for a slice, a name or anything but one literal integer."""
    if len(node.slice) != 1 or type(node.slice[0].slice) is not cst.Index:
        return None
    value = node.slice[0].slice.value
    return int(value.value) if type(value) is cst.Integer and value.value.isdigit() else None


def _indexed_scaled(prog, value: cst.BaseExpression, index: int, function, depth: int,
                    counters: frozenset) -> Optional[bool]:
    """`model(**inputs)[0]`, or `outputs[0]` with `outputs = model(**inputs)`: the element at
    `index` of what a call returned, judged as an unpacked element is (a model returns its
    loss undivided; a helper of this file is read at the same place of its returned tuples).
    A name bound otherwise (a list built here, a parameter) is not judged."""
    if type(value) is cst.Call:
        return _call_element_scaled(prog, value, index, None, function, depth, counters)
    if type(value) is not cst.Name:
        return None
    bindings = prog.model.bindings_of(value.value, function)
    if not bindings or any(b.kind != "assign" or b.index is not None or type(b.value) is not cst.Call
                           for b in bindings):
        return None
    verdicts = [_call_element_scaled(prog, b.value, index, None, b.function, depth + 1, counters)
                for b in bindings]
    if any(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


def _element_scaled(prog, binding, depth: int, counters: frozenset) -> Optional[bool]:
    """`logits, loss = model(x, y)`, `loss, logs = compute_loss(...)`: the unpacked element.

    A helper of this file is read: the element at the same place of each returned tuple.
    Otherwise the call's own verdict stands for its elements (a model or a loss function
    returns its loss undivided), except that nothing is claimed for a call that is not one."""
    value = binding.value
    start = _slice_start(value)
    if start is not None and binding.index is not None and _target_star(binding) is None:
        # `lm_loss, mc_loss = outputs[:2]`: the elements of a leading slice of what a call returned
        return _indexed_scaled(prog, value.value, start + binding.index, binding.function, depth, counters)
    if type(value) is not cst.Call:
        return None
    star = _target_star(binding)
    if star is not None and star < binding.index:
        return None  # `*rest, loss = f()`: the element's place in the returned tuple is unknown
    arity = binding.arity if star is None else None  # `loss, *_ = f()`: any length will do
    return _call_element_scaled(prog, value, binding.index, arity, binding.function, depth, counters)


def _slice_start(value: cst.BaseExpression) -> Optional[int]:
    """`outputs[:2]` -> 0, `outputs[1:3]` -> 1: where a plain slice of a call's result (or of a
    name) starts; None for anything else (a step, a computed bound, an index)."""
    if type(value) is not cst.Subscript or type(value.value) not in (cst.Name, cst.Call) or \
            len(value.slice) != 1 or type(value.slice[0].slice) is not cst.Slice:
        return None
    cut = value.slice[0].slice
    if cut.step is not None:
        return None
    if cut.lower is None:
        return 0
    return int(cut.lower.value) if type(cut.lower) is cst.Integer else None


def _target_star(binding) -> Optional[int]:
    """The place of the starred target in the tuple `binding` unpacks into (`loss, *_ = f()`:
    1), or None when there is none (or the statement is not a plain assignment)."""
    statement = binding.statement
    if type(statement) is not cst.Assign:
        return None
    for target in statement.targets:
        if type(target.target) in (cst.Tuple, cst.List):
            for i, element in enumerate(target.target.elements):
                if type(element) is cst.StarredElement:
                    return i
    return None


def _call_element_scaled(prog, value: cst.Call, index: int, arity: Optional[int], function, depth: int,
                         counters: frozenset) -> Optional[bool]:
    """The element `index` of the tuple `value` returns (`arity` elements when unpacked; None
    when subscripted, then any returned tuple long enough will do)."""
    site = prog.model.call_site.get(value)
    if site is None:
        return None
    resolved = prog.flow.resolve(site) if site.qualname is None else None
    if resolved is not None:
        info = prog.model.function_info[resolved[0]]
        verdicts = []
        for r in info.returns:
            if type(r.value) is not cst.Tuple:
                return None
            elements = r.value.elements
            stars = [i for i, e in enumerate(elements) if type(e) is cst.StarredElement]
            if stars:
                # `return (loss, *outputs[1:])`: the places before the first star are fixed
                if stars[0] <= index:
                    return None
            elif len(elements) != arity if arity is not None else len(elements) <= index:
                return None
            verdicts.append(scaled(prog, r.value.elements[index].value, info.node, depth + 1))
        if verdicts and all(v is True for v in verdicts):
            return True
        return False if verdicts and all(v is False for v in verdicts) else None
    if _sum_reduced(prog, value, function, index=index):
        return None  # the element is a sum over the batch (a YOLO-style loss module)
    return scaled(prog, value, function, depth, counters)


# -- a training step in a helper, called once per iteration of a caller's loop ----------------

def unclearing_step_helpers(prog) -> list[tuple[CallSite, CallSite]]:
    """(step, call) for a function of the file that back-propagates and steps on every call,
    outside any loop or condition, and never clears gradients (`def train_step(model, opt,
    x, y): loss.backward(); opt.step()`), called inside a loop of this file whose iteration
    clears nothing either: every step of that loop applies the sum of all earlier gradients.
    A loop that clears (`zero_grad`, `p.grad = None`, a helper that does) or hands the
    optimizer or model to another unknown helper is not judged."""
    found = []
    for function, step in unclearing_functions(prog).items():
        for call, _ in prog.flow.call_sites_of(function):
            if loop_clears_nothing(prog, call, function):
                found.append((step, call))
    # A method of a class built on another module's class: its hooks may clear, unless the
    # function running the loop clears the gradients itself once, above the loop.
    for step in prog.model.calls:
        function = step.function
        info = prog.model.function_info.get(function) if function is not None else None
        if info is None or _hookless(prog.model, info) or not unclearing_step(prog, step, hooked_ok=True):
            continue
        for call, _ in prog.flow.call_sites_of(function):
            loops = prog.loops_of(call.node)
            if loops and clears_once_before(prog, call.function, loops[0]) and loop_clears_nothing(prog, call, function):
                found.append((step, call))
    return found


def unclearing_functions(prog) -> dict:
    """{function: the step it leads to} for the functions of the file that step on every
    call without clearing (`unclearing_step`), and those that call one of them outside any
    loop of their own and clear nothing either (an RL agent's `step()` that calls
    `self.learn()` once the replay buffer is full): every call of either adds a step over
    the gradients of all earlier calls."""
    model = prog.model
    cached = model.cache.get("unclearing_functions")
    if cached is not None:
        return cached
    chain: dict = {}
    for step in model.calls:
        if step.function not in chain and unclearing_step(prog, step):
            chain[step.function] = step
    for _ in range(2):  # two levels of callers: `step()` -> `learn()`, `update()` -> `step()` -> ...
        added = {}
        for function, info in model.function_info.items():
            if function in chain or not _hookless(model, info):
                continue
            for site in info.calls:
                resolved = prog.flow.resolve(site) if site.qualname is None else None
                if resolved is None or resolved[0] not in chain or resolved[0] is function or \
                        prog.loops_of(site.node):
                    continue
                if not _clears_somewhere(prog, function, info.calls):
                    added[function] = chain[resolved[0]]
                break
        if not added:
            break
        chain.update(added)
    model.cache["unclearing_functions"] = chain
    return chain


def _hookless(model, info) -> bool:
    """Not a method of a class built on another module's class (whose hooks may clear)."""
    return info.cls is None or not any(base.rsplit(".", 1)[-1] not in model.class_info and
                                       base not in _HOOKLESS_BASES for base in info.cls.bases)


def unclearing_step(prog, step: CallSite, hooked_ok: bool = False) -> bool:
    """`step` is an optimizer step that its function runs on every call, outside any loop or
    condition, after a backward that also runs on every call (in the function or a helper of
    the file it calls on every call), and the function never clears gradients (nor does a
    helper of the file it calls). `hooked_ok`: also in a method of a class built on another
    module's class (the caller then decides)."""
    model = prog.model
    function = step.function
    if function is None or not prog.is_step(step) or step.node.args and not \
            ("scaler" in (dotted_name(step.receiver) or "").lower()) or prog.loops_of(step.node) \
            or _conditions(prog, step.node, function):
        return False  # (`opt.step(closure)`: the closure clears)
    info = model.function_info.get(function)
    if info is None or not (hooked_ok or _hookless(model, info)):
        return False  # a method of a class built on another module's class: its hooks may clear
    if not backpropagates_every_call(prog, function, _unconditional, is_backward):
        return False
    return not _clears_somewhere(prog, function, model.calls_in(function))


def _unconditional(prog, site: CallSite, function) -> bool:
    """`site` runs on every call of `function`: in no loop and under no condition of it."""
    return not prog.loops_of(site.node) and not _conditions(prog, site.node, function)


def loop_clears_nothing(prog, call: CallSite, helper) -> bool:
    """`call` sits in a loop whose iteration clears no gradients and calls nothing that may."""
    model = prog.model
    loops = prog.loops_of(call.node)
    if not loops:
        return False
    loop = loops[0]
    if any(prog.inside(b.statement, loop) for name, bs in model.bindings.items()
           if name.endswith(".grad") for b in bs):
        return False
    return not any(s is not call and _may_clear(prog, s, helper) for s in prog.sites_in(loop, call.function))


# Bases that never clear gradients behind a method's back: a plain `nn.Module` subclass (an
# RL agent holding its optimizer) has no training hooks, unlike a Lightning module or a
# project's own trainer base class in another module.
_HOOKLESS_BASES = frozenset({"object", "torch.nn.Module", "nn.Module", "torch.nn.modules.module.Module"})


def _clears_somewhere(prog, function, calls) -> bool:
    """The function clears gradients itself, or calls a helper of the file that does."""
    for site in calls:
        if prog.is_zero_grad(site) or "zero_grad" in (site.callee or ""):
            return True
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None and resolved[0] is not function:
            info = prog.model.function_info[resolved[0]]
            if any(prog.is_zero_grad(s) or "zero_grad" in (s.callee or "") for s in info.calls):
                return True
    return any(name.endswith(".grad") and any(b.function is function for b in bs)
               for name, bs in prog.model.bindings.items())


def _may_clear(prog, site: CallSite, helper) -> bool:
    """A call in the caller's loop that clears or might: zero_grad, a helper of the file that
    clears, an unknown function or method handed the optimizer or a model."""
    if prog.is_zero_grad(site) or "zero_grad" in (site.callee or ""):
        return True
    resolved = prog.flow.resolve(site) if site.qualname is None else None
    if resolved is not None:
        if resolved[0] is helper:
            return False
        info = prog.model.function_info[resolved[0]]
        return _clears_somewhere(prog, resolved[0], info.calls)
    if site.qualname is not None or site.callee is None:
        return False
    if site.callee.startswith("self."):
        return True  # a method the file does not define (inherited): it may reach the optimizer
    for arg in site.node.args:
        name = dotted_name(arg.value)
        if name and (prog.roles.is_optimizer(name, site.function) or prog.roles.is_model(name, site.function)):
            return True
    return False


# -- a step whose backward runs in a helper ------------------------------------------------------

def backward_in_helper(prog, use: OptimizerStep) -> Optional[CallSite]:
    """For a step in a loop that calls backward nowhere itself: the call in that loop's
    iteration (on the step's path) of a helper of the file that back-propagates
    (`self.compute_loss(x, y)` that calls `loss.backward()`, a few levels deep) and clears no
    gradients anywhere in those levels; its gradients are stepped here. None otherwise (a
    function of another module may clear behind the call: not judged)."""
    if use.backwards or use.loop is use.step.function:
        return None
    step = use.step
    found = None
    for site in prog.sites_in(use.loop, step.function):
        if site is step or exclusive(prog, site.node, step.node):
            continue
        inner = _helper_sites(prog, site)
        if any(prog.is_zero_grad(s) or "zero_grad" in (s.callee or "") for s in inner):
            return None
        if found is None and any(is_backward(prog, s) for s in inner):
            resolved = prog.flow.resolve(site)
            if resolved is not None and _clears_somewhere(prog, resolved[0], prog.model.function_info[resolved[0]].calls):
                return None
            found = site
    return found
