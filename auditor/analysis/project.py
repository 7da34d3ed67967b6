"""Cross-file knowledge for one `auditor check` run: per-file summaries, merged.

Phase 1 of the engine calls `summarize_file` on every parsed file; the summaries
(small, picklable) are merged into a `ProjectIndex` that phase 2 hands to rules
through `ctx.project`. No file is parsed twice.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

import libcst as cst

from auditor.analysis.names import dotted_name, resolve_import
from auditor.analysis.reexports import defined_at
from auditor.neighbours import namespace_names


def module_name_for(path: str, packages: Optional[dict[str, bool]] = None) -> str:
    """Dotted module name of a file path, relative to the nearest non-package directory.

    `packages` remembers, for a caller naming many files in one go, which directories
    hold an `__init__.py` (a stat each, asked once).
    """
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    parts = [os.path.splitext(filename)[0]]
    if parts[0] == "__init__":
        parts = []
    while True:
        is_package = packages.get(directory) if packages is not None else None
        if is_package is None:
            is_package = os.path.isfile(os.path.join(directory, "__init__.py"))
            if packages is not None:
                packages[directory] = is_package
        if not is_package:
            break
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


@dataclass
class FileSummary:
    """What other files of the run need to know about one file (small and picklable).

    `calls`: calls this file makes to functions of other modules, with the context at
    the call: (module, function, grad mode, {argument index: model mode}).
    """

    module: str
    functions: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, str, dict]] = field(default_factory=list)
    # (class, "softmax"/"sigmoid", tuple index or None) for model classes whose forward ends
    # in that activation: a loss in another module learns what such a model returns.
    outputs: dict = field(default_factory=dict)
    # {key: {class: "softmax"/"sigmoid"/None}}: what the model classes' forwards return under
    # each string key of a returned dict (a loss reading `output['exist']` from a model built
    # by a registry learns what every model of the project holds there).
    output_keys: dict = field(default_factory=dict)
    # Top-level classes whose constructor shuffles unless told not to (`shuffle=True` by
    # default): a project's own loader class, built over test data in another module.
    shuffling_classes: list = field(default_factory=list)
    # The user's own losses, {(class or function, positional index): loss kind}, and the
    # built-in losses this file installs on objects of a class (see loss_inputs.py).
    loss_consumers: dict = field(default_factory=dict)
    loss_installs: list = field(default_factory=list)
    # This file's calls of functions of other modules with what each argument is (a built-in
    # loss, an instance of a user class): see handed.py.
    call_arguments: list = field(default_factory=list)
    # {function: ((module, class), ...)}: factories returning classes of other modules (factory_builds.py).
    factory_builds: dict = field(default_factory=dict)
    # Meters (see meters.py): {(class, method): {position: total}} for methods adding an
    # argument into a total on the object, and {(class, attribute): (module, class)} for
    # attributes an `__init__` fills with an instance of a user class.
    meter_methods: dict = field(default_factory=dict)
    attribute_classes: dict = field(default_factory=dict)
    # {class: (base names, methods replaced outright)}: subclasses that install the model a
    # base class's method trains (subclass_models.py).
    class_bases: dict = field(default_factory=dict)
    # class name -> (True/False/None, layer): the file's nn.Module classes and whether their
    # layers depend on the mode (auditor/analysis/mode_layers.py). A file building one of
    # them knows it builds a fresh model, in training mode.
    model_classes: dict = field(default_factory=dict)
    # class name -> [(module, name), ...]: for a class of `model_classes` whose answer is None
    # only because it builds classes imported from other modules (`Encoder` made of blocks of
    # `blocks.py`): the index answers for it from theirs (model_class_in).
    model_class_needs: dict = field(default_factory=dict)
    # modules this file star-imports (`from utils import *`), resolved: a call of a bare name
    # that no import or definition of the file explains may be one of their functions.
    star_imports: list = field(default_factory=list)
    # name -> (module, name) for the names this file imports from other modules of the
    # project (`from .unet_model import UNet` in a package's `__init__.py`): a file that
    # imports `UNet` from the package reaches the class through them.
    reexports: dict = field(default_factory=dict)
    # `calls` read again assuming that the project classes in `assumed_models` are models
    # (phase 1 cannot know): the index uses them when the project confirms every one.
    assumed_models: list = field(default_factory=list)
    assumed_calls: list = field(default_factory=list)
    # What the module's top-level functions leave their parameters in (see `_effects`): a
    # caller in another file that handed them a model reads the mode after the call here.
    effects: dict = field(default_factory=dict)
    # Model classes whose forward can run with gradients off by itself (grad_free.py): an
    # evaluation of an instance records no graph without a `no_grad` at the call.
    grad_free_classes: list = field(default_factory=list)
    # Top-level functions that call `backward()` themselves: a tensor handed to one of them
    # from another file may be trained on there (`train_generator(D, fake, ...)`).
    backward_functions: list = field(default_factory=list)
    # {function: (what is fitted, on which data, the parameter fitted or None, its position)}
    # for top-level functions that return data fitted on all its rows (see fitted_data.py):
    # a caller in another module that splits what they return leaks (TRN202).
    fitted_returns: dict = field(default_factory=dict)
    # {data file name: reading function or ""} of files this module reads back and splits
    # (split_reads.py): a module writing fitted data to that file leaks into the split (TRN202).
    split_reads: dict = field(default_factory=dict)
    # {"module.function": [[arguments handed as a part], ...]} of other modules' functions whose
    # result this file splits (split_results.py): a fit in that function leaks there (TRN202).
    split_results: dict = field(default_factory=dict)
    # Grad mode carried into a method of an object handed through a function of another
    # module (see param_calls.py): the methods this module's functions call on their
    # parameters, and what this file hands to other modules' functions.
    param_method_calls: dict = field(default_factory=dict)
    handed_objects: list = field(default_factory=list)
    # {method name: [the modes it leaves `self` in, one list per model class of the file that
    # defines it; [] when it never switches self]} (see `_method_effects`): a caller holding
    # a model of unknown class (a parameter) reads `model.predict(x)` from them.
    method_effects: dict = field(default_factory=dict)
    # Top-level functions that run a model handed in and return what it computes, leaving
    # mode and autograd to the caller (`compute_loss(model, batch)`): name -> (positional
    # parameters, the parameters run). Program.helper_forwards reads calls from other modules.
    model_runners: dict = field(default_factory=dict)
    # Methods of the file's nn.Module classes: name -> [runs the model's layers for the
    # caller and leaves mode and autograd alone?] per class (`agent.act(obs)`).
    runner_methods: dict = field(default_factory=dict)
    # {function: (tuple length, {position: "test"/"alias"})} for top-level functions returning
    # a tuple with the test split in some position (see split_alias.test_positions): a caller
    # in another module that unpacks it under a validation name holds the test split.
    test_returns: dict = field(default_factory=dict)
    # {function: (transformer, parameter, position, transforms evaluation data)} for top-level
    # functions fitting a transformer on a parameter (fitting_parameters.py): TRN201 at callers.
    fitting_parameters: dict = field(default_factory=dict)
    # {class: True} for classes (a LightningDataModule) whose `val_dataloader()` returns the
    # test split: what `trainer.fit(model, datamodule)` in another module validates on.
    val_test_classes: dict = field(default_factory=dict)
    # {function: (tuple length or None, {position: (keyword, parameter, index)})} for top-level
    # data factories whose split a parameter decides (see split_params.py): a caller in another
    # module passing `is_train=False` gets the test split.
    split_params: dict = field(default_factory=dict)
    # {class: [methods that train]} (see trainer_methods.py): `trainer.train_epoch(loader)` in
    # another module's epoch loop, on an instance of the class, is a training step.
    training_methods: dict = field(default_factory=dict)
    # {function: []} / {class: [methods]} that back-propagate and step on every call and never
    # clear gradients (project_objects.py): a loop of another module calling one clears?
    unclearing_steps: dict = field(default_factory=dict)
    # {class: clears?} for the module's classes: whether any of their code clears gradients (a
    # `zero_grad()` call, a `.grad` assignment). A loss object of such a class handed the model
    # by another module's loop clears nothing when False (project_objects.py).
    clearing_classes: dict = field(default_factory=dict)
    # {function: positions} for top-level functions that train and then evaluate the
    # parameters at those positions (`train_test(model, train_data, test_data)`, see
    # train_then_test.py): a caller in another module hands them test data.
    train_test_helpers: dict = field(default_factory=dict)
    # {function or `Class.method`: [(position, parameter)]} whose parameter reaches a decision
    # (a kept best compared, an early stop; deciding_callees.py): TRN204 at callers elsewhere.
    deciding_parameters: dict = field(default_factory=dict)
    # {function: (EVALUATES, model position, data positions) or (TRAINS,)} read from what each
    # top-level function does (evaluating_functions.py): TRN204 at callers in other modules.
    evaluating_functions: dict = field(default_factory=dict)
    # Methods called through receivers nobody can type (see method_names.py): {name: "off"/"on"}
    # for the method names this file calls ("off" when every call is under a grad-off context),
    # and {name: [qualified names]} for the methods its classes define.
    method_call_grads: dict = field(default_factory=dict)
    class_methods: dict = field(default_factory=dict)
    # `self.name(...)` calls by the class they are in, and the classes' bases (self_calls.py).
    self_method_calls: dict = field(default_factory=dict)
    # Methods of the file's classes that switch the object's attributes or step an optimizer
    # (wrapper_methods.py): `model.val_start()` on a parameter in another module.
    wrapper_methods: dict = field(default_factory=dict)
    # {"dir": ..., "objects": {name: (role, kind)}}: the models and criteria this file builds at
    # module level, for the files importing them or run after it (module_objects.py).
    module_objects: dict = field(default_factory=dict)
    # {name: "train"/"eval"}: the mode the module's top-level code leaves the models it
    # builds there in (exit_modes.py): `from model import model` starts in that mode.
    exit_modes: dict = field(default_factory=dict)
    # {function: ("param", parameter, position) | ("built", mode)}: the model a top-level
    # function hands back (returned_models.py): `model = train_model(...)` in another module.
    returned_models: dict = field(default_factory=dict)


# Star imports of these never bring a function of the project (`from torch.nn import *`).
_LIBRARIES = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "torch", "torchvision", "numpy", "scipy", "pandas", "sklearn", "matplotlib", "tensorflow", "keras", "jax",
    "fastai", "transformers", "lightning", "pytorch_lightning", "tqdm", "PIL", "cv2"}


# Words without which a file fits nothing and takes no statistics of its rows (a cheap screen
# before the fitted-data analysis).
_FITTING_WORDS = re.compile(r"fit|std|zscore|scale|normali[sz]e|min\(|abs\(|fillna\(")


def summarize_file(ctx) -> Optional[Any]:
    """Phase 1: this file's functions and its calls into other modules, with their context."""
    from auditor.analysis.program import program_of

    if "def " not in ctx.source.text and "import" not in ctx.source.text:
        # A lesson's part may still build the model or train what an earlier part built.
        from auditor.analysis.activations import Activations
        from auditor.analysis.module_objects import fragment_summary

        return fragment_summary(ctx, FileSummary, Activations)
    module = ctx.module_name
    is_package = os.path.basename(ctx.path) == "__init__.py"
    model = ctx.model
    summary = FileSummary(module=module, functions=[i.name for i in model.function_info.values()
                                                     if i.parent is None and i.cls is None])
    text = ctx.source.text
    if model.class_info or model.function_info:
        from auditor.analysis.activations import LOGITS, class_outputs, output_keys
        if "softmax" in text or "sigmoid" in text or "Softmax" in text or "Sigmoid" in text:
            summary.outputs = class_outputs(model)
        elif "Linear" in text:  # only logits to tell (TRN303 on a model of another module)
            summary.outputs = class_outputs(model, (LOGITS,))
        if model.class_info and "forward" in text:  # `Combined(encoder, head)` returning `self.head(...)`
            from auditor.analysis.activations import passed_outputs
            summary.outputs = {**summary.outputs, **passed_outputs(model)}
        # Every model's dict keys, with or without an activation: one returning logits under
        # a key vetoes a finding on that key (see ProjectIndex.output_keys).
        if model.class_info:
            summary.output_keys = output_keys(model, summary.outputs)
    if "shuffle" in text:
        from auditor.analysis.project_names import shuffles_by_default
        from auditor.analysis.shuffling_helpers import shuffling_functions

        summary.shuffling_classes = [c.name for c in model.class_info.values() if shuffles_by_default(c)] + \
            shuffling_functions(model)
    from auditor.analysis.loss_inputs import LOSS_WORDS, loss_consumers, loss_installs
    if any(word in text for word in LOSS_WORDS):
        summary.loss_consumers = loss_consumers(model)
        summary.loss_installs = loss_installs(model, module, is_package)
    if model.class_info:
        from auditor.analysis.meters import attribute_classes, meter_methods
        from auditor.analysis.subclass_models import class_bases

        if "+=" in text:
            summary.meter_methods = meter_methods(model)
        summary.attribute_classes = attribute_classes(model, module, is_package)
        summary.class_bases = class_bases(model)
    if model.imports.aliases:
        from auditor.analysis.handed import call_arguments

        summary.call_arguments = call_arguments(model, module, is_package)
        if model.function_info and "return" in text:
            from auditor.analysis.factory_builds import factory_builds
            summary.factory_builds = factory_builds(model, module, is_package)
    if model.class_info:
        from auditor.analysis.mode_layers import class_dependence
        from auditor.analysis.roles import is_module_class

        summary.model_classes = {info.name: class_dependence(model, info) for info in model.class_infos
                                 if is_module_class(model, info)}
    summary.model_classes.update(_factories(model))
    if any(answer[0] is None for answer in summary.model_classes.values()) and model.imports.aliases:
        summary.model_class_needs = _class_needs(model, module, is_package, summary.model_classes)
    if "backward" in text:
        summary.backward_functions = sorted(
            info.name for info in model.function_info.values() if info.parent is None and info.cls is None
            and any(s.method == "backward" or (s.qualname or "").endswith("autograd.backward") for s in info.calls))
    if model.class_info and ("no_grad" in text or "inference_mode" in text):
        from auditor.analysis.grad_free import grad_free_classes

        summary.grad_free_classes = grad_free_classes(model)
    for star in model.imports.stars:
        target = resolve_import(module, f"{star}.*", is_package)
        if target is not None and target[0].split(".", 1)[0] not in _LIBRARIES:
            summary.star_imports.append(target[0])
    summary.reexports = _reexports(model, module, is_package)
    switches = ".eval(" in text or ".train(" in text
    if switches:
        from auditor.analysis.flow import FlowAnalysis

        effects_flow = FlowAnalysis(model, None, module)  # run per function, on demand
        summary.effects = _effects(model, effects_flow)
    if summary.model_classes and model.class_info:
        summary.method_effects = _method_effects(model, effects_flow if switches else None)
    if model.class_info and (switches or "backward" in text):
        from auditor.analysis.wrapper_methods import wrapper_methods

        summary.wrapper_methods = wrapper_methods(model, effects_flow if switches else None)
    if model.function_info and "return" in text and _FITTING_WORDS.search(text):
        from auditor.analysis.fitted_data import fitted_returns

        summary.fitted_returns = fitted_returns(program_of(model))
    if "split" in text or "Fold" in text or "cross_val" in text or ":]" in text:
        from auditor.analysis.split_reads import project_split_reads
        from auditor.analysis.split_results import split_results

        summary.split_reads = project_split_reads(model, text)
        summary.split_results = split_results(program_of(model), module, is_package)
    if model.function_info and _FITTING_WORDS.search(text):
        from auditor.analysis.fitting_parameters import fitting_parameters

        summary.fitting_parameters = fitting_parameters(program_of(model))
    if model.function_info and "return" in text and _calls_a_parameter(model):
        summary.model_runners = program_of(model).runner_parameters()
    if summary.model_classes and model.class_info and "return" in text:
        summary.runner_methods = program_of(model).runner_methods()
    if ("test" in text or "False" in text) and any(info.parent is None and info.cls is None and any(
            isinstance(r.value, cst.Tuple) for r in info.returns) for info in model.function_info.values()):
        from auditor.analysis.split_alias import project_test_positions

        summary.test_returns = project_test_positions(model, program_of(model).splits)
    if model.function_info and "return" in text:
        from auditor.analysis.split_params import project_parameter_splits

        summary.split_params = project_parameter_splits(model)
    if model.class_info and ("backward" in text or ".step(" in text):
        from auditor.analysis.trainer_methods import training_methods

        summary.training_methods = training_methods(program_of(model))
    if "backward" in text and ".step(" in text and model.function_info:
        from auditor.analysis.imported_step_helpers import unclearing_steps

        summary.unclearing_steps = unclearing_steps(program_of(model))
    if model.class_info:
        from auditor.analysis.project_objects import clearing_classes

        summary.clearing_classes = clearing_classes(model, "zero_grad" in text or ".grad" in text)
    if "backward" in text and model.function_info:
        from auditor.analysis.train_then_test import train_test_helpers

        summary.train_test_helpers = train_test_helpers(program_of(model))
    if model.function_info and "if " in text:
        from auditor.analysis.deciding_callees import project_deciding

        summary.deciding_parameters = project_deciding(program_of(model))
    if model.function_info and "def " in text:
        from auditor.analysis.evaluating_functions import evaluating_functions

        summary.evaluating_functions = evaluating_functions(program_of(model))
    if model.class_info and "val_dataloader" in text:
        from auditor.analysis.trainer_selection import val_test_classes

        summary.val_test_classes = val_test_classes(model, program_of(model).splits)
    if model.function_info:
        from auditor.analysis.method_names import _TOO_COMMON, class_methods, method_call_grads
        from auditor.analysis.self_calls import self_method_calls
        from auditor.analysis.param_calls import param_method_calls

        summary.param_method_calls = param_method_calls(model)
        summary.method_call_grads = method_call_grads(model)
        summary.class_methods = class_methods(model)
        summary.self_method_calls = self_method_calls(model, _TOO_COMMON)
    from auditor.analysis.activations import Activations
    from auditor.analysis.module_objects import module_objects

    summary.module_objects = module_objects(model, ctx.path, text, Activations)
    if model.function_info and "return" in text:
        from auditor.analysis.flow import FlowAnalysis
        from auditor.analysis.returned_models import returned_models

        summary.returned_models = returned_models(model, effects_flow if switches else FlowAnalysis(model, None, module))
    if model.module.body and ("Module" in text or "import" in text):
        from auditor.analysis.exit_modes import exit_modes
        from auditor.analysis.flow import FlowAnalysis

        summary.exit_modes = exit_modes(model, FlowAnalysis(model, None, module))
    if not model.imports.aliases and not summary.star_imports:
        return summary
    sites = _cross_module_calls(model, module, is_package, summary.star_imports)
    if not sites:
        return summary
    # The flow only when a call needs it: phase 2 then runs it once, with the project.
    from auditor.analysis.flow import FlowAnalysis
    from auditor.analysis.held_calls import held_method_calls
    from auditor.analysis.param_calls import handed_objects

    flow = program_of(model).flow
    summary.calls, unknown = _call_contexts(flow, sites)
    summary.calls += held_method_calls(model, module, is_package, flow)
    summary.handed_objects = handed_objects(model, module, is_package, flow, sites)
    # A model handed to a function of another module may leave it switched (`get_loss(model)`
    # calls `model.eval()`): what this file knows of its mode no longer holds for the calls
    # after it. Read them again with those calls forgetting the modes of their arguments.
    opaque = _handing_on(sites, summary.calls)
    if opaque:
        reread = FlowAnalysis(model, None, module, opaque=opaque).run()
        summary.calls = _call_contexts(reread, sites)[0] + held_method_calls(model, module, is_package, reread)
    if unknown:
        # A model built from a class of another module of the project (`net = UNet()`) is
        # fresh, in training mode, but only the project knows the class is a model, and it
        # does not exist yet. Read the calls again assuming the classes the file builds
        # into model-like names are models; phase 2 keeps that reading when it confirms them.
        assumed = _assumed_model_classes(model, module, is_package, flow.roles)
        if assumed:
            everything = {site.node: tuple(targets) for site, targets in sites}
            assumed_flow = FlowAnalysis(model, _Assumed(assumed), module, opaque=everything).run()
            calls = _call_contexts(assumed_flow, sites)[0] + held_method_calls(model, module, is_package, assumed_flow)
            if calls != summary.calls:
                summary.assumed_models = sorted(assumed)
                summary.assumed_calls = calls
    return summary


