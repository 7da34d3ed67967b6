"""Data fitted on all its rows: where a transformer is fitted (or statistics are taken) on
data that is not a split's part, the names that then hold it, and the functions that hand
such data back to their callers (TRN202 follows it to a split; the project summary carries
the functions, so that a caller in another module is followed too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from auditor.analysis.imputation import imputations
from auditor.analysis.leakage import follow_to_split, row_range, row_statistic, row_statistics, standardising_call
from auditor.analysis.model import bind_arguments
from auditor.analysis.resampling import oversamplings
from auditor.analysis.names import dotted_name
from auditor.analysis.result_use import names_assigned, names_read, statements
from auditor.analysis.splits import split_of_name


def _keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def _argument(call: cst.Call, name: str, index: int) -> Optional[cst.BaseExpression]:
    arg = _keyword(call, name)
    if arg is None:
        plain = [a for a in call.args if a.keyword is None and not a.star]
        arg = plain[index] if index < len(plain) else None
    return arg.value if arg is not None else None


def _shorten(code: str, limit: int = 60) -> str:
    """Source text for a message, on one line and not too long."""
    text = " ".join(code.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _string_value(node: Optional[cst.BaseExpression]) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except (SyntaxError, ValueError):
            return None
        return value if isinstance(value, str) else None
    return None


FIT_METHODS = ("fit", "fit_transform", "partial_fit")


def fit_sites(prog):
    """(site, transformer, data expression) for every `.fit`-like call on a scikit-learn transformer."""
    for site in prog.model.calls:
        if site.method not in FIT_METHODS or site.receiver is None:
            continue
        transformer = prog.roles.transformer_evidence(site.receiver, site.function)
        data = _argument(site.node, "X", 0)
        if transformer and data is not None:
            yield site, transformer, data



@dataclass
class FittedSource:
    """Data that learned statistics from all its rows, and the names that hold it."""

    node: cst.CSTNode  # where to report
    statement: cst.CSTNode
    function: Optional[cst.FunctionDef]
    what: str  # `StandardScaler is fitted on`, `statistics over all rows are computed on`
    data: str
    seeds: set
    transformer: Optional[str] = None  # the fitted object, when only its later use leaks
    needs_transform: bool = False
    returned: bool = False  # the statement itself returns the fitted data


# Encoders learn a list of categories or labels, not a statistic of the rows: fitting them on
# all rows before the split changes no number (TRN201 still flags one fitted on test data).
CATEGORY_ENCODERS = frozenset({"LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer", "OneHotEncoder",
                               "OrdinalEncoder"})
# Transformers whose fit learns nothing from the rows (only the number of columns): each row
# is transformed by itself, so fitting them on all rows, or on the test rows, leaks nothing.
STATELESS_TRANSFORMERS = frozenset({"PolynomialFeatures", "FunctionTransformer", "Normalizer", "Binarizer",
                                    "HashingVectorizer",
                                    # darts: differencing keeps only the first values, for the inverse;
                                    # static covariates are one row per component, not time rows
                                    "Diff", "Mapper", "InvertibleMapper", "MissingValuesFiller",
                                    "StaticCovariatesTransformer"})


_COLUMN_TRANSFORMERS = {"ColumnTransformer": 1, "make_column_transformer": 0}  # -> the estimator's index


def _encoders_only(model, site) -> bool:
    """A column transformer whose every part is a category encoder, "drop" or "passthrough"
    (`ColumnTransformer([("", OneHotEncoder(), [0])], remainder="passthrough")`): it learns
    category lists only, as the encoders alone do."""
    built = site.receiver
    name = dotted_name(built)
    if name is not None:
        values = [b.value for b in model.bindings_of(name, site.function)]
        built = values[-1] if len(values) == 1 else None
    if not isinstance(built, cst.Call):
        return False
    kind = (dotted_name(built.func) or "").rsplit(".", 1)[-1]
    if kind not in _COLUMN_TRANSFORMERS:
        return False
    index = _COLUMN_TRANSFORMERS[kind]
    if kind == "ColumnTransformer":
        parts = _argument(built, "transformers", 0)
        parts = [e.value for e in parts.elements] if isinstance(parts, (cst.List, cst.Tuple)) else None
    else:
        parts = [a.value for a in built.args if a.keyword is None and not a.star]
    if not parts:
        return False
    estimators = [p.elements[index].value for p in parts
                  if isinstance(p, cst.Tuple) and len(p.elements) > index]
    remainder = _keyword(built, "remainder")
    remainder = remainder.value if remainder is not None else None
    return len(estimators) == len(parts) and all(_learns_categories(e) for e in estimators) and \
        (remainder is None or _learns_categories(remainder))


def _learns_categories(estimator: cst.BaseExpression) -> bool:
    if isinstance(estimator, cst.SimpleString):
        return _string_value(estimator) in ("drop", "passthrough")
    return isinstance(estimator, cst.Call) and \
        (dotted_name(estimator.func) or "").rsplit(".", 1)[-1] in CATEGORY_ENCODERS


def fit_sources(prog):
    model = prog.model
    for site, transformer, data in fit_sites(prog):
        if transformer in CATEGORY_ENCODERS or transformer in STATELESS_TRANSFORMERS or prog.splits.split_of(data, site.function) is not None \
                or row_range(data) or _encoders_only(model, site):
            continue  # fitted on a split (or a range of rows): TRN201's business when it is the wrong one
        raw = dotted_name(data.value if isinstance(data, cst.Subscript) else data)
        statement = site.statement
        outputs = set(names_assigned(statement)) if site.method == "fit_transform" else set()
        what = f"{transformer} is fitted on"
        shown = _shorten(model.code(data), 40)
        if outputs:
            yield FittedSource(site.node, statement, site.function, what, shown, outputs)
        elif site.method == "fit_transform" and isinstance(statement, cst.Return) and site.function is not None:
            # `return scaler.fit_transform(X)`: the fitted data goes straight to the caller.
            yield FittedSource(site.node, statement, site.function, what, shown, set(), returned=True)
            continue
        receiver = dotted_name(site.receiver)
        if receiver is None and site.method == "fit":
            assigned = names_assigned(statement)
            receiver = assigned[0] if len(assigned) == 1 else None
        if raw and receiver and raw not in outputs:
            yield FittedSource(site.node, statement, site.function, what, shown, {raw}, receiver, True)


def statistics_sources(prog):
    """`X = (X - X.mean(0)) / X.std(0)`: a scaler fitted by hand; also in steps
    (`mean = X.mean(0)`, ..., `X = (X - mean) / std`, or `sc = Scaler(mean, std)`, ...,
    `X = sc.transform(X)`)."""
    model = prog.model
    for function in [None, *model.function_info]:
        block = model.module if function is None else function.body
        stats: dict = {}  # name -> (the data it summarises, an object built from statistics?)
        for statement in statements(block):
            if isinstance(statement, cst.Return) and function is not None and statement.value is not None:
                # `return (X - X.mean(0)) / X.std(0)`: the standardised data goes to the caller.
                data = row_statistics(statement.value)
                if data is not None and split_of_name(data.split("[", 1)[0]) is not None:
                    data = None
                data = data or _applies_statistics(statement.value, stats)
                if data is not None:
                    yield FittedSource(statement.value, statement, function, "statistics over all rows are computed on",
                                       data, set(), returned=True)
                continue
            if not isinstance(statement, cst.Assign):
                continue
            data = row_statistics(statement.value)
            if data is not None and split_of_name(data.split("[", 1)[0]) is None:
                yield FittedSource(statement.value, statement, function, "statistics over all rows are computed on",
                              data, _data_targets(statement))
                continue
            targets = names_assigned(statement)
            applied = _applies_statistics(statement.value, stats)
            if applied is not None:
                yield FittedSource(statement.value, statement, function, "statistics over all rows are computed on",
                              applied, _data_targets(statement))
            for target, value in _pairs(statement):
                learned = _statistic_of(value, stats) if value is not None else None
                if learned is not None:
                    stats[target] = learned
                else:
                    stats.pop(target, None)


def _pairs(statement: cst.Assign) -> list:
    """(name, value) for each name a statement binds: `mean, std = X.mean(), X.std()` pairs
    them up; a name bound otherwise (`a, b = f()`) gets None."""
    targets = names_assigned(statement)
    if len(statement.targets) == 1 and len(targets) == 1:
        return [(targets[0], statement.value)]
    target, value = statement.targets[-1].target, statement.value
    if len(statement.targets) == 1 and isinstance(target, (cst.Tuple, cst.List)) and \
            isinstance(value, (cst.Tuple, cst.List)) and len(target.elements) == len(value.elements):
        return [(dotted_name(t.value), v.value) for t, v in zip(target.elements, value.elements)
                if dotted_name(t.value)]
    return [(t, None) for t in targets]


_INDEXERS = {"loc", "iloc", "at", "iat"}


def _data_targets(statement: cst.CSTNode) -> set:
    """Names a statement writes data into: `data.loc[:, col] = ...` writes into `data`."""
    found = set()
    for name in names_assigned(statement):
        head, _, last = name.rpartition(".")
        found.add(head if head and last in _INDEXERS else name)
    return found


def function_sources(prog):
    """`df[col] = zscore(df[col])`, `X = preprocessing.scale(X)`, `df = df.apply(zscore)`:
    a standardising function computes its statistics on all the rows it is given, as a
    fitted scaler would. Only where the call's result is what the statement stores (a
    z-score used to drop outlier rows changes no value)."""
    model = prog.model
    for site in model.calls:
        statement = site.statement
        returned = isinstance(statement, cst.Return) and site.function is not None and statement.value is not None
        if not (isinstance(statement, cst.Assign) or returned) or not _stores(statement.value, site.node):
            continue
        found = standardising_call(model, site.node)
        if found is None or prog.splits.split_of(found[0], site.function) is not None:
            continue
        # `return preprocessing.scale(X)`: the standardised data goes to the caller.
        yield FittedSource(site.node, statement, site.function, f"`{found[1]}()` takes its statistics from all rows of",
                           _shorten(model.code(found[0]), 40), set() if returned else _data_targets(statement),
                           returned=returned)


def imputation_sources(prog):
    """`df["age"] = df["age"].fillna(df["age"].median())`, `df.fillna(df.mean(), inplace=True)`:
    missing values filled with a statistic of all the rows, an imputer fitted by hand."""
    for call, statement, function, data, seeds in imputations(prog.model):
        yield FittedSource(call, statement, function, "missing values are filled with a statistic over all rows of",
                           data, seeds)


def resampling_sources(prog):
    """`X_res, y_res = SMOTE().fit_resample(X, y)` on rows that are no split's part: the
    resampled rows mix synthetic (or repeated) rows made from every row, test rows included."""
    for site, kind, data in oversamplings(prog.model):
        if prog.splits.split_of(data, site.function) is not None or row_range(data):
            continue  # oversampling the training part only is the correct way
        outputs = set(names_assigned(site.statement))
        shown = _shorten(prog.model.code(data), 40)
        if outputs:
            yield FittedSource(site.node, site.statement, site.function, f"{kind} oversamples", shown, outputs)
        elif isinstance(site.statement, cst.Return) and site.function is not None:
            # `return SMOTE().fit_resample(X, y)`: the resampled rows go straight to the caller.
            yield FittedSource(site.node, site.statement, site.function, f"{kind} oversamples", shown, set(),
                               returned=True)


def _stores(value: cst.BaseExpression, call: cst.Call) -> bool:
    """The statement's value is `call`, or `call` wrapped as data (`pd.DataFrame(zscore(X))`)."""
    while value is not call:
        if not isinstance(value, cst.Call) or not value.args or value.args[0].value is None:
            return False
        value = value.args[0].value
    return True


