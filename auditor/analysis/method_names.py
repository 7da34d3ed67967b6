"""Grad mode at the calls of a method through receivers nobody can type.

`with torch.no_grad(): logits = self.task_helper.eval_step(batch)` in `wrapper.py`, where
`task_helper` is built by a registry and each `TaskHelper` subclass of `task_helpers.py`
defines `eval_step`; or `EVAL_STEPS[kind](self)(batch)` under `no_grad`, where the dict maps
each kind to `lambda wrapper: wrapper.mlm_eval_step`. No call resolves to the method, so
its entry context would be the default (autograd on) although every way in runs without
autograd. Phase 1 records, per file, each method name called (or dispatched through such a
table) and whether every such call is lexically under a grad-off context; the project index
gives a method of a class the grad-off context when every call of its name in the run is
(see `ProjectIndex._index`). Only "off" is ever given: a name called once with autograd on
(or nowhere) leaves the method as it was.
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import FileModel, assigned_calls

OFF, ON = "off", "on"
# Names too common to say anything about one class's method (moves, switches, bookkeeping,
# a module's own call path).
_TOO_COMMON = frozenset({
    "to", "cuda", "cpu", "eval", "train", "parameters", "named_parameters", "state_dict", "load_state_dict",
    "zero_grad", "step", "backward", "item", "size", "append", "extend", "items", "keys", "values", "get",
    "update", "format", "float", "half", "double", "detach", "numpy", "tolist", "forward", "__call__",
    "__init__", "pop", "add", "join", "split", "copy", "close", "read", "write", "save", "load", "print"})
# A file records at most this many names (a generated file must not bloat its summary).
_MAX_NAMES = 400


def call_is_off(model: FileModel, node: cst.CSTNode, function) -> bool:
    """The call runs under a grad-off context: lexically, or in a decorated function (or one
    nested in it)."""
    from auditor.analysis.flow import OFF as FLOW_OFF, _decorated_grad
    from auditor.analysis.param_calls import _lexically_off

    if _lexically_off(model, node):
        return True
    decorated = model.cache.setdefault("method_names.decorated_off", {})
    while function is not None:
        if function not in decorated:
            info = model.function_info[function]
            decorated[function] = _decorated_grad(model, info) == FLOW_OFF
        if decorated[function]:
            return True
        function = model.function_info[function].parent
    return False


def is_self_call(site) -> bool:
    """`self.name(...)`."""
    receiver = site.receiver
    return type(receiver) is cst.Name and receiver.value == "self"


def method_call_grads(model: FileModel) -> dict[str, str]:
    """{method name: "off" when every call of it in this file is under a grad-off context,
    else "on"} for `x.name(...)` calls and the methods dispatched through tables of this file.
    `self.name(...)` inside a class is left to self_calls.py: it reaches its own class family only."""
    found: dict[str, str] = {}
    if _holds_no_torch_module(model):
        return found

    def record(name: str, node: cst.CSTNode, function) -> None:
        if name in _TOO_COMMON or (name not in found and len(found) >= _MAX_NAMES):
            return
        verdict = OFF if call_is_off(model, node, function) else ON
        found[name] = ON if found.get(name) == ON else verdict

    for site in model.calls:
        if site.method is not None and site.receiver is not None:
            if is_self_call(site) and model.class_of(site.function) is not None:
                continue
            if _library_object(model, site):
                continue  # `clf = KNeighborsClassifier()`, `clf.predict(X)`: no method of the project
            record(site.method, site.node, site.function)
    for table, methods in _dispatch_tables(model).items():
        for site in model.calls:
            if _dispatches_from(site.node, table):
                for name in methods:
                    record(name, site.node, site.function)
    return found


# Libraries whose objects' methods share names with a project's (`predict`, `score`, `fit`).
_OTHER_LIBRARIES = frozenset({"sklearn", "xgboost", "lightgbm", "catboost", "statsmodels", "scipy", "numpy",
                              "pandas"})


# Libraries that never hand out a torch module (plots, arrays, classical ML, files).
_NO_TORCH_LIBRARIES = _OTHER_LIBRARIES | frozenset({"matplotlib", "seaborn", "joblib", "tqdm", "ot", "cv2", "PIL",
                                                    "skimage", "h5py", "yaml"})


def _holds_no_torch_module(model: FileModel) -> bool:
    """A file that imports only the standard library and libraries without torch modules
    (a scikit-learn baseline beside the deep models, `clf.predict(X)`): no object it holds has
    a method of the project's model classes."""
    import sys

    imports = model.imports
    if not imports.modules or imports.stars or any(q.startswith(".") for q in imports.aliases.values()):
        return False
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    return all(m in stdlib or m in _NO_TORCH_LIBRARIES for m in imports.modules if m)


def _library_object(model: FileModel, site) -> bool:
    """The receiver is a name every binding of which builds an object of a library other than
    torch (scikit-learn, XGBoost, NumPy, TensorFlow...): its methods are that library's."""
    from auditor.analysis.roles import other_framework

    receiver = site.receiver
    if type(receiver) is not cst.Name:
        return False
    calls = assigned_calls(model.bindings_of(receiver.value, site.function))
    if not calls:
        return False
    for value in calls:
        qualified = model.qualify_call(value) or ""
        if qualified.split(".", 1)[0] not in _OTHER_LIBRARIES and not other_framework(qualified):
            return False
    return True


def _dispatch_tables(model: FileModel) -> dict[str, list[str]]:
    """{name: [method names]} for module-level dicts whose values all hand back a method of
    an object: `{"mlm": lambda wrapper: wrapper.mlm_eval_step, ...}` or `{"a": obj.run_a}`."""
    tables: dict[str, list[str]] = {}
    for statement in model.module.body:
        if type(statement) is not cst.SimpleStatementLine or len(statement.body) != 1:
            continue
        assign = statement.body[0]
        if type(assign) is not cst.Assign or len(assign.targets) != 1 or type(assign.value) is not cst.Dict \
                or type(assign.targets[0].target) is not cst.Name:
            continue
        methods = []
        for element in assign.value.elements:
            value = element.value if type(element) is cst.DictElement else None
            if type(value) is cst.Lambda:
                value = value.body
            if type(value) is not cst.Attribute:
                methods = []
                break
            methods.append(value.attr.value)
        if methods:
            tables[assign.targets[0].target.value] = methods
    return tables


def _dispatches_from(call: cst.Call, table: str) -> bool:
    """`TABLE[key](self)(batch)` or `TABLE[key](batch)`: a call of what the table holds."""
    func = call.func
    while type(func) is cst.Call:
        func = func.func
    return type(func) is cst.Subscript and type(func.value) is cst.Name and func.value.value == table


def class_methods(model: FileModel) -> dict[str, list[str]]:
    """{method name: [qualified names]} for the methods of this file's classes (not nested
    in functions) that a name-based call could reach."""
    found: dict[str, list[str]] = {}
    for info in model.function_info.values():
        if info.cls is not None and info.parent is None and info.name not in _TOO_COMMON:
            found.setdefault(info.name, []).append(info.qualname)
    return found
