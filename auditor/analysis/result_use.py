"""Where an evaluation's result goes inside a training loop: a decision, or only a report.

TRN204 needs to tell three things apart that look alike to a name matcher:
- the test score reaches a decision (a comparison, early stopping, a scheduler, `max(...)`):
  the test set then selects the model, and the final test number is optimistic;
- the test score is only printed, logged or stored: nothing is selected on it;
- the test score is taken inside a branch that runs when *validation* improved: the
  standard way to report the test result of the chosen epoch.

The analysis follows names forward through one block of statements (the rest of the epoch
loop, or the rest of an evaluation helper), in source order: a name bound from a tainted
value is tainted, a name rebound from anything else is not any more.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name
from auditor.analysis.splits import VAL, name_tokens, split_of_name
from auditor.analysis.model import KindTable, syntactic_children

# Calls whose result is a choice between values (`best = max(best, acc)`).
_CHOOSING_CALLS = {"max", "min", "sorted"}  # the builtins, called by name (not `out.max(1)`)
# Words of an early-stopping or improvement-tracking callee or name.
STOP_WORDS = {"early", "stopping", "stopper", "earlystopping", "earlystopper", "patience", "es"}
_BEST_WORDS = {"best", "improved", "improve", "improvement", "is_best"}
_SCHEDULER_WORDS = {"scheduler", "sched", "lr", "plateau", "schedule"}


# Kinds of node a walk tells apart (`_SMALL[type(node)]` is `isinstance(node, ...)`, faster).
_SMALL = KindTable(cst.BaseSmallStatement)
_COMPOUND = KindTable(cst.BaseCompoundStatement)
_SUITE = KindTable(cst.BaseSuite)


def statements(block: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Small statements and compound statements of `block`, in source order, outermost first
    (a compound statement comes before its body). Nested functions and classes are skipped."""
    for child in _block_children(block):
        kind = type(child)
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            continue
        if kind is cst.SimpleStatementLine:
            yield from child.body
        elif _SMALL[kind]:
            yield child
        elif _COMPOUND[kind]:
            yield child
            for part in _compound_blocks(child):
                if isinstance(part, cst.If):
                    # An `elif`: its condition is a statement's header too (`elif test_loss
                    # < best:` decides), then its body; the rest of the chain is a part of its own.
                    yield part
                yield from statements(part)


def _block_children(block: cst.CSTNode) -> list:
    body = getattr(block, "body", None)
    if isinstance(body, (list, tuple)):
        return list(body)
    if isinstance(body, cst.BaseSuite):
        return _block_children(body)
    return []


def _compound_blocks(node: cst.BaseCompoundStatement) -> list:
    if isinstance(node, cst.Match):  # its blocks are the cases' bodies (it has no body of its own)
        return [case.body for case in node.cases]
    blocks = [node.body]
    orelse = getattr(node, "orelse", None)
    while orelse is not None:
        blocks.append(orelse.body if isinstance(orelse, cst.Else) else orelse)
        orelse = getattr(orelse, "orelse", None) if isinstance(orelse, cst.If) else None
    blocks.extend(h.body for h in getattr(node, "handlers", ()) or ())
    final = getattr(node, "finalbody", None)
    if final is not None:
        blocks.append(final.body)
    # `elif` branches are If nodes: `statements` visits them as compound statements.
    return [b for b in blocks if not isinstance(b, cst.If)] + [b for b in blocks if isinstance(b, cst.If)]


def names_read(node: Optional[cst.CSTNode]) -> set:
    """Dotted names read in an expression (`x`, `self.best`, `metrics` of `metrics["acc"]`)."""
    found: set = set()
    if node is None:
        return found
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Name or kind is cst.Attribute:
            name = dotted_name(current)
            if name is not None:
                found.add(name)
                found.add(name.split(".", 1)[0])
                if kind is cst.Attribute:
                    stack.append(current.value)
                continue
        if kind is cst.Lambda or kind is cst.FunctionDef:
            continue
        stack.extend(syntactic_children(current))
    return found


def names_assigned(statement: cst.CSTNode) -> list:
    """Names a statement binds (tuple targets unpacked, `d[k] = ...` binds `d`)."""
    kind = type(statement)
    if kind is cst.Assign:
        targets = [t.target for t in statement.targets]
    elif kind is cst.AnnAssign or kind is cst.AugAssign or kind is cst.For:
        targets = [statement.target]
    else:
        return []
    names = []
    while targets:
        target = targets.pop()
        kind = type(target)
        if kind is cst.Tuple or kind is cst.List:
            targets.extend(e.value for e in target.elements)
        elif kind is cst.StarredElement or kind is cst.Subscript:
            targets.append(target.value)
        else:
            name = dotted_name(target)
            if name:
                names.append(name)
    return names


