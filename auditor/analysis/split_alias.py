"""Names that hold the test split on some path, whatever they are called.

`val_set = test_set` in the branch taken when no validation data is configured makes every
later `val_loader = DataLoader(val_set)` the test data on that path: the name says
"validation", the flow says "test". So does a validation name built from a constructor that
declares the test split (`val_loader = DataLoader(CIFAR10(root, train=False))`). `SplitResolver.split_of` reads the name (and a name's
bindings only when the name says nothing), so it cannot see this; `test_alias` follows the
plain copies and pass-through wrappers back to a binding that copies the test split.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from auditor.analysis.model import Binding, FileModel
from auditor.analysis.names import dotted_name
from auditor.analysis.splits import _PASS_THROUGH_CALLS, TEST, TRAIN, SplitResolver, declared_split_of_call, \
    split_of_name
from auditor.analysis.uses import source_order
from auditor.analysis.wrapper_datasets import wrapped_by, wrapper_classes

_MAX_DEPTH = 6
_EXITS = {"exit", "sys.exit", "quit", "os._exit"}


def test_alias(model: FileModel, splits: SplitResolver, node: Optional[cst.BaseExpression], function,
               at: cst.CSTNode, depth: int = 0, elsewhere: Optional[Callable] = None,
               callers: Optional[Callable] = None) -> Optional[Binding]:
    """The binding that copies the test split into the data `node` reads at `at`
    (`val_set = test_set` behind `val_loader = DataLoader(val_set, ...)`), or None.

    Only plain copies count (a name or attribute whose split is test, or a call that declares
    the test split, through pass-through wrappers such as `DataLoader`/`Subset`/`tqdm`); a binding counts only where it can reach
    `at` (before it, or in a loop around it) and its branch does not end in a return or exit.
    So does a position of what a loader factory returns (`training_data, validation_data =
    prepare_dataloader(opt)` returning `trainloader, testloader`): of this file, read here; of
    another module of the project, asked of `elsewhere(call, index, arity)`. So does a parameter
    that a caller hands the test split (`def fit(model, train_loader, val_loader)` called as
    `fit(model, train_loader, test_loader)`), asked of `callers(function, parameter)`."""
    if node is None or depth > _MAX_DEPTH:
        return None
    if isinstance(node, cst.Call):
        func = node.func
        last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) \
            else None
        wrapped = wrapped_by(node, wrapper_classes(model))  # `DatasetWrapper(val_set)`: its rows
        if last not in _PASS_THROUGH_CALLS and wrapped is None:
            return None
        data = [wrapped] if wrapped is not None else \
            [a.value for a in node.args if a.keyword is None and not a.star][:1] + \
            [a.value for a in node.args if a.keyword is not None and a.keyword.value == "dataset"]
        for value in data:
            found = test_alias(model, splits, value, function, at, depth + 1, elsewhere, callers)
            if found is not None:
                return found
        return None
    if not isinstance(node, (cst.Name, cst.Attribute)):
        return None
    name = dotted_name(node)
    if name is None or split_of_name(name) in (TRAIN, TEST):
        return None  # test data by its name is the direct case; a training name is another story
    for binding in model.bindings_of(name, function):
        if binding.kind == "param" and callers is not None and "." not in name:
            if callers(binding.function, binding.target):
                return binding
            continue
        if binding.kind != "assign" or not _reaches(model, binding.statement, at):
            continue
        if binding.index is not None:
            # `training_data, validation_data = prepare_dataloader(opt)` where the function
            # returns `trainloader, testloader`: the position holds the test split.
            if returns_test(model, splits, binding.value, binding.index, binding.arity, depth) or \
                    _factory_gives_test(model, binding.value, binding.index, binding.arity) or (
                    elsewhere is not None and elsewhere(binding.value, binding.index, binding.arity)):
                return binding
            if declared_split_of_call(binding.value, frozenset(model.class_info), model) == TEST:
                return binding  # `vali_data, vali_loader = self._get_data(flag='TEST')`: all of it is test data
            continue
        value = binding.value
        if any(_factory_gives_test(model, call, None, None) or (elsewhere is not None and elsewhere(call, None, None))
               for call in _wrapped_calls(value, wrapper_classes(model))):
            return binding  # `val_set = build_dataset(is_train=False)`: the argument chose the test split
        if isinstance(value, (cst.Name, cst.Attribute)) and splits.split_of(value, binding.function) == TEST:
            return binding
        if declared_split_of_call(value, frozenset(model.class_info), model) == TEST:
            return binding  # `val_loader = DataLoader(CIFAR10(root, train=False))`: built from the test split
        found = test_alias(model, splits, value, binding.function, binding.statement, depth + 1, elsewhere, callers)
        if found is not None:
            return found
    return None


def returns_test(model: FileModel, splits: SplitResolver, call, index: int, arity: Optional[int],
                 depth: int = 0) -> bool:
    """Whether position `index` of what a function of this file returns holds the test split on
    some path: a `return` whose tuple (of `arity` elements) has test data there, by its name
    or through a copy of the test split (`val_dataset = test_dataset = Digits(split='test')`)."""
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) or depth > _MAX_DEPTH:
        return False
    infos = model.functions_named(call.func.value)
    found = test_positions(model, splits, infos[0], depth) if len(infos) == 1 else None
    return found is not None and position_holds_test(found, index, arity)


def _wrapped_calls(value, wrappers: Optional[dict] = None) -> list:
    """`value` and the calls pass-through wrappers hand on (`DataLoader(make_set(False))`;
    also the file's own wrapper datasets, `DatasetWrapper(make_set(False))`)."""
    found = []
    while isinstance(value, cst.Call) and len(found) < _MAX_DEPTH:
        found.append(value)
        func = value.func
        last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) \
            else None
        wrapped = wrapped_by(value, wrappers)
        if wrapped is not None:
            value = wrapped
            continue
        data = [a.value for a in value.args if a.keyword is None and not a.star][:1]
        if last not in _PASS_THROUGH_CALLS or not data:
            break
        value = data[0]
    return found


