"""What the callers of a function hand to one of its parameters: a loss object, a model.

`def train(model, criterion): ... criterion(model(x), y)` is wrong or right depending on
what the callers pass: a `nn.CrossEntropyLoss()` and a model whose forward ends in a softmax
make the bug; the function alone cannot say. This module answers, for a parameter of a
function, what every known caller passes:

- callers in the same file: the argument expression itself, read by the asker in the
  caller's scope (the flow analysis resolves which calls run the function);
- callers in other modules: a descriptor from their phase-1 summary
  (`FileSummary.call_arguments`): `("loss", kind)` for a built-in loss, `("class", module,
  name)` for an instance of a user class, or None when the argument is something else.

When one caller leaves the parameter to its default, or no caller is known, there is no
answer (the asker stays silent).
"""

from __future__ import annotations

import builtins
from typing import Optional

import libcst as cst

from auditor.analysis.builds import built_in_loss, class_builds, class_named, instance_class, unwrap_model
from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, resolve_import

# Callees in these packages are never functions of the project.
_LIBRARY_ROOTS = frozenset({"torch", "numpy", "np", "sklearn", "os", "sys", "pandas", "math", "random",
                            "json", "time", "logging", "matplotlib", "scipy", "torchvision", "transformers"})
# Packages whose calls given a model and a loss do not train with them (logging, summaries).
_NOT_TRAINERS = frozenset({"torch", "copy", "functools", "wandb", "mlflow", "logging", "torchinfo",
                           "torchsummary", "tensorboardX", "neptune", "comet_ml", "pickle", "json", "dill"})
# Phase 1 records at most this many calls per file (a generated file must not bloat summaries).
_MAX_CALLS = 400


def call_arguments(model: FileModel, module: str, is_package: bool) -> list:
    """Phase 1: [(target module, function or class, {position or keyword: descriptor})] for this
    file's calls of functions and classes of other modules (`train.fit(net, nn.CrossEntropyLoss())`,
    `Trainer(net, ...)`, whose `__init__` gets them)."""
    from auditor.analysis.roles import roles_of

    from auditor.analysis.splits import SplitResolver

    roles = roles_of(model)
    splits = SplitResolver(model)  # phase 1: names and bindings of this file only
    found = []
    for site in model.calls:
        qualified = site.qualname
        if not site.node.args:
            continue
        if qualified is None:
            target = _method_target(model, site, module, is_package)
        elif qualified.split(".", 1)[0] in _LIBRARY_ROOTS:
            continue
        else:
            target = resolve_import(module, qualified, is_package)
        if target is None:
            continue
        described: dict = {}
        for position, arg in enumerate(site.node.args):
            if arg.star:
                break
            value = unwrap_model(model, arg.value)
            descriptor = None
            kind = built_in_loss(model, roles, value, site.function)
            if kind is not None:
                descriptor = ("loss", kind)
            else:
                if type(value) is cst.Call:
                    owner = class_named(model, value.func, module, is_package)
                elif type(value) in (cst.Name, cst.Attribute):
                    owner = instance_class(model, value, site.function, module, is_package)
                    if owner is None:
                        descriptor = branch_classes(model, value, site.function, module, is_package)
                else:
                    owner = None
                if owner is not None and owner[1] is not None:
                    descriptor = ("class", owner[1], owner[0])
            key = arg.keyword.value if arg.keyword is not None else position
            described[key] = descriptor
            if holds_test_data(model, arg.value, site.function, splits):
                described[f"split:{key}"] = "test"  # `fit(model, train_loader, test_loader)`
        found.append((target[0], target[1], described))
        if len(found) >= _MAX_CALLS:
            break
    return found


def branch_classes(model: FileModel, receiver: cst.BaseExpression, function, module: str,
                   is_package: bool) -> Optional[tuple]:
    """("classes", ((module, class), ...)) when the branches of one `if` build the object from
    different user classes (`if args.model == 'mlp': net = MLP(...) else: net = CNN(...)`,
    rebinding to itself aside): a callee of another module gets one of them per run."""
    from auditor.analysis.alternatives import exclusive

    builds = class_builds(model, receiver, function, module, is_package)
    loaded: list = []
    if builds is None:
        builds, loaded = _built_or_loaded(model, receiver, function, module, is_package)
    if builds is None or any(owner[1] is None for owner, _ in builds):
        return None
    owners = {(owner[1], owner[0]) for owner, _ in builds}
    statements = [statement for _, statement in builds] + loaded
    if len(owners) + bool(loaded) < 2 or len(owners) > 8 or not exclusive(model, statements):
        return None
    return ("classes", tuple(sorted(owners)))