def _value(statement: cst.CSTNode) -> Optional[cst.CSTNode]:
    kind = type(statement)
    if kind is cst.Assign or kind is cst.AugAssign or kind is cst.AnnAssign:
        return statement.value
    if kind is cst.For:
        return statement.iter
    return None


def seeds_of_block(block: cst.CSTNode) -> set:
    """Names an evaluation loop fills: its assignments and the lists it appends to."""
    found: set = set()
    for statement in statements(block):
        found.update(names_assigned(statement) if not isinstance(statement, cst.For) else ())
        for call in _calls_in(statement):
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("append", "extend", "update"):
                name = dotted_name(call.func.value)
                if name:
                    found.add(name)
    return found


def _calls_in(statement: cst.CSTNode) -> Iterator[cst.Call]:
    """Calls in a small statement, or in a compound statement's header only."""
    memo = _memo
    if memo is not None:
        key = ("calls", id(statement))
        hit = memo.get(key)
        if hit is None or hit[0] is not statement:
            hit = memo[key] = (statement, tuple(_find_calls(statement)))
        return iter(hit[1])
    return _find_calls(statement)


def _find_calls(statement: cst.CSTNode) -> Iterator[cst.Call]:
    if _COMPOUND[type(statement)]:
        roots = [getattr(statement, attr) for attr in ("test", "iter", "items") if hasattr(statement, attr)]
        roots = [r for r in roots if r is not None]
        if type(statement) is cst.With:
            roots = [i.item for i in statement.items]
    else:
        roots = [statement]
    stack = list(roots)
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Call:
            yield current
        if kind is cst.Lambda or kind is cst.FunctionDef or _SUITE[kind]:
            continue
        stack.extend(syntactic_children(current))


def reads_tainted(node: Optional[cst.CSTNode], tainted: set, source: Optional[cst.CSTNode]) -> bool:
    """Whether the expression reads a followed name (or contains `source`)."""
    return _reads(node, tainted, source)


def _reads(node: Optional[cst.CSTNode], tainted: set, source: Optional[cst.CSTNode]) -> bool:
    if node is None:
        return False
    if source is not None and (node is source or _contains(node, source)):
        return True
    memo = _memo
    if memo is not None:
        hit = memo.get(id(node))
        if hit is None or hit[0] is not node:
            hit = memo[id(node)] = (node, _values_read(node))
        return not hit[1].isdisjoint(tainted)
    found = names_read(node)
    # What `_values_read` leaves out is never more than `names_read` holds.
    return not found.isdisjoint(tainted) and not _values_read(node, found).isdisjoint(tainted)


def _values_read(node: cst.CSTNode, found: Optional[set] = None) -> set:
    """`names_read`, less the dicts whose keys alone are read: `stats.keys()` and `key in
    stats` ask which metrics a result dict holds (to fill a log), never what they are.
    (`found`: `names_read(node)`, when the caller has it.)"""
    if found is None:
        found = names_read(node)
    if not found:
        return found
    keys_only: set = set()
    values: set = set()
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Lambda or kind is cst.FunctionDef:
            continue
        if kind is cst.Call and type(current.func) is cst.Attribute and not current.args \
                and current.func.attr.value == "keys":
            keys_only |= names_read(current.func.value)
            continue
        if kind is cst.Comparison:
            stack.append(current.left)
            for target in current.comparisons:
                if type(target.operator) in (cst.In, cst.NotIn) and \
                        type(target.comparator) in (cst.Name, cst.Attribute):
                    keys_only |= names_read(target.comparator)
                else:
                    stack.append(target.comparator)
            continue
        if kind is cst.Name or kind is cst.Attribute:
            values |= names_read(current)
            continue
        stack.extend(syntactic_children(current))
    return found - (keys_only - values)


# What `follow` reads of each node (the names an expression reads, the calls a statement
# makes, the statements of a block), kept while `shared_reads()` is open: a caller following
# several sets of names through the same function reads each node once. Keyed by `id`, with
# the node kept beside its entry (so that no id is reused while the memo lives).
_memo: Optional[dict] = None


@contextmanager
def shared_reads() -> Iterator[None]:
    """Inside this block, `follow` (and what it asks) reads each node of a tree once; the trees
    must stay unchanged meanwhile (libcst's are immutable)."""
    global _memo
    outer = _memo
    if outer is None:
        _memo = {}
    try:
        yield
    finally:
        _memo = outer


def _statements_of(block: cst.CSTNode):
    """`statements(block)`, from the memo when `shared_reads()` is open."""
    memo = _memo
    if memo is None:
        return statements(block)
    key = ("statements", id(block))
    hit = memo.get(key)
    if hit is None or hit[0] is not block:
        hit = memo[key] = (block, tuple(statements(block)))
    return hit[1]


