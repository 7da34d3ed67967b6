"""Standardisation by hand whose statistics come from evaluation data (TRN201's by-hand form).

A scaler fitted on the test split is one way to leak it into preprocessing; computing the
statistics yourself is the other:

- in one expression: `X_test = (X_test - X_test.mean(0)) / X_test.std(0)`;
- in steps: `mean = np.mean(np.concatenate([train, test]))`, ..., `train = (train - mean) / sd`;
- through a helper that standardises whatever it is given (`def standardize(x): return
  (x - x.mean(0)) / x.std(0)`), called with test data: `X_test = standardize(X_test)`.

Only statistics over rows count (`axis=1`, `keepdims=True` are per-sample normalisation), and
only when they rescale data that is stored as data: a deviation computed for a metric
(`resid = y_test - y_test.mean()`, an R² denominator) is arithmetic, not preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.leakage import row_range, row_statistic, standardised_rows
from auditor.analysis.names import dotted_name
from auditor.analysis.result_use import names_read, statements
from auditor.analysis.splits import EVAL_SPLITS, MIXED, name_tokens, split_of_name


@dataclass
class EvalStatistics:
    """Statistics of evaluation data used to standardise data."""

    node: cst.CSTNode  # where to report: the statistic, or the call of a standardising helper
    data: cst.BaseExpression  # the data summarised
    split: str  # "test", "val" or MIXED
    helper: Optional[str] = None  # the helper's name when it computes them


def eval_statistics(prog) -> Iterator[EvalStatistics]:
    """Every standardisation by hand, in every scope of the file, whose statistics are taken
    from validation/test data or from data that mixes them with training rows."""
    model = prog.model
    helpers: dict = {}  # FunctionDef -> (info, the parameter it standardises)
    for function in [None, *model.function_info]:
        block = model.module if function is None else function.body
        yield from _in_block(prog, block, function)
        info = model.info(function) if function is not None else None
        parameter = _standardised_parameter(info) if info is not None else None
        if parameter is not None:
            helpers[function] = (info, parameter)
    if not helpers:
        return
    for site in model.calls:
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is None or resolved[0] not in helpers:
            continue
        info, parameter = helpers[resolved[0]]
        value = _argument_for(info, site.node, resolved[1], parameter)
        split = _eval_split(prog, value, site.function) if value is not None else None
        if split in EVAL_SPLITS:  # a mixture is told by an explicit concatenation only
            yield EvalStatistics(site.node, value, split, info.name)


def _in_block(prog, block: cst.CSTNode, function) -> Iterator[EvalStatistics]:
    stats: dict = {}  # name -> (data, split, statistic node, of magnitudes?)
    reported: set = set()
    for statement in statements(block):
        if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
            continue
        target, value = statement.targets[0].target, statement.value
        data = standardised_rows(value)
        if data is not None:
            split = _eval_split(prog, data, function)
            if split is not None and _stored_as_data(prog, target, data, function):
                yield EvalStatistics(value, data, split)
            continue
        for name, (summarised, split, node, magnitude) in list(stats.items()):
            key = id(node)
            operand = _operand(value)
            if key not in reported and _applies(value, name, magnitude) and _part_of(operand, summarised) \
                    and _stored_as_data(prog, target, operand, function):
                reported.add(key)
                yield EvalStatistics(node, summarised, split)
        for name, stat in _bound_statistics(statement):
            found = row_statistic(stat) if isinstance(stat, cst.Call) else None
            split = _eval_split(prog, found[0], function) if found is not None and not row_range(found[0]) \
                else None
            if split is not None:
                stats[name] = (found[0], split, stat, found[1])
            else:
                stats.pop(name, None)


def _applies(value: cst.BaseExpression, stat: str, magnitude: bool) -> bool:
    """`D - stat`, `(D - stat) / s`, or for a max-abs statistic `D / stat`: the statistic
    rescales data `D` (a name or subscript, not a constant or a reduction)."""
    if not isinstance(value, cst.BinaryOperation):
        return False
    if isinstance(value.operator, (cst.Divide, cst.Multiply)):
        if magnitude and _is_data(value.left) and stat in names_read(value.right):
            return True
        value = value.left
        if not isinstance(value, cst.BinaryOperation):
            return False
    return isinstance(value.operator, cst.Subtract) and _is_data(value.left) and stat in names_read(value.right)


def _operand(value: cst.BaseExpression) -> cst.BaseExpression:
    """The data operand of an application `_applies` accepted."""
    while isinstance(value, cst.BinaryOperation):
        value = value.left
    return value


def _part_of(operand: cst.BaseExpression, summarised: cst.BaseExpression) -> bool:
    """The rescaled data is the summarised data or one of its parts (`train` of
    `np.concatenate([train, test])`), not another quantity (`compiled_time - mean_time`)."""
    return bool(_data_names(operand) & _data_names(summarised))


def _data_names(node: cst.BaseExpression) -> set:
    return {n for n in names_read(node) if "." not in n or not n.startswith(("np.", "numpy.", "torch."))}


# Words of a model's outputs or of measurements: rescaling predictions or anomaly scores
# (`scores = (scores - scores.min()) / ...`) post-processes results, it fits no preprocessing.
_RESULT_WORDS = {"pred", "preds", "prediction", "predictions", "predicted", "score", "scores", "output", "outputs",
                 "out", "prob", "probs", "proba", "probas", "probability", "probabilities", "logit", "logits",
                 "error", "errors", "err", "loss", "losses", "time", "times", "residual", "residuals", "anomaly",
                 "submit", "submission", "result", "results", "metric", "metrics", "acc", "accuracy", "auc"}


def _is_result(node: cst.BaseExpression) -> bool:
    return any(set(name_tokens(n.replace(".", "_"))) & _RESULT_WORDS for n in names_read(node))


def _is_data(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.Name, cst.Attribute, cst.Subscript))


def _stored_as_data(prog, target: cst.BaseExpression, data: cst.BaseExpression, function) -> bool:
    """The standardised values are written back (`X = (X - m) / s`, `train[:, j] = ...`) or
    stored under a name that says which split they are (`X_test_std = ...`)."""
    if _code(target) == _code(data):
        return True
    if isinstance(target, (cst.Name, cst.Attribute)):
        # The name itself: its flow would give `resid = y_test - test_mean` the split of the
        # very arithmetic being judged.
        return split_of_name(dotted_name(target)) is not None
    return prog.splits.split_of(target, function) is not None


def _bound_statistics(statement: cst.Assign) -> list:
    """(name, value) pairs a statement binds: `mean = X.mean(0)`, `mean, std = X.mean(0), X.std(0)`."""
    target, value = statement.targets[0].target, statement.value
    name = dotted_name(target)
    if name is not None:
        return [(name, value)]
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and \
            len(target.elements) == len(value.elements):
        return [(dotted_name(t.value), v.value) for t, v in zip(target.elements, value.elements)
                if dotted_name(t.value)]
    return []


def _standardised_parameter(info) -> Optional[str]:
    """The parameter a helper returns standardised by its own statistics
    (`def standardize(x): return (x - x.mean(0)) / x.std(0)`), if any."""
    for statement in statements(info.node.body):
        if isinstance(statement, cst.Return) and statement.value is not None:
            data = standardised_rows(statement.value)
            if isinstance(data, cst.Name) and data.value in info.params:
                return data.value
    return None


def _argument_for(info, call: cst.Call, bound: bool, parameter: str) -> Optional[cst.BaseExpression]:
    params = info.positional if bound or info.cls is None else info.params
    for name, arg in zip(params, [a for a in call.args if a.keyword is None and not a.star]):
        if name == parameter:
            return arg.value
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == parameter:
            return arg.value
    return None


def _eval_split(prog, data: cst.BaseExpression, function) -> Optional[str]:
    if _is_result(data):
        return None
    split = prog.splits.split_of(data, function)
    return split if split in EVAL_SPLITS or split == MIXED else None


def _code(node: Optional[cst.CSTNode]) -> Optional[str]:
    return cst.Module([]).code_for_node(node).strip() if node is not None else None
