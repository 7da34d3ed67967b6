"""Data already split, fitted whole: `X_tr, X_te = train_test_split(df["text"], ...)`, then
`vectorizer.fit(df["text"])` and `vectorizer.transform(X_te)`. The fit reads every row of the
data that the split above cut into training and evaluation parts, so the evaluation rows
shaped it; and the fitted transformer is then applied to an evaluation part. Without that
application (a final refit on all the data after cross-validation, a fit for a plot), the
fit is left alone."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.leakage import Split, reads, row_range, split_in
from auditor.analysis.names import dotted_name
from auditor.analysis.result_use import names_assigned, statements
from auditor.analysis.splits import EVAL_SPLITS

_SAME_ROWS = {"values", "to_numpy", "toarray", "astype", "copy", "reshape", "fillna", "dropna", "tolist"}


def whole_data_name(data: cst.BaseExpression) -> Optional[str]:
    """`df` for `df`, `df["text"]`, `df[["a", "b"]]`, `df.values`, `X.reshape(-1, 1)`: every row
    of a named dataset (some columns of it); None for a range of rows (`X[:n]`) or anything else."""
    node = data
    for _ in range(8):
        if isinstance(node, cst.Subscript):
            if row_range(node) or not all(isinstance(e.slice, cst.Index) and
                                          isinstance(e.slice.value, (cst.SimpleString, cst.List))
                                          for e in node.slice):
                return None  # rows picked by an index or a mask: a part, not the whole
            node = node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value in _SAME_ROWS:
            node = node.func.value
        elif isinstance(node, cst.Attribute) and node.attr.value in _SAME_ROWS:
            node = node.value
        else:
            break
    return dotted_name(node) if isinstance(node, (cst.Name, cst.Attribute)) else None


def split_before(model, node: cst.CSTNode, data: cst.BaseExpression, function) -> Optional[Split]:
    """The split, earlier in the same scope and in source order, of the data that `data` reads
    whole at `node`, with that data not rebound in between."""
    name = whole_data_name(data)
    if name is None:
        return None
    block = function.body if function is not None else model.module
    found = None
    for statement in statements(block):
        if statement is node or model.is_within(node, statement):
            if isinstance(statement, cst.BaseCompoundStatement):
                continue  # the fit is inside: its header ran before, its body is walked on
            return found
        if isinstance(statement, cst.BaseCompoundStatement):
            continue
        split = split_in(model, statement, {name}, function)
        if split is not None and split.node is not None and not split.internal:
            found = split
        elif name in names_assigned(statement) or name.split(".")[0] in names_assigned(statement):
            found = None  # rebound: other data now
    return None


def transforms_evaluation(prog, site, function) -> bool:
    """The transformer fitted at `site` (`vec.fit(...)`, `vec = Vec().fit(...)`) is then applied
    (`transform`) to data of an evaluation split in the same function."""
    model = prog.model
    receiver = site.receiver
    name = dotted_name(receiver) if receiver is not None and not isinstance(receiver, cst.Call) else None
    if name is None and isinstance(site.statement, cst.Assign) and site.method == "fit":
        targets = names_assigned(site.statement)
        name = targets[0] if len(targets) == 1 else None
    if name is None:
        return False
    for other in model.calls_in(function):
        if other.method != "transform" or other.receiver is None or dotted_name(other.receiver) != name:
            continue
        argument = next((a.value for a in other.node.args if a.keyword is None and not a.star), None)
        if argument is None:
            continue
        if prog.splits.split_of(argument, function) in EVAL_SPLITS:
            return True
    return False


def refit_after_split(prog, site, data, function) -> Optional[Split]:
    """The split above whose source `data` reads whole, when the transformer fitted on it at
    `site` then transforms evaluation data."""
    split = split_before(prog.model, site.node, data, function)
    if split is None or not transforms_evaluation(prog, site, function):
        return None
    return split
