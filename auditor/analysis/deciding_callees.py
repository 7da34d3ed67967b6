"""Calls that decide on a value they are handed: the decision lives in the callee.

A training loop often hands its epoch score to a function or a method that keeps the best
one (`save_if_best(model, acc)`, `saver.update(model, acc)`, `self.maybe_save(acc)`), or to
a callable object whose `__call__` counts epochs without improvement (`stopper(acc, model)`).
The loop itself then shows no comparison: the decision is one call away. This module reads
the callee (a function or method of this file) by what it does with the parameter the score
fills: a comparison with a value kept across calls (a global, a `self.` attribute, a name
that says best), a `max`/`min`, a scheduler or early-stopping step, or a call it hands the
parameter on to that does so (two calls deep at most). A method of the same object called
with no score at all decides too when it compares a followed `self.` attribute (`self.acc`
that the evaluation method stored) in that way. A callee that only prints, logs or stores
the value does not decide.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from auditor.analysis.model import bind_arguments
from auditor.analysis.names import dotted_name
from auditor.analysis.result_use import follow, names_assigned, reads_tainted, shared_reads, statements

_DEPTH = 2  # how many calls deep a handed-on score is followed


def deciding_call_reader(prog) -> Callable[[cst.Call, set, Optional[cst.CSTNode]], bool]:
    """A predicate for `result_use.follow(..., deciding=...)`: whether `call` hands a followed
    value (an argument reading a name of `tainted`, or `source`) to a parameter its callee
    decides on, or is a method of the same object deciding on a followed `self.` attribute."""
    memo: dict = {}

    def decides(call: cst.Call, tainted: set, source: Optional[cst.CSTNode] = None) -> bool:
        return _decides(prog, call, tainted, source, memo, _DEPTH)

    return decides


def _decides(prog, call: cst.Call, tainted: set, source, memo: dict, depth: int) -> bool:
    site = prog.model.call_site.get(call)
    if site is None:
        return False
    resolved = prog.flow.resolve(site)
    if resolved is None:
        return _project_decides(prog, site, tainted, source)
    function, bound = resolved
    info = prog.model.function_info.get(function)
    if info is None:
        return False
    handed = [p for p, a in bind_arguments(info, call, bound).items() if reads_tainted(a, tainted, source)]
    if any(_decides_on(prog, info, (p,), memo, depth) for p in handed):
        return True
    # `self.maybe_save()`: a sibling method reads what the evaluation method kept on `self`.
    kept = tuple(sorted(n for n in tainted if n.startswith("self.")))
    return bool(kept) and bound and (site.callee or "").startswith("self.") and \
        _decides_on(prog, info, kept, memo, depth)


def _decides_on(prog, info, names: tuple, memo: dict, depth: int) -> bool:
    key = (info.node, names)
    if key in memo:
        return memo[key]
    memo[key] = False  # a recursive call decides nothing more than the call itself
    inner = None
    if depth > 1:
        def inner(call: cst.Call, tainted: set, source=None) -> bool:
            return _decides(prog, call, tainted, source, memo, depth - 1)
    outlives = memo.get(("kept", info.node))
    if outlives is None:
        outlives = memo[("kept", info.node)] = kept_names(info)
    found = follow(info.node.body, None, set(names), outlives=outlives, deciding=inner)
    memo[key] = found is not None
    return memo[key]


def _project_decides(prog, site, tainted: set, source) -> bool:
    """A function of another module of the project (`utils.save_best(model, acc)`), or a method
    of an object built from a class of another module (`saver = Checkpointer(); saver.update(
    model, acc)`), whose summary says the parameter the followed value fills decides."""
    from auditor.analysis.builds import instance_class
    from auditor.analysis.project_names import project_entry

    project, module = prog.flow.project, prog.flow.module_name
    if project is None or module is None or not hasattr(project, "get"):
        return False
    entry = None
    if site.qualname is not None:
        entry = project_entry(project, module, site.qualname, "deciding_parameters")
    elif site.method is not None and site.receiver is not None:
        owner = instance_class(prog.model, site.receiver, site.function, module, False)
        summary = project.get(owner[1]) if owner is not None and owner[1] not in (None, module) else None
        entry = (getattr(summary, "deciding_parameters", None) or {}).get(f"{owner[0]}.{site.method}") \
            if summary is not None else None
    if not entry:
        return False
    plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
    named = {a.keyword.value: a.value for a in site.node.args if a.keyword is not None}
    for position, parameter in entry:
        value = named.get(parameter)
        if value is None and position is not None and position < len(plain):
            value = plain[position]
        if value is not None and reads_tainted(value, tainted, source):
            return True
    return False


def project_deciding(prog) -> dict:
    """{function or `Class.method`: [(position or None, parameter)]} for the file's top-level
    functions and methods of its top-level classes that decide on a parameter (the summary
    field `deciding_parameters`; `__call__` too: `stopper(acc)` on an object of the class)."""
    found: dict = {}
    memo: dict = {}
    with shared_reads():  # each parameter is followed through the same statements
        for info in prog.model.function_info.values():
            if info.parent is not None or not _compares(info):
                continue
            cls = info.cls
            if cls is None and info.qualname != info.name:
                continue
            positional = list(info.positional)
            # One walk with every parameter followed first: most functions decide on none of them.
            # Summaries read the function alone (depth 1): callers in this file get the deeper look.
            if not positional or not _decides_on(prog, info, tuple(positional), memo, 1):
                continue
            deciding = [(positional.index(p), p) for p in positional if _decides_on(prog, info, (p,), memo, 1)]
            if deciding:
                found[info.name if cls is None else f"{cls.name}.{info.name}"] = deciding
    return found


def _compares(info) -> bool:
    """A cheap first look: the function holds a condition on a kept value (a global, a `self.`
    attribute, a best-named value) or a call that chooses, stops or steps a scheduler; most
    functions hold none, and then no parameter of theirs can decide."""
    from auditor.analysis.result_use import _CHOOSING_CALLS, _SCHEDULER_WORDS, STOP_WORDS, _kept
    from auditor.analysis.splits import name_tokens

    for site in info.calls:
        callee = site.callee or ""
        last = callee.rsplit(".", 1)[-1]
        tokens = set(name_tokens(callee.replace(".", "_")))
        if "." not in callee and last in _CHOOSING_CALLS or tokens & STOP_WORDS or \
                last == "step" and tokens & _SCHEDULER_WORDS:
            return True
    outlives = kept_names(info)
    for statement in statements(info.node.body):
        test = getattr(statement, "test", None) if isinstance(statement, (cst.If, cst.While)) else None
        if test is not None and _kept(test, outlives):
            return True
    return False


def returned_history_decision(prog, function: cst.FunctionDef, kept: set) -> Optional[cst.CSTNode]:
    """The decision a caller of `function` (of this file) takes on the per-epoch scores it
    returns (`return test_accs`, or the tuple position holding them): `accs = train(...)` then
    `max(accs)` / `np.argmax(accs)` picks an epoch on them. None when no caller does."""
    info = prog.model.function_info.get(function)
    if info is None or not kept or not info.returns:
        return None
    whole = False
    positions: set = set()
    for ret in info.returns:
        value = ret.value
        if isinstance(value, cst.Tuple):
            positions |= {i for i, e in enumerate(value.elements) if reads_tainted(e.value, kept, None)}
        elif value is not None and reads_tainted(value, kept, None):
            whole = True
    if not whole and not positions:
        return None
    for site, _ in prog.flow.call_sites_of(function):
        statement = site.statement
        if not isinstance(statement, cst.Assign) or statement.value is not site.node or len(statement.targets) != 1:
            continue
        target = statement.targets[0].target
        if whole:
            names = set(names_assigned(statement))
        elif isinstance(target, (cst.Tuple, cst.List)):
            names = {dotted_name(e.value) for i, e in enumerate(target.elements) if i in positions} - {None}
        else:
            names = set()  # the whole tuple bound to one name: its parts are told apart by index only
        if not names:
            continue
        block = site.function.body if site.function is not None else prog.model.module
        decision = follow(block, statement, names, across=True)
        if decision is not None:
            return decision
    return None


def kept_names(info) -> set:
    """Names in a function that outlive the call: `global`/`nonlocal` ones (with `self.`
    attributes and best-named values, see `result_use._kept`, they are where a callee keeps
    the best score it compares against)."""
    found = set()
    for statement in statements(info.node.body):
        if isinstance(statement, (cst.Global, cst.Nonlocal)):
            found.update(n.name.value for n in statement.names)
    return found