def _built_or_loaded(model: FileModel, receiver: cst.BaseExpression, function, module: str,
                     is_package: bool) -> tuple:
    """([(user class, statement)], [statement]) when every binding of `receiver` builds a user
    class or reads the model out of a loaded checkpoint (`else: model = checkpoint['model']`,
    resuming): the run starting afresh gets the class built. (None, []) otherwise."""
    name = dotted_name(receiver)
    builds, loaded = [], []
    for b in model.bindings_of(name, function) if name else ():
        value = unwrap_model(model, b.value)
        if b.kind == "assign" and b.index is None and dotted_name(value) == name:
            continue
        if b.kind != "assign" or b.index is not None:
            return None, []
        if type(value) is cst.Subscript:
            loaded.append(b.statement)
            continue
        owner = class_named(model, value.func, module, is_package) if type(value) is cst.Call else None
        if owner is None:
            return None, []
        builds.append((owner, b.statement))
    return (builds, loaded) if builds and loaded else (None, [])


def _method_target(model: FileModel, site, module: str, is_package: bool) -> Optional[tuple[str, str]]:
    """(module, "Class.method") for a call of a method on an instance of a class of another
    module: `local = LocalUpdate(args); local.train(net=net)`, `Trainer(cfg).fit(model, loss)`."""
    receiver = site.receiver
    if receiver is None:
        return None
    if type(receiver) is cst.Call:
        owner = class_named(model, receiver.func, module, is_package)
    elif type(receiver) in (cst.Name, cst.Attribute):
        owner = instance_class(model, receiver, site.function, module, is_package)
    else:
        return None
    if owner is None or owner[1] is None or owner[1] == module:
        return None  # this file's own classes: the flow reads their calls
    return owner[1], f"{owner[0]}.{site.method}"


def summary_callee(info) -> Optional[str]:
    """How other modules' summaries name a function: its name, its class for `__init__`,
    `Class.method` for another method of a top-level class."""
    if info.cls is None:
        return info.qualname
    if info.name == "__init__":
        return info.cls.name
    return f"{info.cls.name}.{info.name}" if info.parent is None else None


def holds_test_data(model: FileModel, value: cst.BaseExpression, function, splits) -> bool:
    """The argument is the test split: by its name or bindings (`test_loader`), or built from a
    constructor that declares it (`DataLoader(CIFAR10(root, train=False))`)."""
    from auditor.analysis.splits import TEST, declared_split_of_call

    if type(value) is cst.Call:
        return declared_split_of_call(value, frozenset(model.class_info), model) == TEST
    return type(value) in (cst.Name, cst.Attribute) and splits.split_of(value, function) == TEST


def callers_handing_test(model: FileModel, project, module_name: Optional[str], function, param: str) -> Optional[str]:
    """A call that hands the test split to `param` of `function` (`fit(model, opt, train_loader,
    test_loader)` for `def fit(model, opt, train_loader, val_loader)`), as written, or a
    description of such a call in another module; None when no known caller does. For a
    function one caller is enough: on that path the parameter holds the test split, whatever it
    is called. For a class's `__init__` every construction must hand it: each instance keeps
    its own (`Evaluator(val_loader)` beside `Evaluator(test_loader)` is two evaluators)."""
    from auditor.analysis.program import program_of

    info = model.info(function)
    if info is None or param not in info.params:
        return None
    every = info.name == "__init__"
    prog = program_of(model, project, module_name)
    handed = []  # one entry per known call: a description when it hands test data, else None
    for value, caller in prog.flow.arguments_of(info.node, param):
        handed.append(f"`{model.code(value)}`" if holds_test_data(model, value, caller, prog.splits) else None)
    callee = info.qualname if info.cls is None else info.cls.name if every else None
    if callee is not None and module_name and project is not None and hasattr(project, "call_arguments"):
        position = info.positional.index(param) if param in info.positional else None
        for described in project.call_arguments(module_name, callee):
            test = described.get(f"split:{param}") == "test" or \
                (position is not None and described.get(f"split:{position}") == "test")
            handed.append(f"a call of {callee.rsplit('.', 1)[-1]}() in another module" if test else None)
    if every and (not handed or None in handed):
        return None
    return next((h for h in handed if h), None)