def _calls_a_parameter(model) -> bool:
    """Some top-level function calls one of its parameters (`m(x)`): a cheap test before
    asking the program for model runners."""
    return any(info.parent is None and info.cls is None and info.returns and
               any(site.callee in info.params for site in info.calls if site.callee)
               for info in model.function_info.values())


def _handing_on(sites: list, calls: list) -> dict:
    """The cross-module calls to forget at, when any argument with a known mode is handed to
    more than one of them (otherwise no call comes after another that could switch it)."""
    handed: dict = {}
    for site, _ in sites:
        for arg in site.node.args:
            name = dotted_name(arg.value)
            if name:
                handed.setdefault(name.split(".", 1)[0], []).append(site.node)
    # `model = train_model(...)`, then `evaluate(model, ...)`: what the first hands back is
    # known from its summary only (returned_models.py).
    handed_back = any(type(assign := site.statement) is cst.Assign and assign.value is site.node
                      and len(assign.targets) == 1 and dotted_name(assign.targets[0].target) in handed
                      for site, _ in sites)
    if not handed_back and not any(modes for *_, modes in calls):
        return {}
    if not handed_back and not any(len(found) > 1 for found in handed.values()):
        return {}
    return {site.node: tuple(targets) for site, targets in sites}


def _effects(model, flow) -> dict:
    """{function: (positional parameters, {parameter: the modes it can leave it in})} for the
    module's top-level functions that switch a parameter (`def get_loss(model): model.eval()`);
    "?" among the modes: left as it was on some path."""
    found = {}
    for info in model.function_info.values():
        if info.parent is not None or info.cls is not None:
            continue
        effects = {key: sorted(m for m in modes if isinstance(m, str)) for key, modes in flow.effects(info.node).items()
                   if key in info.params and all(isinstance(m, str) for m in modes)}
        if effects:
            found[info.name] = (list(info.positional), effects)
    return found


