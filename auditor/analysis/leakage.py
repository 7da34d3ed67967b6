"""Data that learned statistics from every row, followed to the point where it is split.

TRN202 asks: after a transformer is fitted on data that is not yet split (or statistics are
computed by hand over all rows), does that data, or anything made from it, reach a split?
The answer follows names forward through one scope in source order (a notebook is one
scope): a name bound from fitted data holds fitted data (`pd.DataFrame(X_scaled)`,
`np.asarray(...)`, `torch.tensor(...)`, `.values`, `.to_numpy()`, `df[cols] = ...` all
keep it); a name rebound from anything else no longer does. Sizes and shapes read from the
data (`len(X)`, `X.shape[0]`) are not the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.file_round_trips import read_file, written_data
from auditor.analysis.names import dotted_name
from auditor.analysis.result_use import names_assigned, names_read, statements
from auditor.analysis.row_cuts import held_out_cut
from auditor.analysis.splits import EVAL_SPLITS, TRAIN, _CV_SPLITTERS, names_training, split_of_name
from auditor.analysis.model import KindTable, syntactic_children

SPLITTING_FUNCTIONS = {"train_test_split", "random_split"}
# Functions that split their data into folds themselves: a scaler fitted on `X` before
# `cross_val_score(clf, X, y)` has seen every validation fold.
CV_FUNCTIONS = {"cross_val_score", "cross_validate", "cross_val_predict", "learning_curve", "validation_curve",
                "permutation_test_score"}
# Forecasting models' backtests (darts): the series is cut into expanding training windows and
# the forecasts of what follows each one are scored, as a time-series cross-validation does.
BACKTEST_METHODS = {"historical_forecasts", "backtest"}
_CV_SEARCHES = {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV"}
# Reading these from data reads its size or layout, not its values.
_LAYOUT_ATTRIBUTES = {"shape", "columns", "index", "dtype", "dtypes", "size", "ndim", "device", "name", "names"}
_LAYOUT_CALLS = {"len", "range", "int", "float", "print", "type", "isinstance", "str", "repr", "id"}
# Reductions that compute a statistic of the rows (`X.mean(0)`, `df["a"].std()`).
_STATISTICS = {"mean", "std", "var", "min", "max", "median", "quantile", "nanmean", "nanstd", "nanvar",
               "nanmin", "nanmax", "nanmedian", "amin", "amax"}


@dataclass
class Split:
    node: cst.CSTNode  # the splitting call or slice
    what: str  # how it splits, for the message: `train_test_split()`, `X[n:]`
    data: str  # the fitted data as it reaches the split
    # The split is made inside a call that also fits a model on each part (`cross_val_score`,
    # `GridSearchCV.fit`): a transformer fitted on the raw data and never applied before it
    # is not in the folds.
    internal: bool = False


def reads(node: Optional[cst.CSTNode], names: set) -> Optional[str]:
    """The first of `names` whose values `node` reads (not its length or shape), or None."""
    if node is None or not names:
        return None
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)  # type checks: isinstance against libcst's ABCs is slow
        if kind is cst.Name or kind is cst.Attribute:
            if kind is cst.Attribute and current.attr.value in _LAYOUT_ATTRIBUTES:
                continue
            name = dotted_name(current)
            if name is not None and name in names:
                return name
            if kind is cst.Attribute:
                stack.append(current.value)
            continue
        if kind is cst.Call and dotted_name(current.func) in _LAYOUT_CALLS:
            continue
        if kind is cst.Subscript:
            stack.append(current.value)  # `X[idx]` reads X; the index is not data
            continue
        if kind is cst.Lambda or _SUITE[kind]:
            continue
        stack.extend(syntactic_children(current))
    return None


_SUITE = KindTable(cst.BaseSuite)


def row_range(node: cst.BaseExpression) -> bool:
    """`X[:n]`, `df[a:b]`, `X[n:, 0]`: a range of the rows (a part of the data, as a split
    is), not `X[:, 0]` (every row of one column) nor `df["col"]`."""
    if not isinstance(node, cst.Subscript) or not node.slice:
        return False
    first = node.slice[0].slice
    return isinstance(first, cst.Slice) and (first.lower is not None or first.upper is not None)


def row_statistics(value: cst.BaseExpression) -> Optional[str]:
    """The source text of `standardised_rows(value)`, if any."""
    data = standardised_rows(value)
    return _code(data) if data is not None else None


def standardised_rows(value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The data an expression standardises with statistics over all of its rows, as a node:
    `(X - X.mean(0)) / X.std(0)`, `(x - x.min()) / (x.max() - x.min())`, `X / np.max(np.abs(X))`.
    Per-row statistics (`axis=1`, `dim=-1`, `keepdims=True`) are a per-sample normalisation,
    not a fit."""
    if not isinstance(value, cst.BinaryOperation):
        return None
    operands = []
    stack: list = [value]
    reduced = []
    scaled = []  # data divided by its largest magnitude (`X / np.max(np.abs(X))`): a MaxAbsScaler
    centred = False  # `X - X.mean(0)`: a scale alone (`pi / pi.max()`) is as often data synthesis
    while stack:
        current = stack.pop()
        if isinstance(current, cst.BinaryOperation):
            centred = centred or isinstance(current.operator, cst.Subtract)
            stack.extend((current.left, current.right))
            continue
        operands.append(current)
        for call in _calls(current):
            statistic = row_statistic(call)
            if statistic is not None:
                reduced.append(statistic[0])
                if statistic[1]:
                    scaled.append(statistic[0])
    for data in reduced if centred else scaled:
        text = _code(data)
        if text and any(_code(o) == text for o in operands):
            return data
    return None


