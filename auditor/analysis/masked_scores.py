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
        stack.extend(current.children)
    return None


def _has_call(node: cst.CSTNode, calls: set) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if current in calls:
            return True
        if isinstance(current, (cst.Lambda, cst.BaseSuite)):
            continue
        stack.extend(current.children)
    return False


def returned_test_scores(prog, info) -> dict:
    """{position in the returned tuple (None: the whole value): the test index} for a helper
    that returns a score of the test rows of its forward pass (`def train(epoch): ...;
    acc_test = accuracy(output[idx_test], labels[idx_test]); return loss_val, acc_test`)."""
    scored: dict = {}  # name -> test index
    for statement, index in masked_test_scores(prog, info.node, info.node):
        scored.update((name, index) for name in names_assigned(statement))
    found: dict = {}
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