def _method_effects(model, flow) -> dict:
    """{method: [modes per model class]} for the methods of the file's nn.Module classes:
    the modes each leaves `self` in (`def predict(self, x): self.eval(); ...` -> ["eval"]),
    [] for one that never switches `self`. `flow` is None when the file switches no mode."""
    from auditor.analysis.roles import is_module_class

    found: dict = {}
    for info in model.class_infos:
        if not is_module_class(model, info):
            continue
        for name, method in info.methods.items():
            if name.startswith("__") or name in ("train", "eval", "forward"):
                continue
            left = flow.effects(method.node).get("self", frozenset()) if flow is not None else frozenset()
            found.setdefault(name, []).append(sorted(left) if all(isinstance(m, str) for m in left) else ["?"])
    return found


def _cross_module_calls(model, module: str, is_package: bool, stars: list) -> list:
    """(call site, [(module, function)]) for the calls of functions of other modules."""
    found = []
    local = {i.name for i in model.function_info.values()} | set(model.class_info)
    for site in model.calls:
        if site.qualname is None and stars and site.callee and "." not in site.callee \
                and site.callee not in local and not hasattr(builtins, site.callee):
            targets = [(star, site.callee) for star in stars]  # `from utils import *`
        elif site.qualname is None or site.qualname.startswith(("torch", "numpy", "sklearn", "os.", "sys.")):
            continue
        else:
            target = resolve_import(module, site.qualname, is_package)
            if target is None:
                continue
            targets = [target]
        found.append((site, targets))
    return found