def _contains(node: cst.CSTNode, target: cst.CSTNode) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if current is target:
            return True
        if _SUITE[type(current)]:
            continue
        stack.extend(syntactic_children(current))
    return False


def decision_in(statement: cst.CSTNode, tainted: set, source: Optional[cst.CSTNode] = None,
                outlives: Optional[set] = None, across: bool = False,
                deciding: Optional[Callable] = None) -> Optional[cst.CSTNode]:
    """The node where this statement decides on a tainted value, if it does. `outlives`: inside
    a helper, a condition decides only when it compares with a value kept across calls (a
    global, a `self.` attribute, a `best_...` name); `if count > 0:` there is arithmetic.
    `across`: the tainted values are scores kept over the epochs of a finished loop, so the
    numpy/torch reductions that pick one of them (`np.argmax(test_accs)`, `accs.max(dim=0)`)
    choose an epoch too. `deciding(call, tainted, source)`: whether the call hands a followed value to a
    callee that decides on it (`save_if_best(model, acc)`, see `deciding_callees`)."""
    test = getattr(statement, "test", None) if type(statement) in (cst.If, cst.While) else None
    if test is not None and _reads(test, tainted, source) and (outlives is None or _kept(test, outlives, tainted)):
        return test
    for call in _calls_in(statement):
        if across and _picks_an_epoch(call, tainted, source):
            return call
        args = [a.value for a in call.args]
        if not any(_reads(a, tainted, source) for a in args):
            # `self.maybe_save()`: a method of the object may read a followed `self.` attribute.
            if deciding is not None and any(n.startswith("self.") for n in tainted) and \
                    deciding(call, tainted, source):
                return call
            continue
        callee = dotted_name(call.func) or ""
        last = callee.rsplit(".", 1)[-1]
        tokens = set(name_tokens(callee.replace(".", "_")))
        if isinstance(call.func, cst.Name) and last in _CHOOSING_CALLS or tokens & STOP_WORDS:
            return call
        if last == "step" and tokens & _SCHEDULER_WORDS:
            return call
        if threaded_best(statement, call) is not None:
            # `best_loss = util.save_model(model, test_metrics, best_loss)`: the call is handed
            # the score and the running best and hands back the new best: it keeps the best.
            return call
        if deciding is not None and deciding(call, tainted, source):
            return call
    return None


def follow(block: cst.CSTNode, after: Optional[cst.CSTNode], tainted: set,
           source: Optional[cst.CSTNode] = None, outlives: Optional[set] = None,
           final: Optional[set] = None, across: bool = False,
           deciding: Optional[Callable] = None) -> Optional[cst.CSTNode]:
    """Walk `block`'s statements after `after` (from the start when None), carrying the
    tainted names forward; the first decision on one of them, or None (then `final`, if
    given, receives the names still tainted at the end of the block). `across`: see
    `decision_in`; so is `deciding`."""
    tainted = set(tainted)
    started = after is None
    inside: set = set()  # the statements of `after` itself: its results are what is followed
    # After a finished loop, the other branches of an `if` that holds it never run
    # (`if mode == "train": <loop> else: <demo>`): nothing there follows the loop.
    unreached = branches_beside(block, after) if across and after is not None else set()
    for statement in _statements_of(block):
        if not started:
            if statement is after:  # the caller judges `after` itself
                started = True
                if isinstance(statement, cst.BaseCompoundStatement):
                    parts = _compound_blocks(statement)
                    inside = {id(s) for part in parts for s in statements(part)} | {id(p) for p in parts}
            continue
        elif id(statement) in inside or id(statement) in unreached:
            continue
        decision = decision_in(statement, tainted, source, outlives, across, deciding)
        if decision is not None:
            return decision
        targets = names_assigned(statement)
        if targets:
            if _reads(_value(statement), tainted, source) or type(statement) is cst.AugAssign \
                    and set(targets) & tainted:
                tainted.update(targets)
            else:
                tainted.difference_update(targets)
        for call in _calls_in(statement):
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("append", "extend", "update") \
                    and any(_reads(a.value, tainted, source) for a in call.args):
                name = dotted_name(_container(call.func.value))
                if name:
                    tainted.add(name)
    if final is not None:
        final.update(tainted)
    return None