def _statistic_of(value, stats: dict) -> Optional[tuple]:
    """(data, object?) when `value` is a statistic of data over all its rows (`X.mean(0)`,
    `np.max(X)`), or an object built from such statistics (`Scaler(mean, std)`)."""
    if isinstance(value, cst.Call):
        found = row_statistic(value)
        if found is not None:
            if row_range(found[0]):
                return None  # `X[:n_train].mean(0)`: statistics of the first rows, a part
            name = dotted_name(found[0].value if isinstance(found[0], cst.Subscript) else found[0])
            if name is not None and split_of_name(name) is None:
                return name, False
            return None
        if not stats:
            return None  # nothing learned yet that an object could be built from
        used = [stats[n] for n in names_read(value) if n in stats]
        if used and all(isinstance(a.value, (cst.Name, cst.Attribute)) or a.keyword is not None
                        for a in value.args):
            return used[0][0], True
    return None


def _applies_statistics(value, stats: dict) -> Optional[str]:
    """The data when `value` standardises it with statistics taken from it: `(X - mean) / std`,
    `scaler.transform(X)` with `scaler = Scaler(X.mean(0), X.std(0))`."""
    if not stats:
        return None
    read = names_read(value)
    for name, (data, built) in stats.items():
        if name not in read or data not in read:
            continue
        if built and isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
                and dotted_name(value.func.value) == name:
            return data  # `scaler.transform(X)`
        if isinstance(value, cst.BinaryOperation) and _centres(value):
            return data  # `(X - mean) / std`
    return None


