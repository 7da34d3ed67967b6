"""Oversampling before the split: `SMOTE().fit_resample(X, y)` (or imbalanced-learn's other
oversamplers) on all the rows, then the resampled rows split into train/validation/test.
Synthetic minority rows are interpolated between neighbours, and random oversampling repeats
rows: both put rows made from the evaluation rows into the training part (and the other way
round), so the evaluation scores are inflated. TRN202 follows the resampled data to the split
like any other fitted data. Undersamplers only drop rows and are left alone."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name

# imbalanced-learn's modules whose samplers add rows (`SMOTE`, `ADASYN`, `RandomOverSampler`,
# and the combinations `SMOTETomek`/`SMOTEENN` that oversample first).
OVERSAMPLING_MODULES = ("imblearn.over_sampling.", "imblearn.combine.")
RESAMPLE_METHODS = ("fit_resample", "fit_sample")  # `fit_sample`: imbalanced-learn before 0.4


# Names no other common library gives a class: a notebook that calls `SMOTE(...)` with the
# import in a cell since deleted (or run in a session that had it) still means this sampler.
_OVERSAMPLER_NAMES = frozenset({"SMOTE", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "KMeansSMOTE", "SMOTENC",
                                "SMOTEN", "RandomOverSampler", "SMOTETomek", "SMOTEENN"})


def _oversampler_call(model, call: cst.Call) -> Optional[str]:
    qualified = model.qualify_call(call)
    if qualified and qualified.startswith(OVERSAMPLING_MODULES):
        return qualified.rsplit(".", 1)[-1]
    if qualified is None and isinstance(call.func, cst.Name) and call.func.value in _OVERSAMPLER_NAMES \
            and _unbound(model, call.func.value):
        return call.func.value
    return None


def _unbound(model, name: str) -> bool:
    """`name` is bound nowhere in the file (no import, definition or assignment), and any
    star import is imbalanced-learn's: the name can only mean the library's class."""
    if any(not star.startswith("imblearn") for star in model.imports.stars) or model.bindings.get(name):
        return False
    return not any(c.name == name for c in model.class_info.values()) and \
        not any(i.name == name for i in model.function_info.values())


def oversampler(model, receiver: cst.BaseExpression, function) -> Optional[str]:
    """The oversampler class a `.fit_resample` receiver is: built in place or bound to a name."""
    if isinstance(receiver, cst.Call):
        return _oversampler_call(model, receiver)
    name = dotted_name(receiver)
    if not name:
        return None
    found = None
    for b in model.bindings_of(name, function):
        if b.kind == "assign" and b.index is None and isinstance(b.value, cst.Call):
            found = _oversampler_call(model, b.value) or found
    return found


def oversamplings(model) -> Iterator[tuple]:
    """(site, sampler class, data expression) for each oversampler's `fit_resample(X, y)`."""
    for site in model.calls:
        if site.method not in RESAMPLE_METHODS or site.receiver is None:
            continue
        kind = oversampler(model, site.receiver, site.function)
        plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
        keyword = [a.value for a in site.node.args if a.keyword is not None and a.keyword.value == "X"]
        data = (plain or keyword or [None])[0]
        if kind and data is not None:
            yield site, kind, data
