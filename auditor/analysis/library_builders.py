"""Models built by a library function nobody here lists, known by how the file uses them.

    net = build_net("resnet18")                  # from some_package import build_net
    net.load_state_dict(torch.load("best.pth"))
    for x, y in test_loader:
        out = net(x)                             # still in training mode

Only a few constructors are known by name (torch.nn, torchvision, timm, model zoos). Any
other package's builder returns a new module as a constructor does, in training mode, and
the file says it is a module: it loads a state dict into it or reads its parameters. Such a
call starts the model in training mode. Not builders: loaders that keep or set a mode
(`torch.load` of a whole module keeps the mode it was saved in, `torch.jit.load`,
transformers' `from_pretrained` returns eval mode: anything named load/restore/pretrained),
functions of the project's own modules (their summaries say what they return), the standard
library and data libraries (`copy.deepcopy(model)` keeps the model's mode), averaging wrappers
(an EMA copy is kept in eval mode), and calls handed a module the file already has (a wrapper
runs the wrapped model in whatever mode it is in).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel, assigned_calls
from auditor.analysis.names import dotted_name
from auditor.analysis.splits import EVAL_WORDS, name_tokens
from auditor.neighbours import ROOT_MARKERS

# The file treats the name as a torch module.
_MODULE_METHODS = frozenset({"load_state_dict", "parameters", "named_parameters", "state_dict"})
# Builders named like this may hand back a module in any mode.
_LOADING_WORDS = ("load", "restore", "pretrained", "checkpoint", "jit", "script", "trace", "compile", "from_")
# Copies of an existing model in a mode of their own choosing (timm's ModelEmaV2 is eval).
_AVERAGING_WORDS = ("ema", "average", "swa")
# Packages whose functions never build a fresh torch module.
_NOT_MODEL_PACKAGES = frozenset({
    "numpy", "pandas", "scipy", "sklearn", "joblib", "dill", "cloudpickle", "matplotlib",
    "accelerate", "deepspeed", "apex", "fairscale", "ray", "wandb", "mlflow", "tensorboardX",
    "lightning", "pytorch_lightning", "ignite", "onnx", "onnxruntime", "safetensors", "peft",
})
# sys.stdlib_module_names exists from Python 3.10; before, the modules a model passes through.
_STANDARD_LIBRARY = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset({
    "copy", "pickle", "functools", "itertools", "collections", "os", "sys", "importlib",
    "builtins", "typing", "dataclasses", "operator", "contextlib", "types", "shelve", "marshal",
})


# Device and dtype moves hand back the module they were called on.
_MOVES = ("to", "cuda", "cpu", "float", "half", "double")


def _unmoved(value: cst.BaseExpression) -> cst.BaseExpression:
    """`build_net(...)` for `build_net(...).to(device)`."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in _MOVES:
        value = value.func.value
    return value


def built_by_library(model: FileModel, project, value: cst.BaseExpression, name: Optional[str]) -> bool:
    """Whether `name = value` builds a new module with a function of a package outside the
    project and outside torch, that the file then uses as a module."""
    value = _unmoved(value)
    if name is None or type(value) is not cst.Call:
        return False
    qualified = model.qualify_call(value)
    if not qualified and type(value.func) is cst.Name and _held_builder(model, value.func.value):
        return _used_as_module(model, name) and not _wraps_a_known_module(model, value)
    if not qualified or "." not in qualified or qualified.startswith(("torch.", "torchvision.", ".")):
        return False  # a local name (the flow reads the file's own functions), or torch's own
    root = qualified.split(".", 1)[0]
    if root in _STANDARD_LIBRARY or root in _NOT_MODEL_PACKAGES:
        return False
    last = qualified.rsplit(".", 1)[-1].lower()
    if any(word in last for word in _LOADING_WORDS + _AVERAGING_WORDS):
        return False
    if not _used_as_module(model, name) or _wraps_a_known_module(model, value):
        return False
    # A module of the project: its summary, not this guess, says what it builds.
    path = model.cache.get("source_path")
    return path is not None and not (_of_the_project(project, qualified) or _on_disk_beside(path, root))