def _centres(value: cst.BinaryOperation) -> bool:
    stack: list = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.BinaryOperation):
            if isinstance(current.operator, cst.Subtract):
                return True
            stack.extend((current.left, current.right))
    return False


def follow_source(prog, source: FittedSource, returns: list, leaves: set, writes: Optional[list] = None):
    if source.returned:
        returns.append(source.statement)
        return None
    block = source.function.body if source.function is not None else prog.model.module
    return follow_to_split(prog.model, block, source.statement, source.seeds, source.function,
                           source.transformer, source.needs_transform, returns, leaves,
                           methods_of(prog.model, source.function) or None, writes=writes)


def methods_of(model, function) -> dict:
    """The methods (name -> FunctionDef) of the class `function` is a method of, or {}."""
    info = model.info(function)
    if info is None or info.cls is None or info.parent is not None:
        return {}
    return {name: method.node for name, method in info.cls.methods.items()}


def all_sources(prog) -> list:
    """Every place the file fits a transformer on, or takes statistics of, data that is no split's
    part. Kept on the program: the project summary (phase 1) and TRN202 (phase 2) both ask."""
    found = getattr(prog, "_fitted_sources", None)
    if found is None:
        found = list(fit_sources(prog)) + list(statistics_sources(prog)) + list(function_sources(prog)) \
            + list(imputation_sources(prog)) + list(resampling_sources(prog))
        prog._fitted_sources = found
    return found


