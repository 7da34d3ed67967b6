"""TRN1xx: mode and gradient context of forward passes and training steps."""

from __future__ import annotations

import os
import re
from typing import Optional

import libcst as cst

from auditor.analysis.exit_modes import imported_layers
from auditor.analysis.flow import EVAL, LIGHTNING_TRAIN_HOOKS, ON, TRAIN, loaded_in_eval_mode, wrapped_module
from auditor.analysis.grad_aliases import no_grad_alias
from auditor.analysis.grad_free import may_run_grad_free
from auditor.analysis.program import BEHAVIOUR_EVIDENCE, by_behaviour_only
from auditor.analysis.uses import ESCAPES, READOUT, SHAPE, TRAINING, result_use, source_order
from auditor.analysis.module_methods import SELF_RETURNING
from auditor.analysis.mode_layers import (caller_gated, mode_dependence, parameter_free, project_classes,
                                          unparsed_class, with_outside)
from auditor.analysis.model import syntactic_children
from auditor.analysis.factories import factory_of
from auditor.analysis.roles import is_lightning_class, is_module_class, model_constructor
from auditor.analysis.names import dotted_name
from auditor.analysis.wrapped_models import wraps_given_model
from auditor.analysis.splits import name_tokens
from auditor.findings import Severity
from auditor.fixes.builders import eval_mode_fix, no_grad_fix
from auditor.rule import Rule
from rules._frozen import frozen_for_good
from rules._helpers import program
from rules._mode_choice import mode_chosen_before_step
from rules._mode_shared import shared_with_training
from rules._mode_siblings import sibling_leaving_eval
from rules._mode_wrappers import report_wrapper_steps
from rules._queries import bound_values

OPTIMIZER_CLASSES = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
                     "SparseAdam", "ASGD", "Rprop", "LBFGS", "Adafactor", "Lion", "LARS", "LAMB", "Lamb",
                     "Muon", "AdamW8bit", "Adam8bit", "PagedAdamW"}
_PARAMETER_METHODS = ("parameters", "named_parameters")


# Arguments whose source text is never a module's name: calls (their text has a
# parenthesis) and literals.
_NEVER_MODULES = (cst.Call, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Integer,
                  cst.Float, cst.Imaginary)


UNREADABLE = "unreadable"  # an optimizer is built here from parameters that cannot be read

# A trainer or predictor module of a library is handed its model and needs no torch of its own
# (`self.model.eval()` then `self.model(src, tgt)` in OpenNMT's trainer): the mode switch names
# the model's framework as surely as an import. Fixes of these bugs often add the import.
MODE_WORDS = ("torch", ".eval(", ".train(")


def _optimized_modules(prog):
    """The modules whose parameters the file's optimizers get (`Adam(head.parameters())`),
    None when no optimizer is built here, UNREADABLE when one is built from values that
    cannot be read (param groups assembled by a helper or over another module)."""
    model = prog.model
    found: set = set()
    built = False
    for site in model.calls:
        qualified = site.qualname or ""
        last = (qualified or site.callee or "").rsplit(".", 1)[-1]
        # `torch.optim.*`, or a known optimizer class from anywhere (`transformers.AdamW`).
        if not ((qualified.startswith("torch.optim.") and "lr_scheduler" not in qualified)
                or last in OPTIMIZER_CLASSES):
            continue
        params = [a.value for a in site.node.args if a.keyword is not None and a.keyword.value == "params"] or \
            [a.value for a in site.node.args[:1] if a.keyword is None and not a.star]
        if not params:
            return UNREADABLE
        built = True
        names = _parameter_owners(model, params[0], site.function)
        if not names:
            return UNREADABLE
        found |= names
    return found if built else None


def _parameter_owners(model, expr, function, depth: int = 0) -> set:
    """Receivers of `.parameters()` in an optimizer's params (through one level of names)."""
    owners: set = set()
    pending = [expr]
    while pending:
        node = pending.pop()
        if type(node) is cst.Call and type(node.func) is cst.Attribute and \
                node.func.attr.value in _PARAMETER_METHODS:
            name = dotted_name(node.func.value)
            if name:
                owners.add(name)
            continue
        if type(node) is cst.Name and depth < 2:
            for value in bound_values(model, node, function):
                if value is not node:
                    owners |= _parameter_owners(model, value, function, depth + 1)
            continue
        pending.extend(child for child in syntactic_children(node) if isinstance(child, cst.BaseExpression)
                       or type(child) in (cst.Arg, cst.Element, cst.DictElement, cst.CompFor, cst.StarredElement,
                                          cst.StarredDictElement))
    return owners


def _optimizer_handed_in(prog, site) -> bool:
    """`self.opt.step()` where `self.opt` is only ever a constructor parameter's value (`def
    __init__(self, model, opt): self.opt = opt`): an optimizer built by the trainer's caller,
    whose parameters this file's optimizers say nothing about."""
    func = site.node.func
    if type(func) is not cst.Attribute:
        return False
    name = dotted_name(func.value)
    if not name or not name.startswith("self.") or name.count(".") != 1:
        return False
    model = prog.model
    bindings = model.bindings.get(name, [])
    if not bindings:
        return False
    for binding in bindings:
        info = model.info(binding.function)
        if binding.kind != "assign" or binding.index is not None or type(binding.value) is not cst.Name or \
                info is None or binding.value.value not in info.params:
            return False
    return True


def _same_module(key: str, owner: str) -> bool:
    """`model` and `self.model`, `model.module`, or the same last name across functions."""
    a = key[5:] if key.startswith("self.") else key
    b = owner[5:] if owner.startswith("self.") else owner
    return a == b or a.startswith(b + ".") or b.startswith(a + ".") or \
        a.rsplit(".", 1)[-1] == b.rsplit(".", 1)[-1]