def _factory_gives_test(model: FileModel, call, index: Optional[int], arity: Optional[int]) -> bool:
    """Whether a data factory of this file builds the test split for this call's arguments
    (`build_dataset(is_train=False)` where the flag reaches `CIFAR100(train=is_train)`)."""
    from auditor.analysis.split_params import parameter_splits, split_by_arguments

    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
        return False
    infos = model.functions_named(call.func.value)
    if len(infos) != 1 or infos[0].cls is not None:
        return False
    return split_by_arguments(parameter_splits(model, infos[0]), call, index, arity) == TEST


def position_holds_test(found: tuple, index: int, arity: Optional[int]) -> bool:
    """Whether `test_positions`' answer puts test data at `index` of an unpacking of `arity`."""
    length, kinds = found
    if arity is not None and arity != length:
        return False
    return (index + length if index < 0 else index) in kinds


def test_positions(model: FileModel, splits: SplitResolver, info, depth: int = 0) -> Optional[tuple]:
    """(the tuple's length, {position: "test" when every return holds test data there, "alias"
    when some return does}) for a function whose every `return` is a tuple of one length with
    test data in some position; None otherwise."""
    # Computed once per (function, depth): functions returning each other's results were
    # otherwise read again along every path, exponentially (CodeXGLUE's data helpers).
    memo = model.cache.setdefault("split_alias.test_positions", {})
    key = (info.node, depth, splits)
    if key not in memo:
        memo[key] = None  # a function reached again while being read: no answer from it
        memo[key] = _test_positions(model, splits, info, depth)
    return memo[key]


def _test_positions(model: FileModel, splits: SplitResolver, info, depth: int) -> Optional[tuple]:
    tuples = [r.value for r in info.returns]
    if not tuples or not all(isinstance(t, (cst.Tuple, cst.List)) and not any(
            isinstance(e, cst.StarredElement) for e in t.elements) for t in tuples):
        return None
    length = len(tuples[0].elements)
    if any(len(t.elements) != length for t in tuples):
        return None
    kinds: dict = {}
    for position in range(length):
        found = []
        for ret, value in zip(info.returns, tuples):
            element = value.elements[position].value
            if splits.split_of(element, info.node) == TEST:
                found.append("test")
            elif test_alias(model, splits, element, info.node, ret, depth + 1) is not None:
                found.append("alias")
            else:
                found.append(None)
        if any(found):
            kinds[position] = "test" if all(k == "test" for k in found) else "alias"
    for ret, value in zip(info.returns, tuples):
        for position in _reported_as_test(model, splits, info, ret, value):
            kinds.setdefault(position, "alias")
    return (length, kinds) if kinds else None


def _reported_as_test(model: FileModel, splits: SplitResolver, info, ret: cst.Return, value) -> set:
    """Positions of `value` (a returned tuple) whose data the same tuple hands back as the
    test data too: `test_dataset = val_dataset` before `return ..., val_dataset, test_dataset`.
    The caller then chooses on its validation data and reports that choice's score on the
    same data as the test score."""
    names = {dotted_name(e.value): i for i, e in enumerate(value.elements) if dotted_name(e.value)}
    found = set()
    for element in value.elements:
        name = dotted_name(element.value)
        if name is None or split_of_name(name) != TEST:
            continue
        for binding in model.bindings_of(name, info.node):
            copied = dotted_name(binding.value) if binding.kind == "assign" and binding.index is None else None
            if copied in names and copied != name and _reaches(model, binding.statement, ret):
                found.add(names[copied])
    return found


def project_test_positions(model: FileModel, splits: SplitResolver) -> dict:
    """{top-level function: its `test_positions`} for the functions of this file that return a
    tuple with test data in some position: what a caller in another module reads them from."""
    table = {}
    for info in model.function_info.values():
        if info.parent is None and info.cls is None and info.returns:
            found = test_positions(model, splits, info)
            if found is not None:
                table[info.name] = found
    return table


def _reaches(model: FileModel, binding: cst.CSTNode, at: cst.CSTNode) -> bool:
    """Whether the value bound at `binding` can be the one read at `at`: it comes first (or
    both sit in one loop, the next iteration reads it), and the block that binds it does not
    end in a return, raise or exit that `at` lies outside of (`if args.test_only: val = test;
    evaluate(val); return`)."""
    order = source_order(model)
    if order.get(binding, 0) > order.get(at, 0):
        loops = [a for a in model.ancestors(binding) if isinstance(a, (cst.For, cst.While))]
        if not any(model.is_within(at, loop) for loop in loops):
            return False
    block = next((a for a in model.ancestors(binding) if isinstance(a, (cst.IndentedBlock, cst.Module))), None)
    if block is None or isinstance(block, cst.Module) or model.is_within(at, block):
        return True
    return not _ends_in_exit(block)


def _ends_in_exit(block: cst.IndentedBlock) -> bool:
    last = block.body[-1] if block.body else None
    if not isinstance(last, cst.SimpleStatementLine) or not last.body:
        return False
    small = last.body[-1]
    if isinstance(small, (cst.Return, cst.Raise)):
        return True
    return isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and \
        dotted_name(small.value.func) in _EXITS