# Functions that standardise their argument with statistics of its rows, as a fitted
# scaler would (`zscore(df[col])`, `preprocessing.scale(X)`); `normalize` rescales each row
# by itself and is not one. The positional index of each one's `axis`, if it has one there.
STANDARDISING_FUNCTIONS = {
    "scipy.stats.zscore": 1, "scipy.stats.mstats.zscore": 1, "sklearn.preprocessing.scale": 1,
    "sklearn.preprocessing.minmax_scale": None, "sklearn.preprocessing.maxabs_scale": None,
    "sklearn.preprocessing.robust_scale": None, "sklearn.preprocessing.power_transform": None,
    "sklearn.preprocessing.quantile_transform": None,
}


def standardising_call(model, call: cst.Call) -> Optional[tuple]:
    """(data, function name) when `call` standardises data over its rows with one of
    STANDARDISING_FUNCTIONS: `zscore(X)`, `scale(X, axis=0)`, or pandas' `X.apply(zscore)`
    (each column over its rows). None for `axis=1` (each row by itself) or anything else."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("apply", "transform") and call.args \
            and call.args[0].keyword is None and _standardiser(model, call.args[0].value) is not None:
        rest = [a for a in call.args[1:] if a.keyword is not None and a.keyword.value == "axis"]
        return (func.value, _standardiser(model, call.args[0].value)) if _over_rows(rest) else None
    name = _standardiser(model, func)
    if name is None:
        return None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    data = positional[0].value if positional else next(
        (a.value for a in call.args if a.keyword is not None and a.keyword.value in ("X", "a")), None)
    axis_at = STANDARDISING_FUNCTIONS[model.qualify(func)]
    axis = [a for a in call.args if a.keyword is not None and a.keyword.value == "axis"] + \
        ([positional[axis_at]] if axis_at is not None and len(positional) > axis_at else [])
    if data is None or not _over_rows(axis):
        return None
    return data, name


def _standardiser(model, node: cst.BaseExpression) -> Optional[str]:
    qualified = model.qualify(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    return qualified.rsplit(".", 1)[-1] if qualified in STANDARDISING_FUNCTIONS else None


_ARRAY_MODULES = {"np", "numpy", "torch", "jnp", "pd", "tf"}
_MAGNITUDES = {"abs", "absolute", "fabs"}


def row_statistic(call: cst.Call) -> Optional[tuple]:
    """(data, of magnitudes?) when `call` reduces data over its rows: `X.mean(0)`,
    `np.max(np.abs(X))`, `torch.std(X, dim=0)`; None for per-row reductions or anything else."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in _STATISTICS:
        return None
    if isinstance(func.value, cst.Name) and func.value.value in _ARRAY_MODULES:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if not positional:
            return None
        data, rest = positional[0].value, [a for a in call.args if a is not positional[0]]
        if not _over_rows(rest):
            return None
    else:
        data = func.value
        if not _over_rows(list(call.args)):
            return None
    magnitude = False
    if isinstance(data, cst.Call) and isinstance(data.func, cst.Attribute) and data.func.attr.value in _MAGNITUDES:
        magnitude = True  # `np.abs(X)` or `X.abs()`
        inner = [a.value for a in data.args if a.keyword is None]
        data = inner[0] if isinstance(data.func.value, cst.Name) and data.func.value.value in _ARRAY_MODULES \
            and inner else data.func.value
    return data, magnitude and func.attr.value in ("max", "amax")