def _is_pytest_file(path: str, model=None) -> bool:
    """A test module by its name, which (when the model is given) also holds tests: a
    `test_*` function or method, or a pytest/unittest import. `feature_extraction_test.py`
    whose class extracts features is code under the name of a test, not a test."""
    base = os.path.basename(path)
    if not (base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py"):
        return False
    if model is None or base == "conftest.py":
        return True
    return bool({"pytest", "unittest"} & model.imports.modules) or any(
        info.name.startswith("test") for info in model.function_info.values())


def _in_test_function(model, function) -> bool:
    info = model.info(function)
    while info is not None:
        if info.name.startswith("test"):
            return True
        info = model.info(info.parent)
    return False


def _in_test_case(model, function) -> bool:
    """A method of a `unittest.TestCase` subclass (directly or through a class of the file):
    the test runner calls it, whatever the file is named (`tests/bvae.py` is no `test_*.py`
    that pytest would collect, but `unittest` runs it)."""
    info = model.info(function)
    while info is not None and info.cls is None:
        info = model.info(info.parent)
    return info is not None and _test_case_class(model, info.cls, set())


def _test_case_class(model, cls, seen: set) -> bool:
    if cls is None or cls.name in seen:
        return False
    seen.add(cls.name)
    for base in cls.bases:
        if base.rsplit(".", 1)[-1].endswith("TestCase"):
            return True
        if _test_case_class(model, model.class_info.get(base.rsplit(".", 1)[-1]), seen):
            return True
    return False


def _chose_training(state) -> bool:
    """The path runs because a flag said training (`if train: model.train()` in a helper
    that serves both modes): training mode there is the caller's choice, not an oversight."""
    for code, value in state.facts:
        flag = _FLAG_TRUE.match(code)
        if value and flag and {"train", "training"} & set(name_tokens(flag.group(1))):
            return True
    # The same choice passed as a literal by the caller (`run(model, loader, train=True)`,
    # `run_epoch("train")`): the parameter holds it on this path.
    for name, value in state.env:
        if (value is True and {"train", "training"} & set(name_tokens(name))) or \
                (isinstance(value, str) and value.lower() in ("train", "training")):
            return True
    return False


# `train`, `self.training`, `(train == True)`, `is_train is True`: a flag that is true.
_FLAG_TRUE = re.compile(r"^\(?\s*([A-Za-z_][\w.]*)\s*(?:(?:==|is)\s*True\s*)?\)?$")


# What `_mode_dependence` names when the only mode-dependent layers are switched by a
# forward argument that this call leaves off (`model(x)` of `forward(self, x, is_training=False)`).
CALLER_GATED = "caller-gated"


def _mode_dependence(prog, forward) -> tuple:
    """(True/False/None, layer) for the model a forward pass calls: read from every value
    the name can hold (its assignments, and the arguments of the function's callers).
    (False, CALLER_GATED) when its dropout runs only if this call asked for it."""
    return _model_mode_dependence(prog, forward.key, forward.site.function, forward.site.node,
                                  call=forward.site.node)


def _model_mode_dependence(prog, key: str, function, at, call=None) -> tuple:
    """(True/False/None, layer) for the model `key` holds in `function` at node `at`; with
    the forward `call`, layers that the call leaves switched off do not count."""
    values = _built_from(prog, key, function, 0, at)
    while not values and "." in key.removeprefix("self."):
        key = key.rsplit(".", 1)[0]  # `model.decoder`: a part of `model`, which holds every layer
        values = _built_from(prog, key, function, 0, at)
    if not values:
        # `from model import model`: what the exporting module built (exit_modes.py).
        imported = imported_layers(prog.model, prog.flow.project, prog.flow.module_name, key) \
            if "." not in key else None
        return imported if imported is not None else (None, "")
    unknown = False
    gated = call is not None and all(caller_gated(prog.model, value, call) for value in values)
    if gated:
        return False, CALLER_GATED
    resolver = project_classes(prog.model, prog.flow.project, prog.flow.module_name)
    for value in values:
        found, what = mode_dependence(prog.model, value) if resolver is None else \
            with_outside(prog.model, resolver, lambda value=value: mode_dependence(prog.model, value))
        if found is None:
            # A model class of another module of the run: its summary says.
            found, what = prog.flow.imported_model(value) or (None, "")
        if found:
            return True, what
        unknown = unknown or found is None
    return (None, "") if unknown else (False, "")


def _unwritten_model(ctx, prog, forward) -> bool:
    """Every model the forward pass can run whose layers are unknown is built from a class
    defined only in a notebook cell that does not parse (an exercise left blank)."""
    if not getattr(ctx.source, "piece_errors", None):
        return False  # every cell parsed (the common case): nothing to look up
    key = forward.key
    values = _built_from(prog, key, forward.site.function, 0, forward.site.node)
    while not values and "." in key.removeprefix("self."):
        key = key.rsplit(".", 1)[0]  # `model.decoder`: a part of `model`
        values = _built_from(prog, key, forward.site.function, 0, forward.site.node)
    unknown = [v for v in values if mode_dependence(prog.model, v)[0] is None]
    return bool(unknown) and all(unparsed_class(prog.model, ctx.source, v) for v in unknown)


def _built_from(prog, key: str, function, depth: int, at=None) -> list:
    """The expressions that build the model `key` holds in `function` ([] when unknown)."""
    model = prog.model
    if depth > 3:
        return []
    found = []
    bindings = model.bindings_of(key, function)
    if at is not None and bindings and all(b.function is function and b.kind == "assign" for b in bindings):
        # The binding in force where the model is used (a notebook rebinds `model` per cell),
        # through `model = model.to(device)` / `DataParallel(model)` to what built it.
        order = source_order(model)
        # (`model = fit(model)` reads the binding above it: its own value runs first.)
        before = sorted((b for b in bindings if order.get(b.statement, 0) < order.get(at, 0)
                         and not model.is_within(at, b.statement)), key=lambda b: order.get(b.statement, 0))
        while before and (dotted_name(_unwrapped(before[-1].value)) if before[-1].index is None
                          else _handed_back(prog, before[-1])) == key:
            before.pop()
        if before:
            bindings = [before[-1]]
    for binding in bindings:
        if binding.kind == "param":
            given = prog.flow.arguments_of(binding.function, key)
            if not given:
                return []
            for value, caller in given:
                # The model each call passes: the binding in force at that call (a notebook
                # rebinds `model` between `train(model, ...)` calls).
                name = dotted_name(value)
                more = _built_from(prog, name, caller, depth + 1, at=value) if name else []
                if not more:
                    return []
                found += more
            continue
        if binding.kind == "assign" and binding.index is not None:
            # `model, opt, dl = accelerator.prepare(model, opt, dl)`, opacus'
            # `make_private(module=model, ...)`: the model handed in comes back wrapped.
            passed = _handed_back(prog, binding)
            if passed == key:
                continue  # the same model, wrapped: what built it is another binding
            more = _built_from(prog, passed, binding.function, depth + 1) if passed else []
            if not more:
                return []
            found += more
            continue
        if binding.kind == "for" and binding.index is None and type(binding.value) in (cst.List, cst.Tuple):
            # `for model in [mlp, cnn]: train(model)`: each model of the literal.
            for element in binding.value.elements:
                name = dotted_name(element.value) if type(element) is cst.Element else None
                more = _built_from(prog, name, binding.function, depth + 1, at=element.value) if name else \
                    ([element.value] if type(element.value) is cst.Call else [])
                if not more:
                    return []
                found += more
            continue
        if binding.kind != "assign":
            return []
        value = binding.value
        inner = _unwrapped(value)
        name = dotted_name(inner)
        if name == key:
            continue  # `model = model.to(device)`: the same module
        if name is None and type(inner) is cst.Call and type(inner.func) in (cst.Name, cst.Attribute):
            returned = _returned_models(prog, inner.func.value, depth) if type(inner.func) is cst.Name \
                else _method_returns(prog, inner, binding.function, depth)
            if returned is not None:  # `model = train_model(...)`: what the function returns
                if not returned:
                    return []
                found += returned
                continue
        if name is not None:
            more = _built_from(prog, name, binding.function, depth + 1)
            if not more:
                return []
            found += more
            continue
        found.append(value)
    return found


def _returned_models(prog, name: str, depth: int) -> Optional[list]:
    """What builds the models a module-level function of the file returns ([] when some
    return cannot be read), or None when `name` is no such function."""
    infos = prog.model.functions_named(name)
    if len(infos) != 1 or not infos[0].returns:
        return None
    return _what_returns_build(prog, infos[0], depth)


def _method_returns(prog, call, function, depth: int) -> Optional[list]:
    """`self.build_model()`: what builds the models the class's own factory method returns,
    or None when the call runs no such method."""
    factory = factory_of(prog.model, call, lambda inner: model_constructor(prog.model, inner) is not None)
    return _what_returns_build(prog, factory, depth) if factory is not None and factory.cls is not None else None


def _what_returns_build(prog, info, depth: int) -> list:
    found = []
    for ret in info.returns:
        value = ret.value
        returned = dotted_name(value) if value is not None else None
        more = _built_from(prog, returned, info.node, depth + 1) if returned else \
            ([value] if type(value) is cst.Call else [])
        if not more:
            return []
        found += more
    return found


def _handed_back(prog, binding) -> str:
    """The model a tuple-unpacking call hands back at the binding's position: a wrapper's
    argument (`_passed_back`), or the parameter a function of the file returns there
    (`model, losses = fit(model, ...)`); "" when unknown."""
    return _passed_back(binding) or dotted_name(prog.flow.returned_argument(binding.value, binding.index)) or ""


def _passed_back(binding) -> str:
    """The name a tuple-unpacking call hands back at the binding's position: its `module=` /
    `model=` argument for the first element, else the positional argument at that position
    when there are as many as targets; "" when unknown."""
    call = binding.value
    if type(call) is not cst.Call:
        return ""
    if binding.index == 0:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in ("module", "model"):
                return dotted_name(arg.value) or ""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if binding.arity is not None and len(positional) == binding.arity:
        return dotted_name(positional[binding.index]) or ""
    return ""


def _unwrapped(value):
    """What `value` runs: `model` for `model.to(dev)`, `DataParallel(model)`, `torch.compile(model)`."""
    while True:
        if type(value) is cst.Call and type(value.func) is cst.Attribute and \
                value.func.attr.value in SELF_RETURNING + ("train", "eval"):
            value = value.func.value
        elif (wrapped := wrapped_module(value)) is not None:
            value = wrapped
        else:
            return value


def _inside_a_module(prog, forward) -> bool:
    """A call inside a class with a `forward` (an nn.Module whose base may live elsewhere,
    `MegatronModule`): part of a bigger forward pass whose output leaves through it."""
    cls = prog.model.class_of(forward.site.function)
    return cls is not None and "forward" in cls.methods


def _untrained_here(prog, forward) -> bool:
    """A model built fresh in this scope and neither trained, loaded nor handed on before
    this forward pass (`net = VGG(); y = net(torch.randn(2, 3, 32, 32))`, a notebook's
    first look at a new model): a smoke test of its shapes, not an evaluation."""
    function = forward.site.function
    model = prog.model
    order = source_order(model)
    at = order.get(forward.site.node, 0)
    # The binding in force: the last one above the forward pass, in this scope.
    bindings = [b for b in model.bindings_of(forward.key, function) if order.get(b.statement, 0) < at]
    if not bindings or any(b.function is not function for b in bindings):
        return False
    last = max(bindings, key=lambda b: order.get(b.statement, 0))
    if last.kind != "assign" or type(last.value) is not cst.Call or not (
            prog.flow.fresh_model(last.value)
            or (type(last.value.func) is cst.Name and model.functions_named(last.value.func.value))):
        return False
    if wraps_given_model(model, last.value, function):
        return False  # `Featurizer(model)`, `DataParallel(model)`: the weights were handed in
    built_at = order.get(last.statement, 0)
    for site in model.calls_in(function):
        if not built_at < order.get(site.node, 0) < at or site.node is last.value \
                or prog.flow.fresh_model(site.node):
            continue  # only what runs between its construction and this forward can train it
        if prog.is_backward(site) or prog.is_step(site) or _may_train(prog, site):
            return False  # trained here, or a function of the file that may train it
        if site.method in ("load_state_dict", "load", "from_pretrained") or (site.qualname or "").endswith("load"):
            return False
        if site.method and site.method.startswith("load") and site.receiver is not None and \
                dotted_name(site.receiver) == forward.key:
            return False  # the model's own weight loader (`model.load_weights(path)`, darknet weights)
        if site.callee not in ("print", "repr", "str", "type", "id", "len") and \
                any(dotted_name(a.value) == forward.key for a in site.node.args):
            return False  # handed to a function that may train it (`print(net)` only shows it)
    return True


def _may_train(prog, site) -> bool:
    """A call of a function of the file that back-propagates or steps an optimizer, itself
    or through the file's functions it calls (`create_noise(...)` does not)."""
    resolved = prog.flow.resolve(site)
    if resolved is None:
        return False
    pending, seen = [resolved[0]], set()
    while pending and len(seen) < 16:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        for inner in prog.model.calls_in(function):
            if prog.is_backward(inner) or prog.is_step(inner) or inner.method in ("step", "backward"):
                return True
            deeper = prog.flow.resolve(inner)
            if deeper is not None:
                pending.append(deeper[0])
    return bool(pending)  # too deep to tell: it may


def _leaves_grad_to_caller(prog, forward) -> bool:
    """A public method of a model class (`Net.predict(x)` returning `self(x)`) that hands the
    output back, with no caller in sight: whether gradients are wanted is the library
    user's decision, not this method's."""
    info = prog.model.info(forward.site.function)
    if info is None or info.cls is None or info.name.startswith("_") or prog.result_use(forward.site) != ESCAPES \
            or not (is_module_class(prog.model, info.cls) or _one_pass_of_own_model(prog, forward, info)):
        return False
    if not any(isinstance(r.value, cst.BaseExpression) for r in info.returns):
        return False
    if prog.flow.call_sites_of(info.node) or prog.flow.callers.get(info.node):
        return False
    project, module = prog.flow.project, prog.flow.module_name
    return not (project is not None and module and hasattr(project, "call_contexts")
                and project.call_contexts(module, info.qualname))


def _one_pass_of_own_model(prog, forward, info) -> bool:
    """A forward pass of a model the object holds (`self.actor(states)`) in a method that
    builds a `torch.distributions` object and takes log-probabilities (an RL agent's
    `evaluate(states, actions)`, the PPO sense: values and log-probabilities handed back for
    the loss), with no loop over data and no mode switch: a computation for a gradient."""
    if not forward.key.startswith("self.") or prog.loops_of(forward.site.node):
        return False
    methods = {site.method for site in info.calls}
    return "log_prob" in methods and not methods & {"eval", "train"} and \
        any((site.qualname or "").startswith("torch.distributions.") for site in info.calls)


def _runs_grad_free(prog, forward) -> bool:
    """The model's class can run its forward with gradients off by itself (`return
    self.inference(x)` to a `@torch.no_grad()` method); see grad_free.py for an unknown class."""
    key = forward.key
    values = _built_from(prog, key, forward.site.function, 0, forward.site.node)
    while not values and "." in key.removeprefix("self."):
        key = key.rsplit(".", 1)[0]  # `model.head`: a part of `model`
        values = _built_from(prog, key, forward.site.function, 0, forward.site.node)
    return may_run_grad_free(prog.model, prog.flow.project, prog.flow.module_name, values)


def _runs_named_method(forward) -> bool:
    """`model.infer(x)`: a method of the model other than `forward` runs, so whether some
    class's `forward` turns gradients off (`@torch.no_grad() def forward` of a library's
    inference wrapper in the same run) says nothing about this call."""
    callee = forward.site.callee or ""
    return forward.site.method not in (None, "forward", "__call__") and callee.startswith(forward.key + ".") \
        and callee.count(".") == forward.key.count(".") + 1


def _region(prog, site) -> tuple:
    loops = prog.loops_of(site.node)
    return (site.function, loops[-1] if loops else None)


def _model_root(key: str) -> str:
    """`model` for `model.encoder`, `self.net` for `self.net.head`: the model a key belongs to."""
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] == "self" and len(parts) > 1 else parts[0]