def _call_contexts(flow, sites: list) -> tuple[list, bool]:
    """The `calls` entries of a summary, read from `flow`, and whether a named argument had
    no known mode on some path. Arguments are keyed by position, or by keyword."""
    from auditor.analysis.flow import UNKNOWN

    calls = []
    unknown = False
    for site, targets in sites:
        names = [(index, dotted_name(a.value)) for index, a in
                 enumerate(a for a in site.node.args if a.keyword is None and not a.star)]
        names += [(a.keyword.value, dotted_name(a.value)) for a in site.node.args if a.keyword is not None]
        for state in flow.states_at(site.node):
            modes = {}
            for index, name in names:
                mode = state.mode(name) if name else None
                if mode is not None and mode != UNKNOWN:
                    modes[index] = mode
                elif name:
                    unknown = True
            for target in targets:
                calls.append((target[0], target[1], state.grad, modes))
    return calls, unknown


def _assumed_model_classes(model, module: str, is_package: bool, roles) -> set:
    """(module, name) for classes (capitalised) and model-building functions (`get_model`)
    imported from the project's own modules whose result the file binds to a name it uses as
    a model (`net = UNet(3, 1)`, `model = get_model("LeNet")`, `net = UNet(3, 1).to(device)`)."""
    from auditor.analysis.flow import _strip_moves

    found = set()
    for name, bindings in model.bindings.items():
        for binding in bindings:
            value = _strip_moves(binding.value) if binding.value is not None else None
            if binding.kind != "assign" or binding.index is not None or type(value) is not cst.Call:
                continue
            qualified = model.qualify_call(value)
            if not qualified or not _builds_by_name(qualified.rsplit(".", 1)[-1]):
                continue
            target = resolve_import(module, qualified, is_package)
            if target is None or target[0].split(".", 1)[0] in _LIBRARIES or \
                    not roles.is_model(name, binding.function):
                continue
            found.add(target)
    return found