def branches_beside(block: cst.CSTNode, after: cst.CSTNode) -> set:
    """Ids of the statements of `block` in the branches exclusive with `after`: the `elif` /
    `else` parts of each `if` whose body holds it, for the `if`s not inside a loop (a loop
    may come back and take the other branch next time)."""
    found: set = set()

    def search(part: cst.CSTNode) -> bool:
        for child in _block_children(part):
            if child is after or isinstance(child, cst.SimpleStatementLine) and \
                    any(small is after for small in child.body):
                return True
            if isinstance(child, cst.If) and search_if(child):
                return True
            if isinstance(child, (cst.With, cst.Try)) and any(search(p) for p in _compound_blocks(child)):
                return True
            if isinstance(child, (cst.For, cst.While)) and _holds(child, after):
                return True  # inside a loop: its other branches may run on a later pass
        return False

    def search_if(node: cst.If) -> bool:
        if search(node):  # the `if` body
            rest = node.orelse
            if rest is not None:
                parts = _compound_blocks(rest) if isinstance(rest, cst.If) else [rest]
                found.add(id(rest))
                found.update(id(p) for p in parts)
                found.update(id(s) for p in parts for s in statements(p))
            return True
        rest = node.orelse
        if isinstance(rest, cst.If):
            return search_if(rest)
        return rest is not None and search(rest)

    search(block)
    return found


def _holds(node: cst.CSTNode, target: cst.CSTNode) -> bool:
    return any(s is target for part in _compound_blocks(node) for s in statements(part))


# Reductions that pick the best (or worst) of the values they are given.
_PICKING_REDUCTIONS = {"max", "min", "argmax", "argmin", "nanmax", "nanmin", "nanargmax", "nanargmin"}
_ARRAY_MODULES = {"np", "numpy", "torch"}


def _picks_an_epoch(call: cst.Call, tainted: set, source: Optional[cst.CSTNode]) -> bool:
    """`np.argmax(test_accs)`, `torch.max(scores)`, `test_acc.mean(dim=0).max(dim=0)`: a
    reduction over kept per-epoch scores, along the first axis (the epochs) or all of them;
    `preds.argmax(1)` (per row, over classes) is not a choice of epoch."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in _PICKING_REDUCTIONS:
        return False
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    axes = [a.value for a in call.args if a.keyword is not None and a.keyword.value in ("dim", "axis")]
    if dotted_name(func.value) in _ARRAY_MODULES:
        if not positional or not _reads(positional[0], tainted, source):
            return False
        axes += positional[1:2]
    else:
        if not _reads(func.value, tainted, source):
            return False
        axes += positional[:1]
    return all(isinstance(a, cst.Integer) and a.value == "0" for a in axes)


def _container(node: cst.BaseExpression) -> cst.BaseExpression:
    """`history[k]["recall"]` -> `history`: appending to an entry fills the container."""
    while isinstance(node, cst.Subscript):
        node = node.value
    return node


def _kept(test: cst.BaseExpression, outlives: set, followed: set = frozenset()) -> bool:
    """The condition compares with a value kept across calls, other than the followed value
    itself (`if self.acc > 0.5:` of a stored `self.acc` is arithmetic, not a kept best)."""
    for name in names_read(test) - set(followed):
        if name in outlives or name.startswith("self.") or set(name_tokens(name.replace(".", "_"))) & _BEST_WORDS:
            return True
    return False


def threaded_best(statement: cst.CSTNode, call: cst.Call) -> Optional[cst.BaseExpression]:
    """`best_test_f, f, _ = evaluating(model, test_data, best_test_f)`: the caller hands the
    helper its running best and takes the updated one back, so the helper keeps the best score
    over the calls. The argument, or None."""
    if not isinstance(statement, cst.Assign) or statement.value is not call:
        return None
    targets = set(names_assigned(statement))
    for arg in call.args:
        name = dotted_name(arg.value) if isinstance(arg.value, (cst.Name, cst.Attribute)) else None
        if name in targets and set(name_tokens(name.replace(".", "_"))) & _BEST_WORDS:
            return arg.value
    return None


def improvement_guard(test: cst.BaseExpression) -> bool:
    """An `if` that runs when validation improved (`if val_acc > best_acc:`, `if is_best:`,
    `if stopper.counter == 0:`): the test score taken there is the chosen epoch's report."""
    for name in names_read(test):
        tokens = set(name_tokens(name.replace(".", "_")))
        if tokens & _BEST_WORDS or tokens & STOP_WORDS or split_of_name(name) == VAL or _validation_metric(tokens):
            return True
    return False


# Words of a score: with a validation word they name a validation result (`valid_mse`,
# `dev_acc`), where `valid` alone is too ambiguous to name a split (`valid_lens`).
_METRIC_WORDS = {"loss", "mse", "mae", "rmse", "acc", "accuracy", "auc", "f1", "score", "metric", "error",
                 "err", "ppl", "perplexity", "iou", "miou", "recall", "precision", "ndcg", "bleu", "rouge"}
_VALIDATION_WORDS = {"val", "valid", "validation", "vali", "dev", "eval"}


def _validation_metric(tokens: set) -> bool:
    return bool(tokens & _VALIDATION_WORDS) and bool(tokens & _METRIC_WORDS) and split_of_name("_".join(
        t for t in tokens if t not in _VALIDATION_WORDS)) is None