def _over_rows(args: list) -> bool:
    """No axis (all values), or axis 0. `keepdims=True` without an axis is a per-sample
    normalisation (`img.mean(keepdims=True)`); with `axis=0` it is over the rows."""
    axis = None
    keepdims = False
    for arg in args:
        key = arg.keyword.value if arg.keyword is not None else None
        if key in ("keepdims", "keepdim"):
            keepdims = True
        elif key in (None, "axis", "dim"):
            if axis is not None or not (isinstance(arg.value, cst.Integer) and arg.value.value == "0"):
                return False
            axis = 0
    return axis == 0 or not keepdims


def _calls(node: cst.CSTNode) -> Iterator[cst.Call]:
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Call:
            yield current
        if kind is cst.Lambda or _SUITE[kind]:
            continue
        stack.extend(syntactic_children(current))


def _code(node: cst.CSTNode) -> Optional[str]:
    try:
        return cst.Module(body=[]).code_for_node(node)
    except Exception:  # pragma: no cover - libcst renders every expression it parsed
        return None


def is_cv_splitter(model, receiver: cst.BaseExpression, function) -> bool:
    """`KFold(5).split(X)` or `kf.split(X)` with `kf = StratifiedKFold(...)`."""
    if isinstance(receiver, cst.Call):
        return (dotted_name(receiver.func) or "").rsplit(".", 1)[-1] in _CV_SPLITTERS
    name = dotted_name(receiver)
    if name is None:
        return False
    return any(isinstance(b.value, cst.Call) and (dotted_name(b.value.func) or "").rsplit(".", 1)[-1]
               in _CV_SPLITTERS for b in model.bindings_of(name, function))


def _is_cv_search(model, receiver: cst.BaseExpression, function) -> bool:
    """`GridSearchCV(...).fit(X, y)` or `search.fit(X, y)` with `search = GridSearchCV(...)`."""
    if isinstance(receiver, cst.Call):
        return (dotted_name(receiver.func) or "").rsplit(".", 1)[-1] in _CV_SEARCHES
    name = dotted_name(receiver)
    return name is not None and any(
        isinstance(b.value, cst.Call) and (dotted_name(b.value.func) or "").rsplit(".", 1)[-1] in _CV_SEARCHES
        for b in model.bindings_of(name, function))