def _builds_by_name(name: str) -> bool:
    """A class (`UNet`) or a function named for building a model (`get_model`, `build_net`)."""
    from auditor.analysis.roles import BUILDER_VERBS, MODEL_WORDS
    from auditor.analysis.splits import name_tokens

    tokens = name_tokens(name)
    return name[:1].isupper() or (len(tokens) > 1 and tokens[0] in BUILDER_VERBS and tokens[-1] in MODEL_WORDS)


class _Assumed:
    """A stand-in for the project in phase 1: the classes in `classes` are models."""

    def __init__(self, classes: set) -> None:
        self.classes = classes

    def model_class(self, module: str, name: str) -> Optional[tuple]:
        return (None, "") if (module, name) in self.classes else None


def _class_needs(model, module: str, is_package: bool, answers: dict) -> dict:
    """name -> the imported classes whose layers decide it, for the file's model classes
    left unknown: read again taking each class imported from another module as free of
    dropout and batch norm; when that settles the class (False), what it assumed is what
    it needs. (A library's class is never in the run: the index leaves those unknown.)"""
    from auditor.analysis.mode_layers import OutsideClasses, class_dependence, with_outside

    needs = {}
    for name, (dependent, _) in answers.items():
        info = model.class_info.get(name)
        if dependent is not None or info is None:
            continue
        assumed: set = set()

        def assume(qualified: str, assumed=assumed) -> Optional[tuple]:
            target = resolve_import(module, qualified, is_package)
            if target is None:
                return None
            assumed.add(target)
            return False, ""

        found = with_outside(model, OutsideClasses(assume), lambda info=info: class_dependence(model, info))
        if found[0] is False and assumed:
            needs[name] = sorted(assumed)
    return needs


def _factories(model) -> dict:
    """name -> (True/False/None, layer) for the file's top-level functions that return newly
    built models (`def get_model(name): return LeNet()`): a file calling one builds a model."""
    from auditor.analysis.factories import is_factory
    from auditor.analysis.mode_layers import mode_dependence
    from auditor.analysis.roles import model_constructor

    found = {}
    for info in model.function_info.values():
        if info.parent is not None or info.cls is not None or not info.returns:
            continue
        if not is_factory(model, info, lambda call: model_constructor(model, call) is not None):
            continue
        answer: tuple = (False, "")
        for ret in info.returns:
            values = [b.value for b in model.bindings_of(dotted_name(ret.value), info.node)
                      if b.function is info.node] if type(ret.value) is cst.Name else [ret.value]
            for value in values:
                dependent, what = mode_dependence(model, value)
                if dependent:
                    answer = (True, what)
                elif dependent is None and answer[0] is False:
                    answer = (None, "")
        found[info.name] = answer
    return found


def _reexports(model, module: str, is_package: bool) -> dict:
    """Local name -> (module, name) for `from X import Y` of a module that is no library."""
    found = {}
    for local, qualified in model.imports.aliases.items():
        target = resolve_import(module, qualified, is_package) if "." in qualified.lstrip(".") else None
        if target is not None and target[0].split(".", 1)[0] not in _LIBRARIES and target[0]:
            found[local] = target
    return found


# `from X import a, b as c` / `from X import (a,\n b)` at the start of a line.
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;\\]*)", re.MULTILINE)