def _eval_forwards(ctx) -> list:
    """(program, forward, [(state, evidence)]) for each evaluation forward pass, skipping pytest
    tests. Computed once per file and program: TRN101 and TRN102 read the same list."""
    prog = program(ctx)
    cached = ctx.shared.get("mode.eval_forwards")
    if cached is not None and cached[0] is prog:
        return cached[1]
    found = []
    pytest_file = _is_pytest_file(ctx.path, prog.model)
    # Tests run models on purpose (comparing outputs, checking shapes): behaviour alone
    # says nothing there.
    test_code = pytest_file or bool({"tests", "test"} & set(ctx.path.replace(os.sep, "/").split("/")[:-1]))
    helped = prog.helper_forwards()
    through_code = {id(f) for f in helped}
    for forward in [*prog.forwards(), *helped]:
        if pytest_file and _in_test_function(prog.model, forward.site.function):
            continue
        if _in_test_case(prog.model, forward.site.function):
            continue  # a unittest method: a check of the model, not an evaluation
        if _holds_no_parameters(prog, forward):
            continue  # a renderer or a fixed transform written as a module: no model to evaluate
        if _lightning_training_helper(prog, forward):
            continue  # a step shared with `training_step`: Lightning back-propagates its loss
        if _numpy_backed(prog, forward):
            continue  # an ONNX Runtime / numpy model behind a plain wrapper: no torch module runs
        # An untrained model's first forward pass is a smoke test, unless it is given
        # evaluation data: then the code does evaluate it (and a model in training mode).
        untrained = _untrained_here(prog, forward)
        inside = _inside_a_module(prog, forward)
        # Through a helper or a model method the call alone tells training from evaluation:
        # its data or names must say so, not the absence of a backward.
        by_behaviour = not untrained and not test_code and id(forward) not in through_code
        evaluated = []
        for state in prog.flow.states_at(forward.site.node):
            evidence = prog.eval_evidence(forward, state, names=False) if untrained else \
                prog.eval_evidence(forward, state) or (by_behaviour and _behaviour(prog, forward, state, inside))
            if not evidence and by_behaviour and not inside and _inference_only(prog, forward, state):
                evidence = INFERENCE_EVIDENCE
            if evidence:
                evaluated.append((state, evidence))
        if evaluated:
            found.append((prog, forward, evaluated))
    ctx.shared["mode.eval_forwards"] = (prog, found)
    return found


