"""A training mode chosen per configuration (TRN103).

`if weights == "finetune": model.train() elif weights == "freeze": model.eval() else: assert
False` at the top of every epoch: each branch picks the mode of the model before its training
steps, so an eval mode there is the configured frozen probe, not the previous epoch's
evaluation left in force. A chain with a branch that sets nothing (falls through with the last
mode) is no such choice.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name
from auditor.analysis.uses import source_order
from auditor.analysis.model import syntactic_children

TRAIN, EVAL = "train", "eval"


def mode_chosen_before_step(prog, site, key: str, same_module) -> bool:
    """Every path to the step `site` goes through an if/elif/else chain, in the block that holds
    the step (or one of its enclosing loops), whose branches each set `key`'s mode (at least one
    to train, one to eval) or end the path; and no `.eval()` of `key` can run between that
    chain and the step (before it in the block, or anywhere in a loop around the step that the
    chain does not head)."""
    model = prog.model
    order = source_order(model)
    step_at = order.get(site.node, 0)
    evals = [call for call in model.calls if _sets_eval(call, key, same_module)]
    for block, chain in _chains_before(model, site.node):
        modes = _branch_modes(model, chain, key, same_module)
        if modes is None or TRAIN not in modes or EVAL not in modes:
            continue
        chain_end = max((order.get(n, 0) for n in _walk(chain)), default=0)
        inner_loops = [loop for loop in prog.loops_of(site.node) if model.is_within(loop, block)]
        if not any(chain_end < order.get(call.node, 0) < step_at
                   or any(model.is_within(call.node, loop) for loop in inner_loops) for call in evals):
            return True
    return False


def _chains_before(model, node: cst.CSTNode):
    """(block, `if` statement) pairs: an `if` that precedes, in a block around `node` inside the
    same function, the statement holding `node`."""
    child = node
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, (cst.IndentedBlock, cst.Module)):
            for statement in ancestor.body:
                if statement is child:
                    break
                if isinstance(statement, cst.If):
                    yield ancestor, statement
        if isinstance(ancestor, cst.FunctionDef):
            return
        child = ancestor


def _branch_modes(model, chain: cst.If, key: str, same_module) -> Optional[set[str]]:
    """The modes the chain's branches set on `key` (None when a branch sets none and goes on)."""
    modes: set[str] = set()
    branch: Optional[cst.CSTNode] = chain
    while branch is not None:
        body = branch.body
        mode = _block_mode(model, body, key, same_module)
        if mode is None and not _ends_path(body):
            return None
        if mode is not None:
            modes.add(mode)
        orelse = getattr(branch, "orelse", None)
        if orelse is None and isinstance(branch, cst.If):
            return None  # no else: the fall-through path keeps the previous mode
        branch = orelse
    return modes


def _block_mode(model, body: cst.BaseSuite, key: str, same_module) -> Optional[str]:
    mode = None
    for call in _mode_calls(model, body, key, same_module):
        mode = call
    return mode


def _mode_calls(model, body: cst.BaseSuite, key: str, same_module):
    for statement in getattr(body, "body", ()):
        for small in getattr(statement, "body", ()) if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                mode = _mode_of(small.value, key, same_module)
                if mode is not None:
                    yield mode


def _mode_of(call: cst.Call, key: str, same_module) -> Optional[str]:
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in ("train", "eval"):
        return None
    if not same_module(key, dotted_name(func.value) or ""):
        return None
    if func.attr.value == "eval":
        return EVAL if not call.args else None
    if not call.args:
        return TRAIN
    flag = call.args[0].value
    if isinstance(flag, cst.Name) and flag.value in ("True", "False"):
        return TRAIN if flag.value == "True" else EVAL
    return None


def _ends_path(body: cst.BaseSuite) -> bool:
    statements = getattr(body, "body", ())
    if not statements or not isinstance(statements[-1], cst.SimpleStatementLine):
        return False
    last = statements[-1].body[-1]
    if isinstance(last, cst.Raise):
        return True
    return isinstance(last, cst.Assert) and isinstance(last.test, cst.Name) and last.test.value == "False"


def _sets_eval(call, key: str, same_module) -> bool:
    return call.method in ("eval", "train") and isinstance(call.node, cst.Call) \
        and _mode_of(call.node, key, same_module) == EVAL


def _walk(node: cst.CSTNode):
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(syntactic_children(current))
