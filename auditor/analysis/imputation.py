"""Imputation by hand: missing values filled with a statistic of the data's own rows
(`df["age"] = df["age"].fillna(df["age"].median())`, `df.fillna(df.mean(), inplace=True)`,
`df.fillna({c: df[c].median()}, inplace=True)`). It is a `SimpleImputer` fitted on every row:
when the filled data is split afterwards, the test rows chose the value written into the
training rows (TRN202 follows it to the split like any other fitted data)."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.leakage import _calls, row_range, row_statistic
from auditor.analysis.names import dotted_name
from auditor.analysis.splits import split_of_name

# Statistics an imputation fills with; `mode` too (the most frequent value, `df[c].mode()[0]`).
_FILL_STATISTICS = {"mean", "median", "mode", "nanmean", "nanmedian"}


def root_name(node: cst.BaseExpression) -> Optional[str]:
    """The data a column or rows are read from: `df` for `df["age"]`, `df.loc[m, "a"]`, `df.age`."""
    while True:
        if isinstance(node, cst.Subscript):
            if row_range(node):
                return None  # `df[:n]`: a range of rows, a part
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value in ("loc", "iloc"):
            node = node.value
        else:
            break
    name = dotted_name(node)
    if name is not None and isinstance(node, cst.Attribute):
        head = name.rsplit(".", 1)[0]
        return head if not head.startswith("self") or head.count(".") else name
    return name


def _statistic_root(value: cst.BaseExpression) -> set:
    """The data that the statistics inside `value` are taken of (`df["age"].median()` -> df)."""
    found = set()
    for call in _calls(value):
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _FILL_STATISTICS:
            continue
        data = func.value if func.attr.value == "mode" else (row_statistic(call) or (None,))[0]
        if data is None:
            continue
        name = root_name(data)
        if name is not None:
            found.add(name)
    return found


def filled_with_own_statistic(call: cst.Call) -> Optional[str]:
    """The data a `.fillna(...)` call fills with a statistic of its own rows, or None. A fill
    with another part's statistic (`X_test.fillna(X_train.mean())`) or of a split's part
    (`X_train.fillna(X_train.mean())`) is none: that is a fit on the part."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "fillna" or not call.args:
        return None
    value = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "value"), None)
    data = root_name(func.value)
    if value is None or data is None or split_of_name(data.rsplit(".", 1)[-1]) is not None:
        return None
    return data if data in _statistic_root(value) else None


def _inplace(call: cst.Call) -> bool:
    return any(a.keyword is not None and a.keyword.value == "inplace" and isinstance(a.value, cst.Name)
               and a.value.value == "True" for a in call.args)


def imputations(model) -> Iterator[tuple]:
    """(call, statement, function, data name, names then holding the filled data) for each
    fill with the data's own statistic whose result is kept: assigned (`df[c] = df[c].fillna(...)`)
    or written in place (`df.fillna(..., inplace=True)`)."""
    for site in model.calls:
        data = filled_with_own_statistic(site.node)
        if data is None:
            continue
        statement = site.statement
        if isinstance(statement, cst.Expr) and statement.value is site.node and _inplace(site.node):
            yield site.node, statement, site.function, data, {data}
        elif isinstance(statement, cst.Assign) and statement.value is site.node:
            targets = {root_name(t.target) for t in statement.targets} - {None}
            if targets:
                yield site.node, statement, site.function, data, targets