def _lightning_training_helper(prog, forward) -> bool:
    """The forward runs in a method of a LightningModule that its `training_step` calls
    (`loss = self._shared_eval_step(batch)`): whatever the helper is named, that path is
    training, and on the validation and test paths Lightning itself switches the module to
    eval mode with autograd off."""
    info = prog.model.info(forward.site.function)
    if info is None or info.cls is None or info.name in LIGHTNING_TRAIN_HOOKS:
        return False
    if not (is_lightning_class(prog.model, info.cls) or "training_step" in info.cls.methods):
        return False
    for site, _bound in prog.flow.call_sites_of(info.node):
        caller = prog.model.info(site.function) if site.function is not None else None
        if caller is not None and caller.cls is info.cls and caller.name in LIGHTNING_TRAIN_HOOKS:
            return True
    return False


def _numpy_backed(prog, forward) -> bool:
    """Every value the called name can hold builds a plain class of this file (no base class)
    whose `__call__` reads its input only as a numpy array (`x.cpu().numpy()`): an ONNX
    Runtime session or a numpy model behind a wrapper. No torch module runs, so there is no
    mode to set and no graph to record. A wrapper that hands the tensor to a torch module
    (`return self.net(x)`) is not one."""
    values = _built_from(prog, forward.key, forward.site.function, 0, forward.site.node)
    return bool(values) and all(_numpy_backed_class(prog.model, v) for v in values)


