"""Helpers that train and then evaluate what they are given: `train_test(model, train, test)`.

Research code often folds one epoch of training and the evaluation that follows into one
function, called once per epoch (`hit, mrr = train_test(model, train_data, test_data)`); the
caller then decides on what it returns. The function trains, so it is not an evaluation
helper, yet the parameter read only by its later, training-free loop is evaluated there. This
module finds those parameters, for the file's own functions and (through the project summary
field `train_test_helpers`) for callers in other modules.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.result_use import follow, names_assigned, names_read, seeds_of_block


def evaluated_parameters(prog, info) -> Optional[tuple]:
    """(positions among the parameters a caller fills of those that `info` evaluates after
    training, positions in its returned tuple that carry that evaluation's results, () when the
    whole returned value does), or None. Evaluated: read by a loop of it that runs forward
    passes and holds no backward or optimizer step, and by none of its training loops."""
    trains = [s for s in info.calls if prog.is_backward(s) or prog.is_step(s)]
    training_loops = {loop for s in trains for loop in prog.loops_of(s.node)}
    if not training_loops:
        return None
    reads = _loop_parameters(info)
    trained = set()
    for loop in training_loops:
        trained |= reads.get(loop, set())
    evaluated: set = set()
    results: set = set()
    for loop in _evaluation_loops(prog, info, training_loops):
        own = reads.get(loop, set()) - trained
        if own:
            evaluated |= own
            results |= _results_of(info, loop)
    parameters = tuple(sorted(i for i, p in enumerate(info.positional) if p in evaluated))
    if not parameters or not results:
        return None
    returned = _returned_positions(info, results)
    return (parameters, returned) if returned is not None else None


def _results_of(info, loop: cst.For) -> set:
    """Names holding what the evaluation loop computes when the function returns."""
    kept: set = set()
    decision = follow(info.node.body, loop, seeds_of_block(loop.body), final=kept)
    return _roots(kept) | ({"*"} if decision is not None else set())


def _returned_positions(info, results: set) -> Optional[tuple]:
    """Positions of the returned tuple that read `results` (() for the whole value), or None
    when no return carries them. `*`: the function decided on them itself."""
    positions: set = set()
    whole = "*" in results
    for ret in info.returns:
        value = ret.value
        if isinstance(value, cst.Tuple):
            positions |= {i for i, e in enumerate(value.elements) if _roots(names_read(e.value)) & results}
        elif value is not None and _roots(names_read(value)) & results:
            whole = True
    if whole or not positions:
        return () if whole else None
    return tuple(sorted(positions))


def _roots(names) -> set:
    """`test_data` of `test_data.batches`: what a dotted name is read from."""
    return {n.split(".", 1)[0] for n in names if n}


def _loop_parameters(info) -> dict:
    """{loop: the parameters it reads}, for the loops of the function outside other loops,
    following assignments in order (`slices = test_data.generate_batch(n)` before
    `for i in slices:`; a name assigned again forgets where it came from)."""
    origins = {p: {p} for p in info.positional}
    found: dict = {}

    def walk(block) -> None:
        for statement in getattr(block, "body", ()):
            if isinstance(statement, (cst.For, cst.While)):
                read = _roots(names_read(statement))
                found[statement] = set().union(*(origins.get(n, set()) for n in read)) if read else set()
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and small.value is not None:
                        read = _roots(names_read(small.value))
                        came = set().union(*(origins.get(n, set()) for n in read)) if read else set()
                        for target in _roots(names_assigned(small)):
                            origins[target] = came | (origins.get(target, set()) if isinstance(small, cst.AugAssign)
                                                      else set())
            elif isinstance(statement, cst.If):
                walk(statement.body)
                if statement.orelse is not None:
                    walk(statement.orelse.body if isinstance(statement.orelse, cst.Else) else cst.IndentedBlock(
                        body=[statement.orelse]))
            elif isinstance(statement, (cst.With, cst.Try)):
                walk(statement.body)

    walk(info.node.body)
    return found


def _evaluation_loops(prog, info, training_loops: set) -> list:
    """The outermost `for` loops of the function that hold no training step, are not inside a
    training loop and run forward passes (directly or through a function of the file)."""
    model = prog.model
    found = []
    for forward_loop in _forward_loops(prog, info):
        if forward_loop in training_loops or any(a in training_loops for a in model.ancestors(forward_loop)):
            continue
        if any(t in training_loops for t in _loops_inside(model, forward_loop, training_loops)):
            continue
        found.append(forward_loop)
    return found


def _forward_loops(prog, info) -> list:
    """Outermost `for` loops (within the function) of its forward passes."""
    loops = []
    nodes = [f.site.node for f in prog.forwards() if f.site.function is info.node]
    for site in info.calls:
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None and resolved[0] is not info.node:
            helper = prog.model.function_info[resolved[0]]
            if any(f.site.function is helper.node for f in prog.forwards()):
                nodes.append(site.node)
    for node in nodes:
        outer: Optional[cst.For] = None
        for loop in prog.loops_of(node):
            if isinstance(loop, cst.For):
                outer = loop
        if outer is not None and outer not in loops:
            loops.append(outer)
    return loops


def _loops_inside(model, loop: cst.For, training_loops: set) -> list:
    """The training loops nested in `loop`."""
    return [t for t in training_loops if loop in model.ancestors(t)]


def train_test_helpers(prog) -> dict:
    """{top-level function: (evaluated parameter positions, result positions)} for the project
    summary."""
    found = {}
    for info in prog.model.function_info.values():
        if info.parent is None and info.cls is None:
            entry = evaluated_parameters(prog, info)
            if entry is not None:
                found[info.name] = entry
    return found