def import_only_summary(text: str, module: str, is_package: bool) -> Optional[FileSummary]:
    """The summary of a file the prefilter does not parse (it names nothing of training):
    only what it imports from the project's modules, read from the text, so that a package's
    `__init__.py` (`from .unet_model import UNet`) still leads to the class it re-exports."""
    if "from" not in text:
        return None
    summary = FileSummary(module=module)
    for match in _FROM_IMPORT.finditer(text):
        base, names = match.group(1), match.group(2).strip("() \t\n")
        if names == "*":
            target = resolve_import(module, f"{base}.*", is_package)
            if target is not None and target[0] and target[0].split(".", 1)[0] not in _LIBRARIES:
                summary.star_imports.append(target[0])
            continue
        for item in names.split(","):
            words = item.split()
            if not words or not words[0].isidentifier():
                continue
            local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
            target = resolve_import(module, f"{base}.{words[0]}", is_package)
            if target is not None and target[0] and target[0].split(".", 1)[0] not in _LIBRARIES:
                summary.reexports[local] = target
    return summary if summary.reexports or summary.star_imports else None


class ProjectIndex:
    """The run's summaries by module name, and who calls what.

    `bases` (optional): module name -> [(base directory, summary)] for the names that
    several files of the run hold (`model.py` beside each of several example scripts). A
    module name is relative to its file's base directory (the nearest one that is no
    package: what `sys.path` would hold), so `for_base(base)` gives one file the view in
    which such a name means the file beside it (`summaries` keeps the last one, which the
    others see).
    """

    def __init__(self, summaries: dict[str, Any], bases: Optional[dict[str, list]] = None,
                 summary_bases: Optional[list] = None, aliases: Optional[dict[str, str]] = None) -> None:
        self.summaries = summaries  # module name -> summary
        # A namespace package's dotted name -> the module name its file has (`model.net` ->
        # `net` for model/net.py without model/__init__.py); a real module wins the name.
        self.aliases = aliases or {}
        self.bases = bases or {}
        # The base of each summary (parallel to the callers it holds), for `bases` only.
        self.summary_bases = summary_bases or []
        self._callers: Optional[dict] = None  # (module, function) -> [(grad, modes)]
        self._called: Optional[dict] = None  # module -> names of its functions called from other files
        self._loss_tables: Optional[tuple] = None
        self._call_arguments: Optional[dict] = None
        self._output_keys: Optional[dict] = None
        self._method_effects: Optional[dict] = None
        self._runner_methods: Optional[dict] = None
        # (module, function, callee base) -> [(grad, modes)] and (module, callee base) -> names,
        # for the module names in `bases`.
        self._based_callers: dict = {}
        self._based_called: dict = {}

    @classmethod
    def from_files(cls, files: list[tuple[str, str, Any]]) -> "ProjectIndex":
        """From (module, base directory, summary) in run order (a later file wins a name)."""
        summaries: dict[str, Any] = {}
        holders: dict[str, list] = {}
        aliases: dict[str, str] = {}
        for module, base, summary in files:
            summaries[module] = summary
            holders.setdefault(module, []).append((base, summary))
            for alias, _ in namespace_names(module, base):
                aliases.setdefault(alias, module)
        aliases = {alias: module for alias, module in aliases.items() if alias not in summaries}
        bases = {module: found for module, found in holders.items() if len(found) > 1}
        if not bases:
            return cls(summaries, aliases=aliases)
        return cls(summaries, bases, [(base, summary) for _, base, summary in files], aliases)

    def state(self) -> tuple:
        """What a worker process needs to rebuild the index (`ProjectIndex(*state)`)."""
        return self.summaries, self.bases, self.summary_bases, self.aliases

    def for_base(self, base: str) -> "ProjectIndex":
        """The index as a file under `base` sees it (itself when no name is held twice)."""
        return _BaseView(self, base) if self.bases else self

    def _resolved_base(self, module: str, caller_base: str) -> Optional[str]:
        """Which holder of a shared module name a file under `caller_base` imports."""
        found = self.bases[module]
        for base, _ in found:
            if base == caller_base:
                return base
        return found[-1][0]

    def get(self, module: str) -> Optional[Any]:
        found = self.summaries.get(module)
        if found is None and module in self.aliases:
            return self.summaries.get(self.aliases[module])
        return found

    def loss_tables(self) -> tuple[frozenset, list]:
        """(names of the user's losses and of classes given a criterion, every loss install),
        over all modules, gathered once (see loss_inputs.py)."""
        if self._loss_tables is None:
            names: set = set()
            installs: list = []
            # Every file's summary, also those whose module name another file shadows.
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                names.update(owner for owner, _ in (getattr(summary, "loss_consumers", None) or {}) if "." not in owner)
                found = getattr(summary, "loss_installs", None) or ()
                names.update(owner for owner, *_ in found)
                installs.extend((getattr(summary, "module", None), entry) for entry in found)
                # Functions handed a built-in loss by a caller of another module (handed.py).
                names.update(name.split(".", 1)[0] for _, name, described in getattr(summary, "call_arguments", None) or ()
                             if any(d is not None and d[0] == "loss" for d in described.values()))
            self._loss_tables = (frozenset(names), installs)
        return self._loss_tables

    def output_keys(self, key: str) -> dict:
        """{(module, class): "softmax"/"sigmoid"/None} for every model class of the run whose
        forward returns a dict holding `key` (see activations.output_keys)."""
        if self._output_keys is None:
            table: dict = {}
            holders = self.summary_bases if self.bases else [(None, s) for s in self.summaries.values()]
            for _, summary in holders:
                module = getattr(summary, "module", None)
                for name, classes in (getattr(summary, "output_keys", None) or {}).items():
                    for cls, kind in classes.items():
                        table.setdefault(name, {})[(module, cls)] = kind
            self._output_keys = table
        return self._output_keys.get(key, {})

    def call_arguments(self, module: str, function: str) -> list[dict]:
        """{position or keyword: descriptor} at each call of `module.function` from other
        files (see handed.py), gathered once over all modules."""
        if self._call_arguments is None:
            table: dict = {}
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                for target, name, described in getattr(summary, "call_arguments", None) or ():
                    table.setdefault((target, name), []).append(described)
            self._call_arguments = table
        return self._call_arguments.get((module, function), [])

    def runs_model(self, name: str) -> bool:
        """Every model class of the run that defines a method `name` runs its layers there for
        the caller, leaving mode and autograd alone (and at least one does)."""
        if self._runner_methods is None:
            table: dict = {}
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                for method, entries in (getattr(summary, "runner_methods", None) or {}).items():
                    table.setdefault(method, []).extend(entries)
            self._runner_methods = table
        entries = self._runner_methods.get(name)
        return bool(entries) and all(entries)

    def method_effects(self, name: str) -> list:
        """For each model class of the run defining a method `name`, the modes that method
        leaves `self` in ([] when it never switches self), gathered once."""
        if self._method_effects is None:
            table: dict = {}
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                for method, entries in (getattr(summary, "method_effects", None) or {}).items():
                    table.setdefault(method, []).extend(entries)
            self._method_effects = table
        return self._method_effects.get(name, [])

    def _index(self) -> dict:
        if self._callers is None:
            callers: dict = {}
            called: dict = {}
            based_callers: dict = {}
            based_called: dict = {}
            holders = self.summary_bases if self.bases else [(None, s) for s in self.summaries.values()]
            for caller_base, summary in holders:
                for target_module, function, grad, modes in self._calls_of(summary, caller_base):
                    # `from pkg import evaluate`: the caller of pkg/utils.py's function.
                    target_module = self.aliases.get(target_module, target_module)
                    target_module = self._script_sibling(target_module, getattr(summary, "module", None))
                    target_module, function = defined_at(self.get, target_module, function)
                    callers.setdefault((target_module, function), []).append((grad, modes))
                    called.setdefault(target_module, set()).add(function)
                    if target_module in self.bases:
                        base = self._resolved_base(target_module, caller_base)
                        based_callers.setdefault((target_module, function, base), []).append((grad, modes))
                        based_called.setdefault((target_module, base), set()).add(function)
            # Methods reached through a function of another module that is handed the object
            # (param_calls.py): `eval_model(model)` under no_grad, `model.predict()` inside.
            from auditor.analysis.param_calls import derived_contexts

            everything = [summary for _, summary in holders]
            for (target_module, method), grads in derived_contexts(everything).items():
                for grad in grads:
                    callers.setdefault((target_module, method), []).append((grad, {}))
                called.setdefault(target_module, set()).add(method)
            # Methods whose every call by name in the run is under a grad-off context, through
            # receivers nobody can type (method_names.py): they run with autograd off.
            from auditor.analysis.method_names import OFF, ON
            from auditor.analysis.self_calls import SelfCallIndex

            by_name: dict = {}
            for summary in everything:
                for name, grad in (getattr(summary, "method_call_grads", None) or {}).items():
                    by_name[name] = ON if by_name.get(name) == ON else grad
            self_calls = SelfCallIndex(everything)
            for holder_base, summary in holders:
                module = summary.module
                for name, qualnames in (getattr(summary, "class_methods", None) or {}).items():
                    if by_name.get(name) == ON:
                        continue
                    for qualname in qualnames:
                        own = self_calls.related_grad(name, qualname.split(".", 1)[0])
                        if own == ON or (own is None and by_name.get(name) != OFF):
                            continue  # a call of its class family with autograd on, or no call at all
                        callers.setdefault((module, qualname), []).append((OFF, {}))
                        called.setdefault(module, set()).add(qualname)
                        if module in self.bases:
                            based_callers.setdefault((module, qualname, holder_base), []).append((OFF, {}))
                            based_called.setdefault((module, holder_base), set()).add(qualname)
            self._callers = callers
            self._called = {module: frozenset(names) for module, names in called.items()}
            self._based_callers = based_callers
            self._based_called = {key: frozenset(names) for key, names in based_called.items()}
        return self._callers

    def _calls_of(self, summary, base: Optional[str] = None) -> list:
        """A summary's calls, read with its assumed model classes when all of them are, and
        the modes left pending by calls into other modules resolved from their effects.
        `base`: the caller's folder when module names repeat (its own `network.py`)."""
        assumed = getattr(summary, "assumed_models", None)
        classes = _BaseView(self, base).model_class if base is not None else self.model_class
        calls = summary.assumed_calls if assumed and all(classes(*t) is not None for t in assumed) \
            else getattr(summary, "calls", ())
        found = []
        for target_module, function, grad, modes in calls:
            if all(isinstance(mode, str) for mode in modes.values()):
                found.append((target_module, function, grad, modes))
                continue
            for resolved in self._resolved_modes(modes, base, getattr(summary, "module", None)):
                found.append((target_module, function, grad, resolved))
        return found

    def _script_sibling(self, module: str, caller: Optional[str], view=None) -> str:
        """`from train import test` in speech/run.py, where speech/ holds an `__init__.py`:
        run as a script, run.py has its own folder first on `sys.path`, so a bare name means
        the file beside it (`speech.train`) when there is one."""
        if not caller or "." not in caller or "." in module:
            return module
        sibling = caller.rsplit(".", 1)[0] + "." + module
        return sibling if (view or self).get(sibling) is not None else module

    def _resolved_modes(self, modes: dict, base: Optional[str] = None, caller: Optional[str] = None) -> list[dict]:
        """Each concrete reading of `modes` (a pending mode may fan out to both modes).
        `base`: the caller's folder, whose own `train.py` its `from train import test` means;
        `caller`: the calling module (a script's bare import of its sibling)."""
        readings: list[dict] = [{}]
        view = _BaseView(self, base) if base is not None else self
        for index, mode in modes.items():
            options = self._after(mode, 0, view, caller)
            readings = [{**r, index: option} for r in readings for option in options if option != "?"] + \
                [r for r in readings if "?" in options]
            if len(readings) > 8:
                readings = readings[:8]
        return readings

    def _after(self, mode: Any, depth: int, view=None, caller: Optional[str] = None) -> set:
        """The modes a (possibly pending) mode can be: "train", "eval", "?" (unknown).
        `view`: the index as the caller's file sees it (its own folder's module first)."""
        view = view or self
        if isinstance(mode, str):
            return {mode}
        if depth <= 6 and isinstance(mode, tuple) and len(mode) == 4 and mode[0] == "returned":
            from auditor.analysis.returned_models import returned_modes
            return returned_modes(view, mode, lambda inner: self._after(inner, depth + 1, view, caller))
        if depth > 6 or not (isinstance(mode, tuple) and len(mode) == 4 and mode[0] == "after"):
            return {"?"}
        _, targets, where, prior = mode
        before = self._after(prior, depth + 1, view, caller)
        for module, function in targets:
            summary = view.get(self._script_sibling(module, caller, view))
            if summary is None or function not in getattr(summary, "functions", ()):
                continue
            positional, effects = (getattr(summary, "effects", None) or {}).get(function, ([], {}))
            param = where if isinstance(where, str) else positional[where] if where < len(positional) else None
            left = effects.get(param) if param is not None else None
            if left is None:
                return before  # it does not switch that parameter
            return {m for m in left if m != "?"} | (before if "?" in left else set())
        return before  # not a function of the project: a library's leaves the mode alone

    def call_contexts(self, module: str, function: str) -> list[tuple[str, dict]]:
        """(grad mode, {argument index: model mode}) at each call of `module.function` from other files."""
        return self._index().get((module, function), [])

    def called_functions(self, module: str) -> frozenset:
        """Names (qualified within `module`) of its functions that other files call."""
        self._index()
        return self._called.get(module, frozenset())

    def model_class(self, module: str, name: str) -> Optional[tuple]:
        """(True/False/None, layer) when `module` defines the nn.Module class `name`, or
        imports it from a module of the project that does (`from unet import UNet`, where
        `unet/__init__.py` holds `from .unet_model import UNet`), else None."""
        return model_class_in(self.get, module, name)

    def grad_free(self, module: str, name: str) -> bool:
        """`module`'s class `name` (or the class it imports under that name from the
        project) runs its forward with gradients off on some path (grad_free.py)."""
        module, name = defined_at(self.get, module, name)
        return name in (getattr(self.get(module), "grad_free_classes", None) or ())

    def backpropagates(self, module: str, name: str) -> bool:
        """`module`'s top-level function `name` (or the one it imports under that name from
        the project) calls `backward()` itself."""
        module, name = defined_at(self.get, module, name)
        return name in (getattr(self.get(module), "backward_functions", None) or ())

    def any_grad_free(self) -> bool:
        """Some model class of the run runs its forward with gradients off on some path."""
        holders = [s for _, s in self.summary_bases] if self.bases else self.summaries.values()
        return any(getattr(s, "grad_free_classes", None) for s in holders)

    def has_callers(self, module: str) -> bool:
        # Indexed once: program_of asks this for every rule of every file.
        self._index()
        return module in self._called


