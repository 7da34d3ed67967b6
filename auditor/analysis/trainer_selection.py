"""Test data given to a training framework as its validation data, where the framework then
chooses the model on it.

A Hugging Face `Trainer(..., eval_dataset=tokenized["test"])` whose `TrainingArguments` say
`load_best_model_at_end=True` (or whose callbacks stop early) keeps the checkpoint with the
best test score; so does a Lightning `trainer.fit(model, train_loader, test_loader)` whose
`Trainer` has `ModelCheckpoint(monitor=...)` or `EarlyStopping` among its callbacks. The
epoch loop is inside the library, so TRN204's loop analysis never sees it. Without such a
setting the test set is only scored along the way (monitoring) and nothing is said. So does
pytorch-tabnet's `fit`, which stops early on the last entry of its `eval_set` and restores that
entry's best epoch.
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name
from auditor.analysis.splits import TEST, declared_split_of_call, split_of_name

_FRAMEWORKS = ("transformers.", "trl.")
_LIGHTNING = ("pytorch_lightning.", "lightning.")
_EARLY_STOPPING = {"EarlyStoppingCallback"}
_LIGHTNING_SLOT = "the validation data of `trainer.fit`"
_ASSIGNED = ("assign",)  # `name = value` only (not `with ... as name`)


def framework_selections(prog) -> Iterator[tuple]:
    """(the trainer call, its test-data argument, the slot it fills, why the framework selects
    on it, whether the data is only the "test" part of the user's own `Dataset.train_test_split`)
    for each framework trainer given test data as its evaluation data and a selection setting."""
    model = prog.model
    for site in model.calls:
        call = site.node
        found = _lightning_fit(prog, site) or _tabnet_fit(prog, site)
        if found is not None:
            yield (*found, False)
            continue
        if not _is_hf_trainer(model, call):
            continue
        data = _keyword(call, "eval_dataset")
        if data is None or prog.splits.split_of(data, site.function) != TEST:
            continue
        why = _hf_selects(model, call, site.function)
        if why is not None:
            yield call, data, "the trainer's `eval_dataset`", why, _split_method_part(model, data, site.function)


# The Hugging Face `Dataset`/`DatasetDict` method that returns {"train": ..., "test": ...}.
_SPLIT_METHOD = "train_test_split"


def _split_method_part(model, node: Optional[cst.BaseExpression], function, depth: int = 0) -> bool:
    """Whether `node` is a part of a Hugging Face `Dataset.train_test_split(...)` result, through
    subscripts, names and dataset methods (`food = food.train_test_split(test_size=0.2)`, later
    `food.with_transform(t)["test"]`). The library names the held-out part "test"; carved out
    of the training data and used as the eval set, it is a validation split in all but name."""
    if node is None or depth > 8:
        return False
    if isinstance(node, cst.Subscript):
        return _split_method_part(model, node.value, function, depth + 1)
    if isinstance(node, cst.Call):
        func = node.func
        if not isinstance(func, cst.Attribute):
            return False
        if func.attr.value == _SPLIT_METHOD:
            qualified = model.qualify(func) or ""
            return not qualified.startswith("sklearn")  # sklearn's is a function: its parts are the user's
        return _split_method_part(model, func.value, function, depth + 1)
    if isinstance(node, cst.Name):
        values = model.values_of(node.value, function, kinds=_ASSIGNED)
        return any(_split_method_part(model, v, function, depth + 1) for v in values)
    return False


def _lightning_fit(prog, site) -> Optional[tuple]:
    """`trainer.fit(model, train_loader, test_loader)` (or `val_dataloaders=test_loader`) on a
    Lightning `Trainer` whose callbacks pick or stop on the validation score."""
    call = site.node
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value != "fit":
        return None
    model = prog.model
    trainer = _bound_call(model, call.func.value, site.function)
    qualified = model.qualify(trainer.func) if trainer is not None else None
    if qualified is None or not qualified.startswith(_LIGHTNING) or not qualified.endswith("Trainer"):
        return None
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    data = _keyword(call, "val_dataloaders") or (positional[2] if len(positional) > 2 else None)
    slot = _LIGHTNING_SLOT
    if data is None:
        # `trainer.fit(model, datamodule)`: the validation data is what the datamodule's (or
        # the LightningModule's own) `val_dataloader()` returns.
        holders = [_keyword(call, "datamodule"), _keyword(call, "model")] + positional[:2]
        found = next((f for f in (_val_dataloader_test(prog, h, site.function) for h in holders if h is not None)
                      if f is not None), None)
        if found is None:
            return None
        data, slot = found
    elif prog.splits.split_of(data, site.function) != TEST:
        return None
    callbacks = _elements(_keyword(trainer, "callbacks"), model, site.function) + \
        _elements(_keyword(trainer, "checkpoint_callback"), model, site.function)  # Lightning < 1.5
    for callback in callbacks:
        made = _bound_call(model, callback, site.function)
        name = (dotted_name(made.func) or "").rsplit(".", 1)[-1] if made is not None else ""
        if name == "EarlyStopping":
            return call, data, slot, "an `EarlyStopping` callback stops training on its score"
        monitor = _keyword(made, "monitor") if name == "ModelCheckpoint" else None
        if monitor is not None and not (isinstance(monitor, cst.Name) and monitor.value == "None"):
            return call, data, slot, \
                f"`ModelCheckpoint(monitor={model.code(monitor)})` keeps the checkpoint that scores best on it"
    return None


_TABNET = "pytorch_tabnet."
_TABNET_EVAL_SET = 2  # fit(X_train, y_train, eval_set=None, ...)


def _tabnet_fit(prog, site) -> Optional[tuple]:
    """`clf.fit(X_train, y_train, eval_set=[(X_test, y_test)])` of a pytorch-tabnet model: it
    stops early on the last `eval_set` entry (patience 10 unless told 0) and keeps the weights
    of that entry's best epoch."""
    call = site.node
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value != "fit":
        return None
    model = prog.model
    built = _bound_call(model, call.func.value, site.function)
    qualified = model.qualify(built.func) if built is not None else None
    if qualified is None or not qualified.startswith(_TABNET):
        return None
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    eval_set = _keyword(call, "eval_set") or (positional[_TABNET_EVAL_SET] if len(positional) > _TABNET_EVAL_SET
                                              else None)
    entries = _elements(eval_set, model, site.function) if eval_set is not None else []
    last = entries[-1] if entries else None
    if not isinstance(last, (cst.Tuple, cst.List)) or not last.elements:
        return None
    data = last.elements[0].value
    if prog.splits.split_of(data, site.function) != TEST:
        return None
    patience = _keyword(call, "patience")
    if patience is not None and not (isinstance(patience, cst.Integer) and patience.value != "0"):
        return None  # `patience=0`: no early stopping, the last epoch's weights are kept
    return call, data, "the last `eval_set` entry of a pytorch-tabnet `fit`", \
        "the library stops early on it and restores the weights of its best epoch"


def framework_trains(model, site) -> bool:
    """`trainer.fit(...)` of a Lightning `Trainer`, or `trainer.train()` of a Hugging Face one:
    a call that runs a whole training loop (a loop around it trains, as one around
    `train_one_epoch(...)` does)."""
    call = site.node
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("fit", "train"):
        return False
    trainer = _bound_call(model, call.func.value, site.function)
    if trainer is None:
        return False
    if call.func.attr.value == "train":
        return _is_hf_trainer(model, trainer)
    qualified = model.qualify(trainer.func) if isinstance(trainer.func, (cst.Name, cst.Attribute)) else None
    return qualified is not None and qualified.startswith(_LIGHTNING) and qualified.endswith("Trainer")


def _val_dataloader_test(prog, holder: cst.BaseExpression, function) -> Optional[tuple]:
    """(what `val_dataloader()` returns, the slot's words) when `holder` is an instance of a
    class whose `val_dataloader` method returns the test split (`DataLoader(CIFAR10(root,
    train=False))`): a class of this file, read here, or of another module of the project,
    from its summary (`val_test_classes`)."""
    made = _bound_call(prog.model, holder, function)
    if made is None or not isinstance(made.func, (cst.Name, cst.Attribute)):
        return None
    name = dotted_name(made.func)
    words = f"given to `trainer.fit` (its `val_dataloader()` returns the test split)"
    info = prog.model.class_info.get(name) if name else None
    if info is not None:
        returned = val_dataloader_test(prog.model, prog.splits, info)
        return (made, words) if returned is not None else None
    project, module = prog.flow.project, prog.flow.module_name
    qualname = prog.model.qualify_call(made)
    if project is None or qualname is None:
        return None
    from auditor.analysis.project_names import project_entry

    entry = project_entry(project, module, qualname, "val_test_classes")
    return (made, words) if entry else None


def val_dataloader_test(model, splits, info) -> Optional[cst.BaseExpression]:
    """What the `val_dataloader` method of class `info` returns, when that is the test split on
    every return: by its name (`self.test_loader`), or built from a constructor that declares
    it (`DataLoader(CIFAR10(root, train=False))`, directly or through names); else None. The
    user's own dataset class with `train=False` is not one (its held-out rows are validation)."""
    from auditor.analysis.split_alias import test_alias

    method = info.methods.get("val_dataloader")
    if method is None or not method.returns:
        return None
    for ret in method.returns:
        value = ret.value
        if value is None:
            return None
        if isinstance(value, (cst.Name, cst.Attribute)) and split_of_name(dotted_name(value)) == TEST:
            continue
        if declared_split_of_call(value, frozenset(model.class_info)) == TEST or \
                test_alias(model, splits, value, method.node, ret) is not None:
            continue
        return None
    return method.returns[0].value


def val_test_classes(model, splits) -> dict:
    """{class: True} for this file's classes whose validation loader is the test split: a
    `trainer.fit(model, datamodule)` in another module reads them."""
    return {info.name: True for info in model.class_info.values()
            if val_dataloader_test(model, splits, info) is not None}


def _bound_call(model, node: Optional[cst.BaseExpression], function, depth: int = 0) -> Optional[cst.Call]:
    """The call `node` is, or the one call its name is bound to."""
    if isinstance(node, cst.Call) or node is None or depth > 4:
        return node if isinstance(node, cst.Call) else None
    name = dotted_name(node)
    values = model.values_of(name, function, kinds=_ASSIGNED) if name else []
    return _bound_call(model, values[0], function, depth + 1) if len(values) == 1 else None


def _is_hf_trainer(model, call: cst.Call) -> bool:
    """`Trainer(...)`, `Seq2SeqTrainer(...)`, `SFTTrainer(...)` from transformers/trl, or a
    class of this file derived from one (`class CustomTrainer(Trainer)`)."""
    qualified = model.qualify(call.func) if isinstance(call.func, (cst.Name, cst.Attribute)) else None
    if qualified is not None:
        return qualified.startswith(_FRAMEWORKS) and qualified.endswith("Trainer")
    name = dotted_name(call.func)
    info = model.class_info.get(name) if name else None
    return info is not None and any(b.startswith(_FRAMEWORKS) and b.endswith("Trainer") for b in info.bases)


def _hf_selects(model, call: cst.Call, function) -> Optional[str]:
    """Why this Trainer picks a checkpoint on its eval_dataset, or None."""
    callbacks = _keyword(call, "callbacks")
    if callbacks is not None and any(
            isinstance(c, cst.Call) and (dotted_name(c.func) or "").rsplit(".", 1)[-1] in _EARLY_STOPPING
            for c in _elements(callbacks)):
        return "an `EarlyStoppingCallback` stops training on its score"
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    given = _keyword(call, "args") or (positional[1] if len(positional) > 1 else None)  # `Trainer(model, args)`
    arguments = _training_arguments(model, given, function)
    if arguments is not None:
        best = _keyword(arguments, "load_best_model_at_end")
        if isinstance(best, cst.Name) and best.value == "True":
            return "`load_best_model_at_end=True` keeps the checkpoint that scores best on it"
    return None


def _training_arguments(model, node: Optional[cst.BaseExpression], function) -> Optional[cst.Call]:
    """The `TrainingArguments(...)` call `node` is, or the one its name is bound to (once)."""
    call = _bound_call(model, node, function)
    return call if call is not None and (dotted_name(call.func) or "").endswith("Arguments") else None


def _elements(node: Optional[cst.BaseExpression], model=None, function=None) -> list:
    """The elements of a list/tuple of callbacks (through one name bound to it)."""
    if node is not None and model is not None and isinstance(node, (cst.Name, cst.Attribute)):
        values = model.values_of(dotted_name(node) or "", function, kinds=_ASSIGNED)
        node = values[0] if len(values) == 1 else node
    if isinstance(node, (cst.List, cst.Tuple)):
        return [e.value for e in node.elements]
    return [node] if node is not None else []


def _keyword(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