def split_in(model, statement: cst.CSTNode, tainted: set, function,
             methods: Optional[dict] = None) -> Optional[Split]:
    """Whether this statement splits data holding fitted values. `methods`: the class's
    methods by name, for `self.test = self._batchify(test_idx)` where `_batchify` reads
    the fitted `self.` attribute."""
    for call in _calls(statement if not isinstance(statement, cst.BaseCompoundStatement)
                       else getattr(statement, "iter", None) or cst.Name("_")):
        func = call.func
        last = func.attr.value if isinstance(func, cst.Attribute) else (dotted_name(func) or "")
        splitting = last in SPLITTING_FUNCTIONS or last in CV_FUNCTIONS or (
            last == "split" and isinstance(call.func, cst.Attribute) and is_cv_splitter(model, call.func.value, function)) \
            or (last == "fit" and isinstance(call.func, cst.Attribute) and _is_cv_search(model, call.func.value, function))
        if last in BACKTEST_METHODS and isinstance(func, cst.Attribute):
            series = [a.value for a in call.args if (a.keyword is None and not a.star)
                      or (a.keyword is not None and a.keyword.value == "series")][:1]
            hit = reads(series[0], tainted) if series else None
            if hit:
                return Split(call, f"{last}()", hit)
        if not splitting:
            continue
        for arg in call.args:
            if arg.keyword is None and not arg.star:
                hit = reads(arg.value, tainted)
                if hit:
                    return Split(call, f"{last}()", hit, internal=last in CV_FUNCTIONS or last == "fit")
    if not isinstance(statement, cst.Assign):
        return None
    value = _unwrapped(statement.value)
    targets = names_assigned(statement)
    named = {split_of_name(n) for n in targets}
    # `X_test = X_scaled[n:]`, `X_te = X_scaled[test_idx]`: rows of fitted data named as
    # evaluation data; also one of a tuple's pairs (`X_test, y_test = X[n:], y[n:]`).
    for part, rows in _named_parts(statement.targets[0].target, value):
        if split_of_name(part) in EVAL_SPLITS:
            found = _evaluation_rows(_unwrapped(rows), tainted)
            if found is not None:
                return found
            # `test_dataset = TensorDataset(X[n:], y[n:])`: the rows handed to a dataset
            # (or any container) built as evaluation data
            for arg in rows.args if isinstance(rows, cst.Call) else ():
                found = _evaluation_rows(_unwrapped(arg.value), tainted) if not arg.star else None
                if found is not None:
                    return found
        # `X_tr = X[:n]` ... `X_ho = X[n:]`: rows cut off from the rows kept for training
        # are held out, whatever their name says.
        elif split_of_name(part) != TRAIN and held_out_cut(model, _unwrapped(rows), function, names_training):
            found = _evaluation_rows(_unwrapped(rows), tainted)
            if found is not None:
                return found
    # `if train_flag: self.data = data_all[:n]` after statistics of `data_all`: the part a
    # dataset object keeps is chosen by its split flag (a method of a class; a whole name or
    # attribute, not a column written into a covariate table).
    if isinstance(value, cst.Subscript) and isinstance(statement.targets[0].target, (cst.Name, cst.Attribute)) \
            and model.class_of(function) is not None and _under_split_flag(model, statement):
        found = _evaluation_rows(value, tainted)
        if found is not None and any(isinstance(e.slice, cst.Slice) for e in value.slice):
            return found
    # `self.data_x = data[border1:border2]` with `border1 = border1s[self.set_type]`: the rows
    # of the part a dataset object is built for, chosen from per-split bounds.
    found = _rows_of_chosen_part(model, value, tainted, function)
    if found is not None:
        return found
    if not isinstance(value, cst.Call):
        return None
    # `test_set = Subset(dataset, test_idx)`, `valid_loader = DataLoader(dataset,
    # sampler=SubsetRandomSampler(valid_idx))`: evaluation rows picked out of fitted data.
    if named & set(EVAL_SPLITS):
        found = _subset_of(value, tainted)
        if found is not None:
            return found
    # `train, val, test = split_by_ratio(data, 0.1, 0.2)`: one call hands back the parts,
    # named as training and evaluation data.
    if isinstance(statement.targets[0].target, (cst.Tuple, cst.List)) and TRAIN in named \
            and named & set(EVAL_SPLITS):
        for arg in value.args:
            if arg.keyword is None and not arg.star:
                hit = reads(arg.value, tainted)
                if hit:
                    return Split(value, f"{dotted_name(value.func) or 'a call'}()", hit)
        # `train, val = series.split_after(0.8)` (darts), `train, test = df.randomSplit([.8, .2])`:
        # a method of the fitted data hands back its own parts.
        if isinstance(value.func, cst.Attribute):
            hit = reads(value.func.value, tainted)
            if hit:
                return Split(value, f"{_code(value.func) or 'a method'}()", hit)
    # `self.test = self._batchify(test_idx)`: evaluation rows selected by an evaluation index
    # set, from fitted data read directly or by a method of the same class.
    if named & set(EVAL_SPLITS) and not _reduces(value) and any(
            split_of_name(dotted_name(a.value)) in EVAL_SPLITS for a in value.args if a.keyword is None):
        hit = next((h for h in (reads(a.value, tainted) for a in value.args) if h), None)
        callee = dotted_name(value.func) or ""
        if hit is None and methods and callee.startswith("self.") and callee[5:] in methods:
            used = names_read(methods[callee[5:]].body) & tainted
            hit = min(used) if used else None
        if hit:
            return Split(value, f"{callee or 'a call'}()", hit)
    return None


