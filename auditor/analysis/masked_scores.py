"""Test scores taken by selecting the test rows of a forward pass's output.

Full-batch training (graph networks on Planetoid, transductive setups) runs the model once
on every node and picks the split afterwards: `pred = model(data.x, data.edge_index)`, then
`pred[data.test_mask]` or `output[idx_test]`. No loader or argument is test data, so an
analysis that looks for a forward pass *on* test data sees none; the test rows are chosen
from the output. This finds, in a training loop, the statements that index a forward pass's
output (directly or through names computed from it in the loop) with a test-named index.
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.result_use import names_assigned, names_read, statements
from auditor.analysis.splits import TEST
from auditor.analysis.model import syntactic_children


def masked_test_scores(prog, block: cst.CSTNode, function) -> Iterator[tuple]:
    """(statement, the test index) for each statement of `block` (a loop or a function) that
    reads the test rows of a forward pass's output."""
    forward_calls = {f.site.node for f in prog.forwards() if f.site.function is function}
    outputs: set = set()  # names holding a forward pass's output (or values computed from it)
    for statement in statements(block):
        if not isinstance(statement, cst.Assign):
            continue
        value = statement.value
        index = _test_index(prog, value, outputs, forward_calls, function)
        if index is not None:
            yield statement, index
        if _has_call(value, forward_calls) or names_read(value) & outputs:
            outputs.update(names_assigned(statement))


def _test_index(prog, value: cst.BaseExpression, outputs: set, forward_calls: set, function) -> Optional[cst.CSTNode]:
    """The index of `out[data.test_mask]` in `value` when `out` is forward-pass output."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.Lambda, cst.BaseSuite)):
            continue
        if isinstance(current, cst.Subscript) and len(current.slice) == 1 and \
                isinstance(current.slice[0].slice, cst.Index):
            index = current.slice[0].slice.value
            base = current.value
            if (names_read(base) & outputs or _has_call(base, forward_calls)) and \
                    isinstance(index, (cst.Name, cst.Attribute)) and prog.splits.split_of(index, function) == TEST:
                return index
        stack.extend(syntactic_children(current))
    return None


def _has_call(node: cst.CSTNode, calls: set) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if current in calls:
            return True
        if isinstance(current, (cst.Lambda, cst.BaseSuite)):
            continue
        stack.extend(syntactic_children(current))
    return False


def _forward_outputs(prog, block: cst.CSTNode, function) -> tuple:
    """(names holding a forward pass's output or values computed from it, the forward calls)."""
    forward_calls = {f.site.node for f in prog.forwards() if f.site.function is function}
    outputs: set = set()
    for statement in statements(block):
        if isinstance(statement, cst.Assign) and (
                _has_call(statement.value, forward_calls) or names_read(statement.value) & outputs):
            outputs.update(names_assigned(statement))
    return outputs, forward_calls


def _indexes_output_by(value: cst.CSTNode, variable: str, outputs: set, forward_calls: set) -> bool:
    """Whether `value` reads `out[variable]` for a forward pass's output `out`."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.Lambda, cst.BaseSuite)):
            continue
        if isinstance(current, cst.Subscript) and len(current.slice) == 1 and \
                isinstance(current.slice[0].slice, cst.Index):
            index = current.slice[0].slice.value
            if isinstance(index, cst.Name) and index.value == variable and (
                    names_read(current.value) & outputs or _has_call(current.value, forward_calls)):
                return True
        stack.extend(syntactic_children(current))
    return False


def _split_positions(prog, iterated: cst.BaseExpression, function) -> dict:
    """{position: mask} for the test masks of a literal list of masks (`[data.train_mask,
    data.val_mask, data.test_mask]`)."""
    if not isinstance(iterated, (cst.List, cst.Tuple)):
        return {}
    return {i: e.value for i, e in enumerate(iterated.elements)
            if prog.splits.split_of(e.value, function) == TEST}


def per_split_score_lists(prog, info) -> dict:
    """{list name (None: the returned comprehension itself): {position: test mask}} for the
    per-split scores a full-batch helper builds by looping over a literal list of masks:
    `for mask in [data.train_mask, data.val_mask, data.test_mask]: accs.append(acc(pred[mask]))`
    or `[acc(pred[m]) for m in (...)]`; position i of the list is the score of mask i."""
    outputs, forward_calls = _forward_outputs(prog, info.node, info.node)
    if not outputs and not forward_calls:
        return {}
    found: dict = {}
    for statement in statements(info.node):
        if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
            masks = _split_positions(prog, statement.iter, info.node)
            if not masks:
                continue
            for inner in statements(statement.body):
                if not (isinstance(inner, cst.Expr) and isinstance(inner.value, cst.Call)
                        and isinstance(inner.value.func, cst.Attribute) and inner.value.func.attr.value == "append"
                        and isinstance(inner.value.func.value, cst.Name) and inner.value.args):
                    continue
                if _indexes_output_by(inner.value.args[0].value, statement.target.value, outputs, forward_calls):
                    found[inner.value.func.value.value] = masks
    for ret in info.returns:
        value = ret.value
        if isinstance(value, cst.ListComp) and isinstance(value.for_in.target, cst.Name) and \
                value.for_in.inner_for_in is None:
            masks = _split_positions(prog, value.for_in.iter, info.node)
            if masks and _indexes_output_by(value.elt, value.for_in.target.value, outputs, forward_calls):
                found[None] = masks
    return found


def returned_test_scores(prog, info) -> dict:
    """{position in the returned tuple (None: the whole value): the test index} for a helper
    that returns a score of the test rows of its forward pass (`def train(epoch): ...;
    acc_test = accuracy(output[idx_test], labels[idx_test]); return loss_val, acc_test`), or a
    list of per-split scores (`for mask in [train_mask, val_mask, test_mask]: accs.append(...)`;
    `return accs`: position 2 is the test score)."""
    scored: dict = {}  # name -> test index
    for statement, index in masked_test_scores(prog, info.node, info.node):
        scored.update((name, index) for name in names_assigned(statement))
    lists = per_split_score_lists(prog, info) if info.returns else {}
    found: dict = {}
    for ret in info.returns:
        value = ret.value
        masks = lists.get(value.value) if isinstance(value, cst.Name) else lists.get(None) \
            if isinstance(value, cst.ListComp) else None
        if masks:
            found.update(masks)
    if not scored:
        return found
    for ret in info.returns:
        value = ret.value
        if isinstance(value, cst.Tuple):
            for position, element in enumerate(value.elements):
                hit = names_read(element.value) & scored.keys()
                if hit:
                    found[position] = scored[min(hit)]
        elif value is not None and names_read(value) & scored.keys():
            found[None] = scored[min(names_read(value) & scored.keys())]
    return found