def _numpy_backed_class(model, value) -> bool:
    if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
        return False
    cls = model.class_info.get(value.func.value)
    if cls is None or any(base != "object" for base in cls.bases) or "__call__" not in cls.methods:
        return False
    call = cls.methods["__call__"]
    params = call.positional  # (without `self`)
    if not params:
        return False
    data = params[0]
    as_numpy: set = set()
    for node in _walk(call.node.body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "numpy":
            receiver = node.func.value
            while isinstance(receiver, (cst.Call, cst.Attribute)):
                receiver = receiver.func.value if isinstance(receiver, cst.Call) and \
                    isinstance(receiver.func, cst.Attribute) else getattr(receiver, "value", None)
                if receiver is None:
                    break
            if isinstance(receiver, cst.Name):
                as_numpy.add(id(receiver))
    reads = [n for n in _walk(call.node.body) if isinstance(n, cst.Name) and n.value == data]
    return bool(reads) and all(id(n) in as_numpy for n in reads)


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(syntactic_children(current))


def _behaviour(prog, forward, state, inside: bool) -> Optional[str]:
    """Evaluation by behaviour. Inside a class with a `forward` a call may be part of a bigger
    forward pass, whose output leaves through it: only the strongest behaviour counts there,
    the model switched to eval mode and trained in training mode in the same method (a
    wrapper's `fit` that calibrates or validates after its training loop)."""
    evidence = prog.behaviour_evidence(forward, state)
    if inside and evidence == BEHAVIOUR_EVIDENCE:
        return None
    return evidence


INFERENCE_EVIDENCE = "in eval mode, in a file that trains nothing (inference)"


def _inference_only(prog, forward, state) -> bool:
    """An inference or evaluation script: the model is in eval mode on this path and nothing in
    the file back-propagates or steps an optimizer, so no forward pass here feeds training,
    whatever is done with its output (drawn, saved, compared with a query's features)."""
    trains = prog.model.cache.get("mode.file_trains")
    if trains is None:
        trains = prog.model.cache["mode.file_trains"] = any(
            prog.is_backward(site) or prog.is_step(site) or site.method in ("backward", "step")
            for site in prog.model.calls)
    if trains or prog.path_use(forward.site, state) in (SHAPE, TRAINING) or prog.discarded(forward.site):
        return False  # (a warm-up call whose output is thrown away evaluates nothing)
    return state.mode(forward.key) == EVAL or _eval_since_init(prog, forward.key, forward.site.function)


def _eval_since_init(prog, key: str, function) -> bool:
    """`self.model` of a wrapper (a predictor, an embedder) switched to eval mode in the
    class's `__init__` (`self.model.eval()`, `self.model = net.eval()`) and never switched
    back anywhere in the file: every method meets it in eval mode."""
    model = prog.model
    cls = model.class_of(function) if function is not None else None
    if not key.startswith("self.") or key.count(".") != 1 or cls is None:
        return False
    init = next((i.node for i in model.function_info.values() if i.cls is cls and i.name == "__init__"), None)
    if init is None:
        return False
    switched = False
    for site in model.calls:
        if site.method not in ("eval", "train") or site.receiver is None:
            continue
        receiver = dotted_name(_unwrapped(site.receiver))
        if site.method == "train" and not (site.node.args and dotted_name(site.node.args[0].value) == "False"):
            if receiver is None or _same_module(key, receiver):
                return False  # switched to training somewhere: the mode depends on the path
            continue
        if site.function is init and (receiver == key or any(
                b.function is init and model.is_within(site.node, b.value) for b in model.bindings_of(key, init))):
            switched = True
    return switched


def _feeds_a_gradient(prog, forward) -> bool:
    """The output reaches `torch.autograd.grad(...)`: an input gradient (an adversarial attack,
    a saliency map), a meta-learning inner step or a gradient penalty needs the graph, so the
    forward pass runs with autograd on by design, whatever data it is given."""
    site = forward.site
    use = result_use(prog.model, site.node, site.function, _takes_a_gradient,
                     lambda name, function: False, lambda other: False)
    return use[0] == TRAINING


def _takes_a_gradient(site) -> bool:
    return (site.qualname or "").endswith("autograd.grad")


def _switched_to_eval_here(prog, key: str, before=None) -> bool:
    """The file calls `key.eval()` (or `.train(False)`) somewhere (above node `before`, when
    given): its eval mode is a choice made here, not the mode a loader returned the model in."""
    order = source_order(prog.model) if before is not None else None
    for site in prog.model.calls:
        if site.method not in ("eval", "train") or site.receiver is None:
            continue
        if order is not None and order.get(site.node, 0) > order.get(before, 0):
            continue
        if site.method == "train" and not (site.node.args and dotted_name(site.node.args[0].value) == "False"):
            continue
        if _same_module(key, dotted_name(_unwrapped(site.receiver)) or ""):
            return True
    return False


def _why_in_eval(prog, key: str, function) -> str:
    """How the model of a training step came to be in eval mode, for the message."""
    loaded = any(b.kind == "assign" and loaded_in_eval_mode(prog.model, b.value)
                 for b in prog.model.bindings_of(key, function))
    switched = _switched_to_eval_here(prog, key)
    if loaded and not switched:
        return "`from_pretrained()` returns models in eval mode, with dropout off"
    if loaded:
        return "`from_pretrained()` returns models in eval mode, and no `.train()` comes before this step " \
               "on some path"
    return "set by an earlier `.eval()` on this path, e.g. in the previous epoch's evaluation"


def _holds_no_parameters(prog, forward) -> bool:
    """Every value the called name can hold builds a module class of the file with no
    parameters and no mode-dependent step (`ComputeDepthMaps()`)."""
    values = _built_from(prog, forward.key, forward.site.function, 0, forward.site.node)
    return bool(values) and all(parameter_free(prog.model, v) and mode_dependence(prog.model, v)[0] is not True
                                for v in values)


def _eval_for_the_whole_run(prog, site, key: str, states: list) -> bool:
    """`key` is in eval mode at this step on every path, was already before training began
    (set by the caller of the training function, or before the training loop at the top
    level: `net.eval()` at build time to freeze batch norm), and the training code switches
    no model to training mode itself. A setting for the whole run, not the `.eval()` of an
    evaluation left in force. Where the training code does call `.train()` (on another model,
    a head), leaving this one in eval may be the slip, and it stays reported."""
    if not states or any(s.mode(key) != EVAL for s in states) or not _switched_to_eval_here(prog, key):
        return False  # (in eval mode without an `.eval()`: loaded so by `from_pretrained()`)
    loops = prog.loops_of(site.node)
    if site.function is not None:
        # Entered only from the top level (`if __name__ == "__main__": train()`), after the
        # model was built: not from a method that switches it per step.
        calls = prog.flow.call_sites_of(site.function)
        if not calls or any(call.function is not None for call, _ in calls):
            return False
        before = prog.flow.entry.get(site.function, [])
        region = site.function
    else:
        before = prog.flow.loop_entry_states(loops[-1]) if loops else []
        region = loops[-1] if loops else None
    if not before or any(s.mode(key) != EVAL for s in before) or region is None:
        return False
    return not any(other.method == "train" for other in prog.sites_in(region, site.function))


class MissingEvalMode(Rule):
    code = "TRN101"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    # An evaluation helper handed model and data by a training script of another module
    # (`def evaluate(model, loader)` in utils.py) need not import torch at all.
    # A trainer module handed its model (mode switched, torch never named) too.
    needs_imports = ("torch", "eval", "valid", "test", "predict", "infer", ".train(")
    name = "missing-eval-mode"
    severity = Severity.ERROR
    summary = "A model is evaluated while it can still be in training mode."
    what = """
        Follows each model's mode (`.train()`, `.eval()`, `.train(False)`, a fresh model is in
        training mode) along every path, through helpers that switch it and through the callers
        of evaluation functions, loops counted as running more than once. Flags a forward pass
        used for evaluation where the model can still be in training mode.

        A forward pass is evaluation by what is done with it: its output is only read as
        numbers (`.item()`, `.argmax()`, a comparison, `.cpu().numpy()`, printing, metrics)
        and never reaches `backward()` or an optimizer step; or it is given validation/test
        data; or it runs in an evaluate/validate/test/predict function whose output is read
        and which no caller of the file back-propagates; or it runs under `torch.no_grad()`
        inside a training loop, given validation/test data (a validation batch drawn with
        `next(iter(val_loader))`: the binding of a name in force at the call counts, through
        arithmetic and concatenation, even when the training batches reuse the name); or,
        in a file that never trains, it runs a model whose weights the function loaded
        (`load_state_dict`) and no `.train()` call asks for training mode (a prediction
        script saving its outputs). A name alone never decides, and a
        name cannot override training behaviour. Not evaluation: a generator's samples (its
        output feeds another model) and random-noise inputs, except in a file that never
        trains and loads the generator's weights (a pretrained GAN's sampling notebook), an untrained model's first forward
        pass (a smoke test of shapes; a model restored by `load_state_dict` or by its own
        `load_*` method, `model.load_weights(path)`, is not untrained), string-only inputs, forward passes inside a module's
        own methods, and behaviour alone in test code. `model.generate(...)` is a forward pass
        of `model` (Hugging Face's decoding runs in the model's current mode; it takes no
        gradients itself, so TRN102 leaves it alone).

        Across boundaries it sees: models built at module level and read as globals by
        functions (`def test(): model(x)` called from the script), `self.model` built in
        `__init__`/`build()` (also stored from a local the method built: `model = Net();
        self.model = model`) and read by other methods (and through a local alias, `model =
        self.model`, or of a parameter's attribute, `model = context.model`), functions
        nested in one function that share its model (`_train_epoch` calling `_eval_epoch`
        inside `main`), parameters filled with models whatever their name (`m`), helpers that
        switch a parameter or a global, callers in other checked files (`evaluate(model,
        loader)` imported elsewhere, also through `from module import *`; needs both files in
        the same run), and model classes of other checked modules (`from net import CNN; cnn
        = CNN()` is a new model, in training mode; so is what another package's builder
        returns, `net = build_net("resnet18")` or `netlib.ResNet(18)`, or a class or constructor
        that a function handed back and a variable holds, `builder = net_builder(args.net);
        net = builder(num_classes=10)`, once the file uses it as
        a module, loading a state dict into it or reading its parameters: not a loader, whose
        model keeps the mode it was saved in, `torch.load`, `from_pretrained`, `load_*`; also when a package re-exports the class,
        `from unet import UNet`), and functions that return newly built models (`model =
        get_model("LeNet")`, in the file or another module, or the class's own factory method:
        `self.phi = self.get_model()`). A `self.model` that its class builds fresh and only
        ever switches to training mode (`self.model.train()` in `fit_one_epoch`) is in training
        mode in every method, even when the class is driven from another file. A call of a
        name bound to a model class of another checked module is a forward pass whatever the
        name (`G = Generator(); G(noise)`). A model handed to a function of
        another checked module has the mode that function leaves it in (`get_loss(model)`
        calling `model.eval()`), and a method of the project's model classes switches the model
        it is called on (`model.predict(x)` calling `self.eval()`) when every model class of the
        run that defines the name agrees; methods called on an object of a class of the file
        (`trainer.validate()`) see its attributes as `self.*`, and a function nested in another
        reads the outer one's model (`def evaluate(): model(x)` inside `main`). `transformers`'
        `from_pretrained()` returns models in eval mode; `Net().eval()` is in eval mode from its
        construction; a torchvision constructor chosen by name (`models.__dict__[arch]
        (pretrained=True)`, `getattr(models, arch)(...)`) builds a model in training mode. `DataParallel(model)` keeps the wrapped model's mode, and
        `model.module.eval()` switches the wrapper too. A module class of the file that holds no
        parameters or layers (a renderer, a fixed transform) is not a model to evaluate. A model never switched nor handed to another function anywhere in the
        file is in training mode in every function. A loop that trains (itself, or through a
        helper of the file such as `train_epoch()`) runs at least once. A helper that returns
        the model it was given (`model, losses = fit(model, ...)`) hands it back in the mode
        it left it in; so does a function of another checked module (`model =
        train_model(model, ...)`, or `model = train_model(epochs, loader)` building, training
        and returning it). A model object imported from another checked module (`from model
        import model`) is in the mode that module's top-level code leaves it in (trained there
        and never switched: training mode; code under `if __name__ == "__main__":` does not
        run on import). A helper shared by training and validation that runs the model it is
        handed and returns the result, leaving mode and autograd to its caller (`loss =
        compute_loss(model, batch)`, in the file or imported from another checked module),
        and a model method that runs its layers for the caller (`agent.act(obs)`, also of a
        model class of another module when every model class of the run defining the name
        does so), are read at each call as a forward pass of the model handed in or called
        on: the validation call, over validation/test data, is reported there (from the data
        and names at the call, never from behaviour alone). An object built from the caller's
        model (`evaluator = Evaluator(model, val_loader)`, keeping `self.model = model`) runs
        that model, in the caller's mode at the call; so does a module class of the file with
        no dropout or batch norm of its own built around the model a function was handed
        (`featurizer = Featurizer(model)`, also inside `DataParallel`): no untrained model,
        and its layers are not all visible. A function called both in its own file and from
        other checked modules takes the contexts of all those calls. Evaluation written as a comprehension
        over validation data (`sum(... model(x) ... for x, y in val_loader)`) is given that data.
        Paths are told apart by the flags that choose them: in a helper serving both modes
        (`if train: model.train() else: model.eval()`, `if self.stage == "train":` around the
        backward) each path keeps its own mode (`mode == 'train'` and `mode == "train"` are one
        flag, `mode != "train"` its negation). It cannot see: entry points whose callers are
        outside the run (mode unknown: silent, except where the same function first trains the
        model, then evaluates it with no mode call and no helper handed the model in between:
        both run in one mode, and a model with a visible dropout or batch norm layer is
        flagged), a model switched through an alias it cannot
        follow, modes set by a framework other than Lightning, or two sibling scripts'
        modules of the same name (`a/utils.py`, `b/utils.py` outside packages: one of them
        is read).

        A `model.eval()` in every caller satisfies it, and so does one under `if
        isinstance(model, nn.Module):`; a path chosen by a training flag (`if train:
        model.train()`) is the caller's choice; Lightning's `validation_step`/`test_step` run
        in eval mode and are not flagged. Dropout that `forward` applies only when one of its
        arguments asks for it (`if is_training: h = self.dropout(h)`, `F.dropout(h,
        training=flag)`, a rate argument: `nn.Dropout(d)(h)`) is the caller's switch: a call
        that leaves it off (not given and false by default, or `False`/`0`) is not flagged.

        Severity: error when the model has a mode-dependent layer (dropout, batch norm,
        instance norm with running statistics, `F.dropout(training=self.training)`, recurrent
        dropout between stacked layers) or when its layers are not all visible (an imported
        or loaded model); info, saying so, when every layer is visible in the file (its class,
        the classes it builds, an `nn.Sequential`, also over a list filled by `append`/`extend`
        or returned by a method; for a helper's parameter, the models passed at its calls)
        and none depends on the mode: both modes compute the same numbers. A model whose class
        is defined only in a notebook cell that does not parse (an exercise's blanks) is not
        flagged: there is nothing to read, and TRN000 names the cell.
        """
    why = """
        In training mode dropout keeps dropping units and batch norm normalises with the
        statistics of the evaluation batch (and updates its running averages with them): the
        reported metrics are noisy and wrong, and the model changes while being measured.
        """
    instead = "Call `model.eval()` before evaluating (and `model.train()` before training again)."
    bad_examples = (
        """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        with torch.no_grad():
            test_logits = model(x_test)
        """,
        """
        import torch

        def evaluate(model, loader):
            with torch.no_grad():
                return [model(x) for x, _ in loader]

        def main(model, train_loader, val_loader, opt):
            for epoch in range(10):
                model.train()
                for x, y in train_loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                evaluate(model, val_loader)
        """,
    )
    good_examples = (
        """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        model.eval()
        with torch.no_grad():
            test_logits = model(x_test)
        """,
        """
        import torch

        def evaluate(model, loader):
            with torch.no_grad():
                return [model(x) for x, _ in loader]

        def main(model, train_loader, val_loader, opt):
            for epoch in range(10):
                model.train()
                for x, y in train_loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                model.eval()
                evaluate(model, val_loader)
        """,
    )

    def check(self, ctx) -> None:
        reported = set()
        for prog, forward, evaluated in _eval_forwards(ctx):
            bad = [(s, e) for s, e in evaluated if s.mode(forward.key) == TRAIN and not _chose_training(s)]
            shared = [] if bad else shared_with_training(prog, forward, evaluated)
            if shared and _mode_dependence(prog, forward)[0] is True:
                bad = shared  # trained earlier in this function, same unknown mode: dropout/BN visible
            # One report per evaluation loop (or function) and model: a notebook's top level is
            # one region, where each model evaluated in training mode is its own slip.
            region = (*_region(prog, forward.site), _model_root(forward.key))
            if not bad or region in reported:
                continue
            reported.add(region)
            evidence = bad[0][1]
            dependent, what = _mode_dependence(prog, forward)
            key = forward.key
            if what == CALLER_GATED:
                continue  # its dropout runs only when the caller asks, and this call does not
            if dependent is None and _unwritten_model(ctx, prog, forward):
                continue  # its class is in a cell that does not parse (TRN000): nothing to read
            if dependent is False:
                ctx.report(forward.site.node,
                           f"`{key}` is evaluated {evidence} while it can still be in training mode; harmless "
                           f"as written: its layers, all visible here, have no dropout or batch norm, so both "
                           f"modes compute the same output. Call `{key}.eval()` anyway, so that adding such a "
                           f"layer later does not change the results", severity=Severity.INFO,
                           fix=eval_mode_fix(ctx, forward.site.node, key))
                continue
            effect = f"its {what} behaves as in training" if dependent else \
                "dropout and batch norm, if it has any, behave as in training"
            ctx.report(forward.site.node,
                       f"`{key}` is evaluated {evidence} but can still be in training mode here "
                       f"({effect}); call `{key}.eval()` before evaluating",
                       fix=eval_mode_fix(ctx, forward.site.node, key))


class MissingNoGrad(Rule):
    code = "TRN102"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "missing-no-grad"
    needs_imports = MODE_WORDS
    severity = Severity.WARNING
    summary = "An evaluation forward pass runs with autograd enabled."
    what = """
        Flags a forward pass used for evaluation (as TRN101 decides it: by what is done with
        the output, by the data it is given, or inside an evaluation function whose output is
        read; also a forward pass after `model.eval()` in a function that trains the same
        model in training mode, whose output is only read: the validation pass of a
        full-batch training step, the `train=False` path of a train-or-evaluate helper; and,
        in a file that back-propagates nothing, any forward pass of a model in eval mode:
        an inference or search script, whatever it does with the output; a wrapper's
        `self.model` switched to eval in `__init__` and never back counts as in eval mode)
        that can run with gradient tracking on: not under `torch.no_grad()`,
        `torch.inference_mode()` or `torch.set_grad_enabled(False)` (as a context or a
        decorator), neither in the function nor around every call of it (callers in other
        files of the run count, also two calls up: a wrapper's method reached through a
        function of another module that is handed the wrapper, `eval_model(model)` under
        `no_grad` looping `model.predict(batch)`, runs as that call does; so does a method
        no call resolves to when every call of its name in the run is under `no_grad`,
        through an object a registry built, `self.helper.eval_step(batch)`, or a dict of
        lambdas handing the method back, `STEPS[kind](self)(batch)`; a `self.name(...)` call
        there counts only for its own class family, not for a sibling class's method, and
        calls on scikit-learn or NumPy objects, or in a file importing no torch-capable
        module, do not count).
        Reported once per evaluation loop (the innermost loop around the forward pass, or
        the function): a validation loop and a test loop inside one epoch loop are two
        findings, and so are a loop that samples from one model and the reranking with
        another after it.
        A `with torch.no_grad():` block that only aliases the input (`noisev = noise`, the
        port of `Variable(noise, volatile=True)`) ends before the forward pass below it: a
        forward pass given that alias, outside any loop or function that back-propagates, is
        flagged whatever its data (a GAN's sample generation).
        A generator sampled from noise drawn in a function that back-propagates nothing
        (not fixed noise kept for monitoring, `self.validation_z`), its output
        only read (drawn, saved): sampling is no evaluation for the mode (a GAN may sample in
        training mode on purpose), but the graph is wasted all the same: flagged; a sampler that
        hands its samples back is not (its caller may train on them). A warm-up call whose
        output is thrown away (`_ = model(torch.zeros(1, 3, h, w))  # run once`) evaluates
        nothing and is not flagged.
        A helper's parameter (`def evaluate(searcher, vocab, sentence)`) is a model when a
        caller in the file hands it one, whatever it is named; a module class built from models
        it is given (`GreedySearchDecoder(encoder, decoder)`) holds their parameters.
        A trainer's own helper method that runs its model and returns the output
        (`def _forward(self, batch): return self.model(batch)`) is a forward pass of that model
        where it is called: `out = self._forward(batch)` in `predict()` is evaluation. A named
        model method (`model.infer(x)`) is not excused by some class of the run whose `forward`
        turns gradients off. A trainer module handed its model need not name torch: a file
        that calls `.eval()` or `.train()` is read too.
        `Variable(x, volatile=True)` is no protection: PyTorch
        ignores `volatile` since 0.4 (with a warning) and records the graph, so code of the
        0.3 era that relied on it builds graphs under any PyTorch installed today (its
        upstreams fixed it with `torch.no_grad()`). Not flagged: a forward pass whose
        output reaches `torch.autograd.grad(...)` (an adversarial attack
        or a saliency map inside a validation function, a meta-learning adaptation step:
        the gradient is the point), or one of a model frozen for good (every parameter's
        `requires_grad` turned off in the same scope, never turned back on, not given to an
        optimizer: no graph is recorded). `module.forward(x)` is a forward pass of `module`;
        so is, inside a model class, a call of one of its abstract methods (a template's
        `self.set_forward(x)` declared with `@abstractmethod` or a body that only passes or
        raises NotImplementedError: each subclass implements it as its forward pass), and
        a call of a model kept in a dict of models (`models["encoder"](x)`, `self.nets["g"](x)`,
        where the dict is built with models in it, its items are switched to eval or
        training mode in the function or, for an attribute, in the class, or it is a
        parameter whose models the function switches).

        Not forward passes: calls whose name starts with a verb acting on a model
        (`clf.save_model("test_model")`, `accelerator.unwrap_model(m)`), capitalised names
        (a class being built), tokenizers, processors, transforms and `transformers.pipeline`
        objects (they run under no_grad themselves); strings, numbers and random noise are
        never data (`validation_z = torch.randn(...)` is a generator's fixed noise);
        TensorFlow, Keras and JAX models (`TFAutoModel...`) are not torch's, nor are the
        methods of an inference runtime's object (`ie = Core()` of OpenVINO, then
        `ie.read_model(...)`); a module class that only wraps torch losses (label smoothing
        around `nn.KLDivLoss`) is a criterion, not a model. A public
        method of a model class that returns its output (`Net.predict(x)`) leaves the grad
        mode to its caller when no caller is in sight: no finding; so does an RL agent's
        method that hands back the log-probabilities of a `torch.distributions` object built
        on its own model's output (PPO's `evaluate(states, actions)`, for the loss). A model
        whose class turns gradients off in its own `forward` (a detector's `return
        self.inference(x)` to a `@torch.no_grad()` method) records no graph: not flagged;
        when the model's class cannot be told, a run holding such a class stays silent.

        Severity: warning (memory and time wasted on every evaluation batch); info for a
        single forward pass on evaluation data at the top level of a script (one batch's
        graph, once); a demo's single top-level prediction judged by behaviour alone is not
        reported.
        """
    why = """
        Autograd records a graph for every evaluation batch: memory grows with the batch
        (often the cause of out-of-memory errors during validation) and evaluation runs
        slower, for gradients nobody uses.
        """
    instead = "Wrap evaluation in `with torch.no_grad():` (or `torch.inference_mode()`), or decorate the function."
    bad_examples = (
        """
        import torch

        def validate(model, val_loader):
            model.eval()
            correct = 0
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
            return correct
        """,
    )
    good_examples = (
        """
        import torch

        @torch.no_grad()
        def validate(model, val_loader):
            model.eval()
            correct = 0
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
            return correct
        """,
    )

    def check(self, ctx) -> None:
        reported = set()
        optimized = _UNSET = object()
        for prog, forward, evaluated in _eval_forwards(ctx):
            bad = [(s, e) for s, e in evaluated if s.grad == ON]
            if forward.site.method == "generate":
                continue  # `generate()` decodes under no_grad itself (Hugging Face's is decorated so)
            # One report per evaluation loop (the innermost loop around the forward pass, or the
            # function): a validation loop and a test loop inside one epoch loop are two
            # evaluations, and so are the sampling loop and the reranking of a chat loop.
            loops = prog.loops_of(forward.site.node)
            region = (forward.site.function, loops[0] if loops else None)
            if not bad or region in reported or _leaves_grad_to_caller(prog, forward) \
                    or _feeds_a_gradient(prog, forward):
                continue
            if optimized is _UNSET:
                optimized = _optimized_modules(prog)
            if frozen_for_good(prog, forward.key, forward.site.function, forward.site.node, optimized):
                continue  # every parameter frozen: no graph is recorded, with or without no_grad
            if not _runs_named_method(forward) and _runs_grad_free(prog, forward):
                continue  # its forward turns gradients off itself (a detector's inference branch)
            # One forward pass at the top of a script costs one batch's graph, once: hygiene
            # when it is given evaluation data, nothing worth saying for a demo's prediction.
            once = forward.site.function is None and not prog.loops_of(forward.site.node)
            if once and all(by_behaviour_only(e) or e == INFERENCE_EVIDENCE for _, e in bad):
                continue
            reported.add(region)
            ctx.report(forward.site.node,
                       f"`{forward.key}` is evaluated {bad[0][1]} with autograd enabled, building a graph "
                       f"nobody uses{' (once, at top level)' if once else ''}; wrap it in "
                       f"`with torch.no_grad():` or `torch.inference_mode()`",
                       fix=no_grad_fix(ctx, forward.site.node), severity=Severity.INFO if once else None)
        _report_no_grad_aliases(ctx, reported)
        _report_plotted_samples(ctx, reported)


def _checks_the_model(ctx, prog, site) -> bool:
    """Test code (a pytest file, a tests/ folder, a unittest method) runs models on purpose."""
    path_parts = set(ctx.path.replace(os.sep, "/").split("/")[:-1])
    return bool({"tests", "test"} & path_parts) or _is_pytest_file(ctx.path, prog.model) or \
        _in_test_case(prog.model, site.function)


def _report_plotted_samples(ctx, reported: set) -> None:
    """A generator sampled from noise in a function that trains nothing, its output only
    read (drawn, saved as numbers): `def plot_samples(G): imgs = G(torch.randn(25, 100))
    .detach().numpy()`. Sampling is no evaluation for the mode (TRN101: a GAN may sample in
    training mode on purpose), but the graph autograd records for it is wasted all the same."""
    prog = program(ctx)
    for forward in prog.forwards():
        site = forward.site
        if site.function is None or forward.site.method == "generate" or not prog.samples_noise(site) or \
                _checks_the_model(ctx, prog, site):
            continue
        first = site.node.args[0].value if site.node.args else None
        if type(first) is not cst.Call and (type(first) is not cst.Name or any(
                b.function is not site.function for b in prog.model.bindings.get(first.value, ())
                if b.target == first.value and b.function is not None)):
            continue  # fixed noise kept for monitoring (`self.validation_z`): drawn once, not here
        loops = prog.loops_of(site.node)
        region = (site.function, loops[0] if loops else None)
        if region in reported or prog.backward_reachable(site.function, site.function, None):
            continue
        states = prog.flow.states_at(site.node)
        if not states or any(s.grad != ON or prog.path_use(site, s) != READOUT for s in states) or \
                _feeds_a_gradient(prog, forward) or _runs_grad_free(prog, forward):
            continue
        reported.add(region)
        ctx.report(site.node,
                   f"`{forward.key}` samples from noise with autograd enabled and its output is only read "
                   f"(drawn or saved), building a graph nobody uses; wrap it in `with torch.no_grad():`",
                   fix=no_grad_fix(ctx, site.node))


def _report_no_grad_aliases(ctx, reported: set) -> None:
    """A forward pass given a name that a `no_grad` block only aliased (`with torch.no_grad():
    noisev = noise` and `netG(noisev)` below it): the author asked for no graph, and the block
    ends before the model runs. Its output must not train anything."""
    prog = program(ctx)
    for forward in prog.forwards():
        site = forward.site
        loops = prog.loops_of(site.node)
        region = (site.function, loops[0] if loops else None)
        if region in reported or forward.site.method == "generate" or _checks_the_model(ctx, prog, site):
            continue
        alias = next((no_grad_alias(prog.model, a.value, site.node, site.function) for a in site.node.args
                      if a.keyword is None and not a.star), None)
        if alias is None:
            continue
        container = loops[0] if loops else site.function
        if container is not None and prog.backward_reachable(container, site.function, None):
            continue  # a training step's detached input (a GAN critic's fake batch): not an evaluation
        states = [s for s in prog.flow.states_at(site.node) if s.grad == ON]
        if not states or any(prog.path_use(site, s) in (TRAINING, SHAPE) for s in states) or \
                _feeds_a_gradient(prog, forward) or _runs_grad_free(prog, forward):
            continue
        reported.add(region)
        ctx.report(site.node,
                   f"`{forward.key}` runs on `{alias.target}`, which the `with torch.no_grad():` block above "
                   f"only aliases: the block ends before this forward pass, so autograd records a graph "
                   f"nobody uses; move the call into the block (or wrap it in `torch.no_grad()`)",
                   fix=no_grad_fix(ctx, site.node))


class MissingTrainMode(Rule):
    code = "TRN103"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    # A runner stepping a wrapper of another module (`self.model.step(data)`) need not import torch.
    # A trainer module switching modes without naming torch too.
    needs_imports = ("torch", "step(", "backward", ".eval(", ".train(")
    name = "missing-train-mode"
    severity = Severity.ERROR
    summary = "A training step can run while the model is in eval mode."
    what = """
        Flags an optimizer step (or backward, when no step is in sight) whose model can be
        in eval mode on some path: e.g. `model.eval()` (directly, in a helper, or in an
        evaluation function that switches a global model) at the end of an epoch and no
        `model.train()` at the top of the next one. Module-level models trained by functions
        (`def train(): ...` in a tutorial script) are followed like local ones.

        A model whose parameters reach none of the file's optimizers (a frozen backbone under
        a linear probe, a reference model) may stay in eval mode on purpose and is not
        flagged. Any known optimizer class counts (`torch.optim.*`, `transformers.AdamW`...),
        and so does a step function a library built from the parameters (`train_op =
        tx.core.get_train_op(params=model.parameters())`, run as `train_op()`). The switch to
        eval mode may come from another checked module: a function there that leaves its
        model argument in eval mode, or a model method that calls `self.eval()`.
        When an optimizer is built here from parameters that cannot be read (param groups
        made by a helper), the rule stays silent if a second model takes part in the step
        (a frozen teacher), since it cannot tell which one is trained. It cannot see
        optimizers built in other files: then every model in the step counts.

        In a plain class that switches one network, a sibling method that leaves it in eval
        mode and never in training mode (`predict()` calling `self.net.eval()`) makes a step
        of another method that sets no mode and does not rebuild the network (`fit()`) one
        that can run in eval mode (a `fit` after a `predict`). A trainer handed its optimizer
        by the caller (`self.opt = opt`, built from `net` elsewhere) trains its one model
        whatever name the file's optimizers give it.

        A model loaded with `transformers`' `from_pretrained()` starts in eval mode: a
        training loop that never calls `.train()` trains it with dropout off (a single step
        at the top of a notebook right after loading, a demonstration, is not flagged).

        Paths are told apart by the flags that choose them: a step runner whose backward
        runs only `if self.stage == "train"`, reached from a `train_step` that calls
        `.train()`, is not flagged for its evaluation path. A model put in eval mode at the
        top level before the training function runs, which that function never switches
        (batch norm frozen for the whole run on purpose), is not flagged either; an
        `.eval()` inside the training code, or one whose training code switches another
        model to training mode, still is. Nor is an epoch that picks the mode in every branch
        of a configuration chain before training (`train()` to fine-tune, `eval()` for a
        frozen-backbone probe, any other setting raising or `assert False`); a chain with a
        branch that sets nothing, or an `.eval()` between it and the step, still is.

        Like TRN101, the finding is info when the model's layers are all visible and none
        depends on the mode (no dropout, no batch or instance norm with running statistics):
        both modes then train the same.
        """
    why = """
        In eval mode dropout is off and batch norm stops updating its statistics: from the
        second epoch on the model trains without regularisation and with frozen
        normalisation, silently changing the results.
        """
    instead = "Call `model.train()` at the start of every epoch (or right after evaluating)."
    bad_examples = (
        """
        import torch

        def fit(model, train_loader, val_loader, opt, loss_fn):
            model.train()
            for epoch in range(10):
                for x, y in train_loader:
                    opt.zero_grad()
                    loss_fn(model(x), y).backward()
                    opt.step()
                model.eval()
                with torch.no_grad():
                    for x, y in val_loader:
                        model(x)
        """,
    )
    good_examples = (
        """
        import torch

        def fit(model, train_loader, val_loader, opt, loss_fn):
            for epoch in range(10):
                model.train()
                for x, y in train_loader:
                    opt.zero_grad()
                    loss_fn(model(x), y).backward()
                    opt.step()
                model.eval()
                with torch.no_grad():
                    for x, y in val_loader:
                        model(x)
        """,
    )

    def check(self, ctx) -> None:
        prog = program(ctx)
        forwards = prog.forwards()
        reported = set()
        # A frozen model kept in eval mode on purpose (a backbone under a linear probe, a
        # reference model): its parameters reach no optimizer of the file.
        optimized = _optimized_modules(prog)
        for site in prog.model.calls:
            if not (prog.is_step(site) or prog.is_step_callable(site)):
                continue
            loops = prog.loops_of(site.node)
            container = loops[0] if loops else site.function
            keys = {f.key for f in forwards if f.site.function is site.function
                    and (container is None or prog.inside(f.site.node, container))}
            for other in prog.sites_in(container, site.function) if container is not None else ():
                for arg in other.node.args:
                    if type(arg.value) in _NEVER_MODULES:
                        continue  # its text can never name a model (and rendering it costs)
                    name = ctx.model.code(arg.value) if arg.value is not None else ""
                    if prog.roles.is_model(name, site.function) and "(" not in name:
                        keys.add(name)
            roots = {k.split(".", 1)[0] if not k.startswith("self.") else k for k in keys}
            if optimized == UNREADABLE:
                # Which model the optimizer trains is unknown: with a second model in the
                # step (a frozen teacher, a reference model) the one in eval mode may be the
                # frozen one; stay silent unless only one model is there.
                if len(roots) > 1:
                    continue
            elif optimized is not None:
                # `Trainer(model, opt)` keeping `self.net = net`: `self.net` is `model`.
                trained = {k for k in keys if any(_same_module(k, owner) for owner in optimized)
                           or any(_same_module(held, owner) for owner in optimized
                                  for held in prog.flow.handed_to_attribute(site.function, k))}
                if not trained and len(roots) == 1 and _optimizer_handed_in(prog, site):
                    # `Trainer(net, opt)`: the caller built the optimizer from `net`, which
                    # the step runs as `self.model`; its only model is the trained one.
                    trained = keys
                keys = trained
            states = prog.flow.states_at(site.node)
            sibling = sibling_leaving_eval(prog, site.function) if optimized != UNREADABLE else None
            if sibling is not None and optimized is not None and \
                    not any(_same_module(sibling[0], owner) for owner in optimized):
                sibling = None  # the file's optimizers train something else: a frozen model
            for state in states:
                if sibling is not None and state.mode(sibling[0]) is None and site.node not in reported:
                    # Nothing here sets the net's mode; another method of the class leaves it in eval.
                    reported.add(site.node)
                    ctx.report(site.node,
                               f"this training step can run with `{sibling[0]}` in eval mode: `{sibling[1]}()` "
                               f"of this class leaves it in eval mode and nothing before this step switches it "
                               f"back; call `{sibling[0]}.train()` before training")
                    continue
                bad = [k for k in sorted(keys) if state.mode(k) == EVAL
                       and not _eval_for_the_whole_run(prog, site, k, states)
                       and not mode_chosen_before_step(prog, site, k, _same_module)]
                if bad and not prog.loops_of(site.node) and site.function is None and \
                        not _switched_to_eval_here(prog, bad[0], before=site.node):
                    continue  # one step at the top of a notebook, just after `from_pretrained()`: a demo
                if bad and site.node not in reported:
                    reported.add(site.node)
                    dependent, _ = _model_mode_dependence(prog, bad[0], site.function, site.node)
                    if dependent is False:
                        # Same family as TRN101's info: nothing in the model depends on the mode.
                        ctx.report(site.node,
                                   f"this training step can run with `{bad[0]}` in eval mode; harmless as "
                                   f"written: its layers, all visible here, have no dropout or batch norm, so "
                                   f"both modes train the same. Call `{bad[0]}.train()` before training anyway",
                                   severity=Severity.INFO)
                        continue
                    why = _why_in_eval(prog, bad[0], site.function)
                    ctx.report(site.node,
                               f"this training step can run with `{bad[0]}` in eval mode ({why}); call "
                               f"`{bad[0]}.train()` before training")
        # `model.train_emb(...)`: another module's wrapper method that steps its own optimizer.
        report_wrapper_steps(ctx, prog, reported)


MODE_RULES = [MissingEvalMode(), MissingNoGrad(), MissingTrainMode()]