def _reduces(call: cst.Call) -> bool:
    """`np.mean(errors_val)`, `sum(losses_val)`: a statistic of the values, not rows of them."""
    last = call.func.attr.value if isinstance(call.func, cst.Attribute) else dotted_name(call.func)
    return last in _STATISTICS or last in ("sum", "len", "abs", "sqrt", "nansum", "average", "norm", "item")


def _named_parts(target: cst.BaseExpression, value: cst.BaseExpression) -> list:
    """(name, value) for `name = value`, or for each pair of `a, b = va, vb`."""
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
        if len(target.elements) != len(value.elements):
            return []
        return [(dotted_name(t.value), v.value) for t, v in zip(target.elements, value.elements)
                if dotted_name(t.value)]
    name = dotted_name(target)
    return [(name, value)] if name else []


def _evaluation_rows(value: cst.BaseExpression, tainted: set) -> Optional[Split]:
    """A slice of fitted data, or its rows picked by an evaluation index (`X[test_idx]`)."""
    if not isinstance(value, cst.Subscript):
        return None
    if any(isinstance(e.slice, cst.Slice) or isinstance(e.slice, cst.Index)
           and (split_of_name(dotted_name(e.slice.value)) in EVAL_SPLITS or _row_mask(e.slice.value))
           for e in value.slice):
        hit = reads(value.value, tainted)
        if hit:
            return Split(value, _code(value) or "a slice", hit)
    return None


_SUBSET_SAMPLERS = {"SubsetRandomSampler", "SubsetSampler", "SubsetSequentialSampler"}


def _subset_of(call: cst.Call, tainted: set) -> Optional[Split]:
    """`Subset(data, idx)`, or a loader over `data` drawing from a subset sampler."""
    last = (dotted_name(call.func) or "").rsplit(".", 1)[-1]
    plain = [a.value for a in call.args if a.keyword is None and not a.star]
    if not plain:
        return None
    if last == "Subset" and len(plain) >= 2:
        hit = reads(plain[0], tainted)
        return Split(call, "Subset()", hit) if hit else None
    sampler = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "sampler"), None)
    if last == "DataLoader" and isinstance(sampler, cst.Call) and \
            (dotted_name(sampler.func) or "").rsplit(".", 1)[-1] in _SUBSET_SAMPLERS:
        hit = reads(plain[0], tainted)
        return Split(call, f"{_code(sampler.func) or 'a sampler'}()", hit) if hit else None
    return None


def _row_mask(node: cst.BaseExpression) -> bool:
    """A boolean row mask: `df["date"] >= cutoff`, `(a > 0) & (b < 1)`, `~is_train`."""
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.BitInvert):
        return _row_mask(node.expression) or isinstance(node.expression, (cst.Name, cst.Attribute))
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.BitAnd, cst.BitOr)):
        return _row_mask(node.left) and _row_mask(node.right)
    return False


_FLAG_WORDS = {"train", "training", "is_train", "train_flag", "is_training", "train_mode"}


def _under_split_flag(model, statement: cst.CSTNode) -> bool:
    """The statement is in a branch of an `if` that tests a split flag (`if train_flag:`,
    `if self.train:`, `if mode == "train":`, `if split == "test":`)."""
    for ancestor in model.ancestors(statement):
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
            return False
        if not isinstance(ancestor, cst.If):
            continue
        test = ancestor.test
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test = test.expression
        name = dotted_name(test) if isinstance(test, (cst.Name, cst.Attribute)) else None
        if name is not None and name.rsplit(".", 1)[-1].lower() in _FLAG_WORDS:
            return True
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
                and isinstance(test.comparisons[0].operator, (cst.Equal, cst.NotEqual)) \
                and isinstance(test.comparisons[0].comparator, cst.SimpleString):
            text = test.comparisons[0].comparator.value.strip("'\"")
            if split_of_name(text, alone=True) is not None:
                return True
    return False