def _held_builder(model: FileModel, name: str) -> bool:
    """`name` is a variable holding what a builder function handed back (a class or a
    constructor: `_net_builder = net_builder(args.net, ...)`, then `net = _net_builder(
    num_classes=10)`): no function or class of the file, no import, and every binding of it
    is the result of a call to a function that neither loads nor averages nor is torch's."""
    if name in model.class_info or model.functions_named(name) or model.imports.qualify_dotted(name):
        return False
    calls = assigned_calls(model.bindings.get(name, ()))
    if not calls:
        return False
    for value in calls:
        callee = dotted_name(value.func)
        if callee is None or callee.rsplit(".", 1)[-1][:1].isupper() or callee in model.class_info:
            return False  # `net = Net()`: a module, whose call is a forward pass, not a build
        qualified = model.imports.qualify_dotted(callee)
        if (qualified or callee).startswith(("torch.", "torchvision.")) or callee in ("getattr", "partial",
                                                                                          "functools.partial"):
            return False  # torch's own, or the documented `getattr(models, arch)` reading
        last = callee.rsplit(".", 1)[-1].lower()
        if any(word in last for word in _LOADING_WORDS + _AVERAGING_WORDS):
            return False
    return True


def external_evaluator_arguments(model: FileModel, project, call: cst.Call) -> tuple:
    """The dotted names handed to an evaluation helper of another package (not torch, not the
    standard library, not this project): `model_testing(model, device, test_loader)` from a
    package the tool cannot read. Such helpers nearly always switch the model to eval mode
    themselves, so afterwards the model's mode is not known. () for any other call."""
    qualified = model.qualify_call(call)
    if not qualified or "." not in qualified or qualified.startswith(("torch.", "torchvision.", ".")):
        return ()
    root = qualified.split(".", 1)[0]
    if root in _STANDARD_LIBRARY or not set(name_tokens(qualified.rsplit(".", 1)[-1])) & EVAL_WORDS:
        return ()
    path = model.cache.get("source_path")
    if path is None or _of_the_project(project, qualified) or _on_disk_beside(path, root):
        return ()  # the project's own: its summary says what it does to the model
    names = [dotted_name(arg.value) for arg in call.args if not arg.star]
    return tuple(name for name in names if name)


def _wraps_a_known_module(model: FileModel, call: cst.Call) -> bool:
    """`DDP(model)`, `wrap(net, ...)`: the result runs a module the file already has."""
    names = _module_names(model)
    return any(dotted_name(arg.value) in names for arg in call.args)


def _of_the_project(project, qualified: str) -> bool:
    root = qualified.split(".", 1)[0]
    summaries = getattr(project, "summaries", None) or {}
    # A component anywhere: a repository whose root holds `__init__.py` names its modules
    # `repo.unimodals.models`, which scripts import as `unimodals.models`.
    return any(f".{root}." in f".{module}." for module in summaries)


# Directories above the file that may be on sys.path (the script's own, the repository root).
_ANCESTORS = 6


def _on_disk_beside(path: str, root: str) -> bool:
    """Whether a package or module called `root` sits in the file's directory or a directory
    above it, up to the project root: then the call is the project's own code, even when
    the file was checked alone (a pre-commit hook) and that module was not read."""
    return _on_disk(os.path.dirname(os.path.abspath(path)), root)


@functools.lru_cache(maxsize=4096)
def _on_disk(directory: str, root: str) -> bool:
    for _ in range(_ANCESTORS):
        if os.path.isdir(os.path.join(directory, root)) or os.path.isfile(os.path.join(directory, root + ".py")):
            return True
        if any(os.path.exists(os.path.join(directory, marker)) for marker in ROOT_MARKERS):
            return False
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent
    return False


def builds_with_project_functions(model: FileModel, project) -> bool:
    """Whether a call that would pass for a library builder is a function of the project's
    own modules: then the reading of the file without the project (phase 1) does not hold."""
    if not getattr(project, "summaries", None):
        return False
    for binding_list in model.bindings.values():
        for b in binding_list:
            value = _unmoved(b.value)
            if type(value) is cst.Call and b.kind == "assign" and _used_as_module(model, b.target):
                qualified = model.qualify_call(value)
                if qualified and "." in qualified and _of_the_project(project, qualified):
                    return True
    return False


def _used_as_module(model: FileModel, name: str) -> bool:
    return name in _module_names(model)


def _module_names(model: FileModel) -> set:
    """Names the file loads a state dict into or reads the parameters of."""
    index = model.cache.get("library_builders.module_names")
    if index is None:
        index = set()
        for site in model.calls:
            if site.method in _MODULE_METHODS and site.receiver is not None:
                receiver = dotted_name(site.receiver)
                if receiver is not None:
                    index.add(receiver)
        model.cache["library_builders.module_names"] = index
    return index