def handed_to(model: FileModel, project, module_name: Optional[str], function: Optional[cst.FunctionDef],
              param: str) -> Optional[list]:
    """What every known caller passes for `param` of `function`: ("expr", expression, caller
    function) for calls in this file, ("summary", descriptor) for calls in other modules;
    None when a caller leaves it to its default or no caller is known."""
    info = model.info(function)
    if info is None or param not in info.positional or info.parent is not None or project is None:
        return None  # (no project: phase 1, whose summaries must not depend on other files)
    key = ("handed_to", function, param, id(project))
    if key in model.cache:
        return model.cache[key]
    answer = model.cache[key] = _handed_to(model, project, module_name, info, param)
    return answer


def _handed_to(model: FileModel, project, module_name: Optional[str], info, param: str) -> Optional[list]:
    from auditor.analysis.program import program_of

    found: list = []
    flow = program_of(model, project, module_name).flow
    sites = flow.call_sites_of(info.node)
    if sites:
        given = flow.arguments_of(info.node, param)
        if len(given) != len(sites):
            return None  # a call leaves it to the default
        found.extend(("expr", value, caller) for value, caller in given)
    # Other modules call a function by its name and a class's `__init__` by the class's.
    callee = summary_callee(info)
    if callee is not None and module_name and project is not None and hasattr(project, "call_arguments"):
        position = info.positional.index(param)
        for described in project.call_arguments(module_name, callee):
            if param in described:
                found.append(("summary", described[param]))
            elif position in described:
                found.append(("summary", described[position]))
            else:
                return None
    return found or None



def _star_imported_from_run(model: FileModel, project, module_name: Optional[str]) -> bool:
    """The file star-imports a module of the run (`from model import *`)."""
    if not model.imports.stars or not module_name or project is None or not hasattr(project, "get"):
        return False
    summary = project.get(module_name)
    return any(project.get(star) is not None for star in getattr(summary, "star_imports", ()))


def handed_together(model: FileModel, project, module_name: Optional[str]) -> list:
    """(call site, loss kind, model argument) for calls of code this run cannot read that get
    both a built-in loss and a model: `NeuralNet(MyModule, criterion=nn.CrossEntropyLoss)`,
    `Trainer(net, nn.BCEWithLogitsLoss())`. Such a trainer applies the loss to the model's
    output. Calls of this file's functions are left to `handed_to` (their body says where the
    output goes), and so are calls of other modules of the run."""
    from auditor.analysis.program import program_of
    from auditor.analysis.roles import LOSS_CLASSES, roles_of

    roles = roles_of(model)
    found = []
    flow = None
    for site in model.calls:
        args = site.node.args
        if len(args) < 2 or any(a.star for a in args):
            continue
        kinds: set = set()
        others = []
        for arg in args:
            value = arg.value
            kind = built_in_loss(model, roles, value, site.function)
            if kind is None and type(value) in (cst.Name, cst.Attribute):  # the class: `criterion=nn.CrossEntropyLoss`
                qualified = model.qualify(value)
                kind = next((k for k, names in LOSS_CLASSES.items() if qualified in names), None)
            if kind is not None:
                kinds.add(kind)
            else:
                others.append(value)
        if len(kinds) != 1 or not others:
            continue
        qualified = site.qualname
        if qualified is not None and (qualified.split(".", 1)[0] in _NOT_TRAINERS
                                      or _in_run(project, module_name, qualified)):
            continue
        if qualified is None:
            if site.callee is None or "." in site.callee or site.callee in model.bindings \
                    or hasattr(builtins, site.callee):
                continue  # a method of an unknown object, or `print(model, criterion)`
            if _star_imported_from_run(model, project, module_name):
                continue  # `from trainer import *`: the name may be the run's own class
            if flow is None:
                flow = program_of(model, project, module_name).flow
            if flow.resolve(site) is not None:
                continue  # this file's own code: read by handed_to
        kind = kinds.pop()
        found.extend((site, kind, value) for value in others[:4])
    return found


def _in_run(project, module_name: Optional[str], qualified: str) -> bool:
    """Whether a qualified callee is a function of a module checked in this run (a class of
    the run may still hand both to a library base class, as skorch's subclasses do)."""
    if project is None or not hasattr(project, "get") or not module_name:
        return False
    target = resolve_import(module_name, qualified, False)
    summary = project.get(target[0]) if target is not None else None
    return summary is not None and target[1] in (getattr(summary, "functions", None) or ())