def _rows_of_chosen_part(model, value: cst.BaseExpression, tainted: set, function) -> Optional[Split]:
    """A slice of fitted data whose bounds are picked, by a variable index, from a list of
    per-part bounds (`border1s = [0, n_train - seq, n - n_test - seq]`, `border1 =
    border1s[self.set_type]`, then `data[border1:border2]`): the training, validation or
    test part, whichever the object is built for. A slice with plain bounds (the last
    `seq_len` rows for a forecast) is none."""
    if not isinstance(value, cst.Subscript) or len(value.slice) != 1 \
            or not isinstance(value.slice[0].slice, cst.Slice):
        return None
    bounds = value.slice[0].slice
    if not any(_chosen_bound(model, b, function) for b in (bounds.lower, bounds.upper) if b is not None):
        return None
    hit = reads(value.value, tainted)
    return Split(value, _code(value) or "a slice", hit) if hit else None


def _chosen_bound(model, bound: cst.BaseExpression, function, depth: int = 0) -> bool:
    """`bounds[i]` with a list literal of 2+ bounds and a non-literal index, directly or
    through names bound only so."""
    if isinstance(bound, cst.Subscript) and len(bound.slice) == 1 and isinstance(bound.slice[0].slice, cst.Index):
        index = bound.slice[0].slice.value
        if isinstance(index, (cst.Integer, cst.UnaryOperation)):
            return False
        base = bound.value
        if isinstance(base, (cst.List, cst.Tuple)):
            return len(base.elements) >= 2
        name = dotted_name(base)
        values = [b.value for b in model.bindings_of(name, function)] if name else []
        return bool(values) and all(isinstance(v, (cst.List, cst.Tuple)) and len(v.elements) >= 2 for v in values)
    name = dotted_name(bound) if isinstance(bound, (cst.Name, cst.Attribute)) else None
    if name is None or depth > 2:
        return False
    values = [b.value for b in model.bindings_of(name, function)]
    return bool(values) and all(v is not None and _chosen_bound(model, v, function, depth + 1) for v in values)


# Calls that hand back the same rows in another container or dtype: `torch.from_numpy(
# X[n:]).float().to(device)` is still the slice `X[n:]`.
_WRAPPERS = {"from_numpy", "tensor", "as_tensor", "array", "asarray", "FloatTensor", "LongTensor", "Tensor",
             "DataFrame", "Series"}
_SAME_ROWS_METHODS = {"to", "type", "float", "double", "long", "cuda", "cpu", "astype", "copy", "detach",
                      "reshape", "squeeze", "unsqueeze", "contiguous"}


def _unwrapped(value: cst.BaseExpression) -> cst.BaseExpression:
    for _ in range(16):
        if not isinstance(value, cst.Call):
            break
        func = value.func
        last = func.attr.value if isinstance(func, cst.Attribute) else dotted_name(func)
        if last in _SAME_ROWS_METHODS and isinstance(func, cst.Attribute):
            value = func.value
        elif last in _WRAPPERS and value.args and value.args[0].keyword is None:
            value = value.args[0].value
        else:
            break
    return value


def _appends_to(statement: cst.CSTNode, tainted: set) -> Optional[str]:
    """`windows.append(X[i:i + n])` with fitted `X`: the list now holds fitted data."""
    if not isinstance(statement, cst.Expr) or not isinstance(statement.value, cst.Call):
        return None
    call = statement.value
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("append", "extend", "insert"):
        return None
    name = dotted_name(call.func.value)
    if name is None or not any(reads(a.value, tainted) for a in call.args):
        return None
    return name


