"""Calls that decide on a value they are handed: the decision lives in the callee.

A training loop often hands its epoch score to a function or a method that keeps the best
one (`save_if_best(model, acc)`, `saver.update(model, acc)`, `self.maybe_save(acc)`), or to
a callable object whose `__call__` counts epochs without improvement (`stopper(acc, model)`).
The loop itself then shows no comparison: the decision is one call away. This module reads
the callee (a function or method of this file) by what it does with the parameter the score
fills: a comparison with a value kept across calls (a global, a `self.` attribute, a name
that says best), a `max`/`min`, a scheduler or early-stopping step, or a call it hands the
parameter on to that does so (two calls deep at most). A callee that only prints, logs or
stores the value does not decide.
"""

from __future__ import annotations

from typing import Callable

import libcst as cst

from auditor.analysis.model import bind_arguments
from auditor.analysis.result_use import follow, statements

_DEPTH = 2  # how many calls deep a handed-on score is followed


def deciding_call_reader(prog) -> Callable[[cst.Call, Callable[[cst.BaseExpression], bool]], bool]:
    """A predicate for `result_use.follow(..., deciding=...)`: whether `call` hands a value the
    caller follows (an argument `reads(arg)` is true of) to a parameter its callee decides on."""
    memo: dict = {}

    def decides(call: cst.Call, reads: Callable[[cst.BaseExpression], bool]) -> bool:
        return _decides(prog, call, reads, memo, _DEPTH)

    return decides


def _decides(prog, call: cst.Call, reads, memo: dict, depth: int) -> bool:
    site = prog.model.call_site.get(call)
    if site is None:
        return False
    resolved = prog.flow.resolve(site)
    if resolved is None:
        return False
    function, bound = resolved
    info = prog.model.function_info.get(function)
    if info is None:
        return False
    handed = [p for p, a in bind_arguments(info, call, bound).items() if reads(a)]
    return any(_parameter_decides(prog, info, p, memo, depth) for p in handed)


def _parameter_decides(prog, info, parameter: str, memo: dict, depth: int) -> bool:
    key = (info.node, parameter)
    if key in memo:
        return memo[key]
    memo[key] = False  # a recursive call decides nothing more than the call itself
    inner = None
    if depth > 1:
        def inner(call: cst.Call, reads) -> bool:
            return _decides(prog, call, reads, memo, depth - 1)
    found = follow(info.node.body, None, {parameter}, outlives=kept_names(info), deciding=inner)
    memo[key] = found is not None
    return memo[key]


def kept_names(info) -> set:
    """Names in a function that outlive the call: `global`/`nonlocal` ones (with `self.`
    attributes and best-named values, see `result_use._kept`, they are where a callee keeps
    the best score it compares against)."""
    found = set()
    for statement in statements(info.node.body):
        if isinstance(statement, (cst.Global, cst.Nonlocal)):
            found.update(n.name.value for n in statement.names)
    return found
