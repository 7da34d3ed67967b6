"""Data factories whose split is chosen by the caller's argument.

`def build_dataset(is_train, args): ds = CIFAR100(root, train=is_train); return ds, 100` builds
the test split when a caller passes `is_train=False`, but the call `build_dataset(is_train=False,
args=args)` names no split and the function's own code declares none: the parameter decides.
`parameter_splits` summarises, for a function, which returned position holds data whose split
keyword (`train=`, `split=`, `mode=`...) is bound to which parameter; `split_by_arguments` reads
a call of that function with the caller's literal argument substituted (in the same file or,
through the project summary `split_params`, in another module).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.splits import _PASS_THROUGH_CALLS, _SPLIT_KEYWORDS, TEST, TRAIN, split_of_string

_MAX_HOPS = 6
# A plain flag that says "training data" when true (`build_dataset(is_train=False)`).
_TRAIN_KEYWORDS = {"train", "is_train", "training", "is_training"}


def _callee_last(call: cst.Call) -> Optional[str]:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def _parameter_keyword(model, call: cst.Call, params: set) -> Optional[tuple]:
    """(keyword, parameter) when the data call hands a parameter of the enclosing function to
    a split keyword: `CIFAR100(root, train=is_train)`, `VOC(split=split)`. A `train=` flag of
    the file's own dataset class counts too: the class itself then decides what False means,
    so only a split string handed to it says the split (see `_value_split`)."""
    for _ in range(_MAX_HOPS):
        last = _callee_last(call)
        for arg in call.args:
            if arg.keyword is None or not isinstance(arg.value, cst.Name) or arg.value.value not in params:
                continue
            key = arg.keyword.value
            if key in _SPLIT_KEYWORDS or (key in _TRAIN_KEYWORDS and last and last[:1].isupper()
                                          and last not in model.class_info):
                return key, arg.value.value
        if last not in _PASS_THROUGH_CALLS:
            return None
        data = [a.value for a in call.args if a.keyword is None and not a.star][:1]
        if not data or not isinstance(data[0], cst.Call):
            return None
        call = data[0]
    return None


def _data_call(model, node, function) -> list:
    """The calls that build what `node` holds inside `function`: itself, or each plain binding."""
    if isinstance(node, cst.Call):
        return [node]
    if isinstance(node, cst.Name):
        found = []
        for binding in model.bindings_of(node.value, function):
            if binding.function is not function or binding.kind != "assign" or binding.index is not None:
                return []
            if isinstance(binding.value, cst.Call):
                found.append(binding.value)
        return found
    return []


def parameter_splits(model, info) -> Optional[tuple]:
    """(tuple length or None for a single value, {position (0 for a single value): (keyword,
    parameter, the parameter's positional index or None)}) for a function whose returned data
    takes its split from a parameter; None when none does."""
    params = set(info.params)
    if not params or not info.returns:
        return None
    lengths, kinds = set(), {}
    for ret in info.returns:
        value = ret.value
        if value is None:
            return None
        if isinstance(value, (cst.Tuple, cst.List)):
            if any(isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            lengths.add(len(value.elements))
            elements = [e.value for e in value.elements]
        else:
            lengths.add(None)
            elements = [value]
        for position, element in enumerate(elements):
            for call in _data_call(model, element, info.node):
                found = _parameter_keyword(model, call, params)
                if found is not None:
                    key, param = found
                    positional = info.positional
                    kinds[position] = (key, param, positional.index(param) if param in positional else None)
    if len(lengths) != 1 or not kinds:
        return None
    return lengths.pop(), kinds


def _value_split(key: str, value) -> Optional[str]:
    if isinstance(value, cst.SimpleString):
        try:
            text = value.evaluated_value
        except (SyntaxError, ValueError):
            return None
        return split_of_string(text) if isinstance(text, str) else None
    if key in _TRAIN_KEYWORDS and isinstance(value, cst.Name) and value.value in ("True", "False"):
        return TRAIN if value.value == "True" else TEST
    return None


def split_by_arguments(found: Optional[tuple], call: cst.Call, index: Optional[int],
                       arity: Optional[int]) -> Optional[str]:
    """The split that `call` (of a function summarised as `found`) hands back at `index` of an
    unpacking of `arity` elements (`index` None: the value itself), from the literal the caller
    passes to the deciding parameter (`is_train=False`: test; `split="val"`: val)."""
    if found is None or not isinstance(call, cst.Call):
        return None
    length, kinds = found
    if length is None:
        if index is not None:
            return None
        position = 0
    else:
        if index is None or (arity is not None and arity != length):
            return None
        position = index + length if index < 0 else index
    if position not in kinds:
        return None
    key, param, at = kinds[position]
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if any(a.star for a in call.args):
        return None
    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == param), None)
    if value is None and at is not None and at < len(positional):
        value = positional[at]
    return _value_split(key, value) if value is not None else None


def project_parameter_splits(model) -> dict:
    """{top-level function: its `parameter_splits`} for a module's summary."""
    table = {}
    for info in model.function_info.values():
        if info.parent is None and info.cls is None and info.returns:
            found = parameter_splits(model, info)
            if found is not None:
                table[info.name] = found
    return table