def fits_a_part(prog, call: cst.Call, function, value: Optional[cst.BaseExpression]) -> bool:
    """The argument a fitting helper fits is a split's part or a range of rows
    (`normalize_dataset(x_train[..., :d])`): a fit on a part, not on all rows."""
    return value is not None and (row_range(value) or prog.splits.split_of(value, function) is not None)


def fitting_helpers(prog) -> dict:
    """{function: the source it fits} for the file's functions that hand data fitted on all
    its rows back to their caller without splitting it: directly, or by returning what such
    a function of the file returned to them (`load()` -> `prep()` -> `scale_columns()`)."""
    model = prog.model
    helpers: dict = {}
    for source in all_sources(prog):
        if source.function is None or source.function in helpers:
            continue
        returns: list = []
        if follow_source(prog, source, returns, set()) is None and returns:
            helpers[source.function] = source
    found = dict(helpers)
    for _ in range(4):
        if not helpers:
            break
        callers: dict = {}
        for site in model.calls:
            if site.qualname is not None or site.function is None or site.function in found \
                    or not isinstance(site.statement, cst.Assign):
                continue
            resolved = prog.flow.resolve(site)
            if resolved is None or resolved[0] not in helpers:
                continue
            inner = helpers[resolved[0]]
            info = model.info(resolved[0])
            if info is not None and inner.data in info.params and fits_a_part(
                    prog, site.node, site.function, bind_arguments(info, site.node, resolved[1]).get(inner.data)):
                continue
            returns: list = []
            split = follow_to_split(model, site.function.body, site.statement, set(names_assigned(site.statement)),
                                    site.function, returns=returns)
            if split is None and returns:
                callers.setdefault(site.function, inner)
        found.update(callers)
        helpers = callers
    return found


def fitted_returns(prog) -> dict:
    """{name: (what is fitted, on which data, the parameter fitted or None, its position or None)}
    for the module's top-level functions that return data fitted on all its rows (the
    project summary's entry: a caller in another module that splits the result leaks)."""
    found = {}
    for function, source in fitting_helpers(prog).items():
        info = prog.model.info(function)
        if info is None or info.parent is not None or info.cls is not None:
            continue
        positional = list(info.positional)
        parameter = source.data if source.data in info.params else None
        index = positional.index(parameter) if parameter in positional else None
        found[info.name] = (source.what, source.data, parameter, index)
    return found