def follow_to_split(model, block: cst.CSTNode, source: Optional[cst.CSTNode], seeds: set, function,
                    transformer: Optional[str] = None, needs_transform: bool = False,
                    returns: Optional[list] = None, leaves: Optional[set] = None,
                    methods: Optional[dict] = None, inline: bool = True,
                    writes: Optional[list] = None) -> Optional[Split]:
    """Walk `block` after the statement `source` (from its start when None), carrying the
    fitted names; the first split of fitted data. `needs_transform`: the raw data only leaks
    when `transformer` is later applied (`scaler.fit(X)`, split X, `scaler.transform(X_train)`).
    `returns` collects the `return` statements that hand fitted data to the caller; `leaves`
    the `self.` attributes still holding fitted data at the end. `methods` (the class's
    methods by name): a call `self.method(...)` is followed into the method, one level.
    `writes` collects the names of files the fitted data is written to (`df.to_csv("clean.csv")`);
    reading such a file back in the scope carries the data on."""
    tainted = set(seeds)
    written: set = set()
    started = source is None
    transformed = not needs_transform
    found: Optional[Split] = None
    for statement in statements(block):
        if not started:
            started = statement is source
            continue
        if methods and inline and transformed and found is None:
            inner = _split_in_method(model, statement, tainted, methods)
            if inner is not None:
                return inner
        if returns is not None and isinstance(statement, cst.Return) and transformed \
                and reads(statement.value, tainted):
            returns.append(statement)
        if found is None:
            found = split_in(model, statement, tainted, function, methods)
            if found is None and inline:
                found = _split_in_function(model, statement, tainted)
            if found is not None and transformed:
                return found
            if found is not None and found.internal:
                found = None  # raw data into a cross-validation: the fitted transformer is not in it
        if not transformed and transformer is not None and transformer in names_assigned(statement):
            return None  # `pca = PCA(...)` again: the fitted object is gone
        if not transformed and transformer is not None:
            transformed = any(isinstance(c.func, cst.Attribute) and c.func.attr.value == "transform"
                              and dotted_name(c.func.value) == transformer for c in _calls(statement)
                              if not isinstance(statement, cst.BaseCompoundStatement))
            if transformed and found is not None:
                return found
        if isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call):
            wrote = written_data(model, statement.value, function)
            if wrote is not None and reads(wrote[0], tainted):
                written.add(wrote[1])
                if writes is not None:
                    writes.append(wrote[1])
        if isinstance(statement, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            targets = names_assigned(statement)
            if reads(statement.value, tainted) and not _predicted(statement.value) or (
                    written and statement.value is not None and any(
                    read_file(model, c, function) in written for c in _calls(statement.value))) or (methods and inline and statement.value is not None
                                                   and _method_returns_fitted(model, statement.value, tainted,
                                                                              methods)):
                tainted.update(targets)
            elif not isinstance(statement, cst.AugAssign) and not _partial(statement) \
                    and not _other_branch(model, source, statement):
                tainted.difference_update(targets)
        elif isinstance(statement, cst.For) and reads(statement.iter, tainted):
            tainted.update(names_assigned(statement))
        elif isinstance(statement, cst.For):
            # `for inputs, targets in other_loader:` rebinds the loop names to other data
            tainted.difference_update(names_assigned(statement))
        elif _appends_to(statement, tainted):
            tainted.add(_appends_to(statement, tainted))
        if not tainted and not written:
            return None
    if leaves is not None and transformed:
        leaves.update(n for n in tainted if n.startswith("self."))
    return None


def _predicted(value: Optional[cst.BaseExpression]) -> bool:
    """`data["label"] = KMeans(4).fit_predict(scaled)`: what a model predicts from fitted rows
    (labels, scores) is no transformed copy of them; the frame it is stored in keeps its rows."""
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
        and value.func.attr.value in ("fit_predict", "predict", "predict_proba")


def _split_in_method(model, statement: cst.CSTNode, tainted: set, methods: dict) -> Optional[Split]:
    """`self._split(...)` where the method splits a fitted `self.` attribute, or the fitted
    data handed to it (`self._split_data(framed)`)."""
    if isinstance(statement, cst.BaseCompoundStatement):
        return None
    for call in _calls(statement):
        callee = dotted_name(call.func) or ""
        method = methods.get(callee[5:]) if callee.startswith("self.") else None
        seeds = _method_seeds(method, call, tainted) if method is not None else set()
        if seeds:
            found = follow_to_split(model, method, None, seeds, method, methods=methods, inline=False)
            if found is not None:
                return Split(call, f"{callee}()", found.data)
    return None


def _method_seeds(method: cst.FunctionDef, call: cst.Call, tainted: set) -> set:
    """What holds fitted data inside `method` when `call` runs it: the fitted `self.`
    attributes, and its parameters bound to fitted data."""
    seeds = {n for n in tainted if n.startswith("self.")}
    params = [p.name.value for p in method.params.params][1:]  # after `self`
    plain = [a.value for a in call.args if a.keyword is None and not a.star]
    bound = list(zip(params, plain)) + [(a.keyword.value, a.value) for a in call.args if a.keyword is not None]
    seeds.update(p for p, value in bound if p in params and reads(value, tainted))
    return seeds


def _method_returns_fitted(model, value: cst.BaseExpression, tainted: set, methods: dict) -> bool:
    """`framed = self._data_to_supervised()`: a method of the class that returns data made
    from a fitted `self.` attribute (or a fitted argument) hands the fitted data back."""
    if not isinstance(value, cst.Call):
        return False
    callee = dotted_name(value.func) or ""
    method = methods.get(callee[5:]) if callee.startswith("self.") else None
    seeds = _method_seeds(method, value, tainted) if method is not None else set()
    if not seeds:
        return False
    returns: list = []
    follow_to_split(model, method, None, seeds, method, returns=returns, inline=False)
    return bool(returns)


def _top_level_functions(model) -> dict:
    """name -> FunctionDef for the module's top-level functions defined once."""
    table = model.cache.get("top_level_functions")
    if table is None:
        named: dict = {}
        for info in model.function_info.values():
            if info.parent is None and info.cls is None:
                named.setdefault(info.name, []).append(info)
        table = model.cache["top_level_functions"] = {n: i[0] for n, i in named.items() if len(i) == 1}
    return table


def _split_in_function(model, statement: cst.CSTNode, tainted: set) -> Optional[Split]:
    """`cross_validation(model, X, y, args)` with fitted `X`, where that top-level function of
    the file splits the parameter it receives (`kf.split(X, y)`): followed one level."""
    if isinstance(statement, cst.BaseCompoundStatement):
        return None
    functions = None
    for call in _calls(statement):
        if not isinstance(call.func, cst.Name):
            continue
        if functions is None:
            functions = _top_level_functions(model)
        info = functions.get(call.func.value)
        if info is None:
            continue
        plain = [a for a in call.args if a.keyword is None and not a.star]
        bound = {p: a.value for p, a in zip(info.params, plain)}
        bound.update((a.keyword.value, a.value) for a in call.args if a.keyword is not None)
        seeds = {p for p, value in bound.items() if p in info.params and reads(value, tainted)}
        if not seeds:
            continue
        found = follow_to_split(model, info.node, None, seeds, info.node, inline=False)
        if found is not None:
            return Split(call, f"{call.func.value}()", reads(bound[found.data], tainted) if found.data in bound
                         else found.data, internal=found.internal)
    return None


def _other_branch(model, source: Optional[cst.CSTNode], statement: cst.CSTNode) -> bool:
    """`statement` lies in another branch of an `if` than `source` (`if mode == "A": data =
    load_a()` / `elif ...: data = load_b()`): it never runs after the source, so it does not
    rebind the fitted data."""
    if source is None:
        return False
    for ancestor in model.ancestors(source):
        if not isinstance(ancestor, cst.If):
            continue
        inside = model.is_within(source, ancestor.body)
        if ancestor.orelse is not None and model.is_within(statement, ancestor.orelse) and inside:
            return True
        if not inside and model.is_within(statement, ancestor.body):
            return True
    return False


def _partial(statement: cst.CSTNode) -> bool:
    """`df["a"] = ...` or `X[:, 0] = ...` rebinds part of the data, not all of it."""
    return isinstance(statement, cst.Assign) and all(isinstance(t.target, cst.Subscript)
                                                     for t in statement.targets)