def model_class_in(get, module: str, name: str) -> Optional[tuple]:
    """The `model_classes` entry of the class `name` read from `module` (where it is defined,
    through package re-exports and star imports: reexports.defined_at), else None."""
    return _class_answer(get, module, name, set())


def _class_answer(get, module: str, name: str, reading: set) -> Optional[tuple]:
    module, name = defined_at(get, module, name)
    summary = get(module)
    found = getattr(summary, "model_classes", {}).get(name)
    needs = getattr(summary, "model_class_needs", {}).get(name) if found is not None and found[0] is None else None
    if not needs or (module, name) in reading:
        return found
    reading.add((module, name))  # the classes being read (a cycle stays unknown)
    unknown = False
    try:
        for need in needs:
            answer = _class_answer(get, need[0], need[1], reading)
            if answer is not None and answer[0]:
                return answer
            unknown = unknown or answer is None or answer[0] is None
    finally:
        reading.discard((module, name))
    return found if unknown else (False, "")


class _BaseView:
    """A ProjectIndex as one file sees it: a module name that several files of the run
    hold means the one beside it (same base directory), else the one `summaries` keeps."""

    def __init__(self, index: ProjectIndex, base: str) -> None:
        self.index = index
        self.base = base
        self.summaries = index.summaries

    def get(self, module: str) -> Optional[Any]:
        found = self.index.bases.get(module)
        if found is not None:
            for base, summary in found:
                if base == self.base:
                    return summary
        return self.index.get(module)

    def call_contexts(self, module: str, function: str) -> list[tuple[str, dict]]:
        index = self.index
        index._index()
        if module in index.bases:
            return index._based_callers.get((module, function, self._own(module)), [])
        return index.call_contexts(module, function)

    def called_functions(self, module: str) -> frozenset:
        index = self.index
        index._index()
        if module in index.bases:
            return index._based_called.get((module, self._own(module)), frozenset())
        return index.called_functions(module)

    def has_callers(self, module: str) -> bool:
        return bool(self.called_functions(module))

    def model_class(self, module: str, name: str) -> Optional[tuple]:
        # `from models import *` in gan_a/train.py means gan_a/models.py, not the last models.py.
        return model_class_in(self.get, module, name)

    def _own(self, module: str) -> str:
        """The base of the holder of `module` that this file is (or sees)."""
        return self.index._resolved_base(module, self.base)

    def __getattr__(self, name: str):
        # Anything added to ProjectIndex later answers as the whole index does (a name held
        # twice then means the last holder, as before views existed) until taught views.
        return getattr(self.index, name)
