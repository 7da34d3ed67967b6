"""What each loop and function does: forward passes, training steps, evaluation.

Queries over the file model, the roles, the splits and the flow; rules combine them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from auditor.analysis.library_builders import builds_with_project_functions
from auditor.analysis.wrapper_methods import project_wrapper_method
from auditor.analysis.built_modules import result_is_a_module
from auditor.analysis.flow import EVAL, OFF, TRAIN, FlowAnalysis, State, flow_of, imported_model, same_path
from auditor.analysis.leakage import row_statistic
from auditor.analysis.model import CallSite, FileModel, FunctionInfo, bind_arguments, syntactic_children
from auditor.analysis.names import dotted_name, resolve_import
from auditor.analysis.roles import is_module_class, other_framework, other_framework_model, roles_of
from auditor.analysis.splits import (EVAL_SPLITS, EVAL_WORDS, MIXED, TEST, combine, name_tokens, split_of_name,
                                     splits_of)
from auditor.analysis.uses import ESCAPES, READOUT, SHAPE, TRAINING, result_use, source_order

_LOOPS = (cst.For, cst.While)
# A callee whose name starts with one of these acts on a model rather than being one.
ACTION_VERBS = {"save", "load", "unwrap", "wrap", "check", "export", "print", "log", "summary", "summarize",
                "freeze", "unfreeze", "compile", "register", "update", "sync", "push", "copy", "reset", "set",
                "get", "build", "make", "create", "init", "setup", "prepare", "to", "convert", "quantize",
                "prune", "count", "plot", "show", "visualize", "describe", "upload", "download", "merge"}
BEHAVIOUR_EVIDENCE = "(its output is only read as numbers and never reaches `backward()`)"
SWITCHED_EVIDENCE = "after `{key}.eval()` (its output is only read, and `{key}` trains in training mode here)"


LOADED_EVIDENCE = "(an inference run: its weights are loaded from a checkpoint here and nothing in the file trains)"


def by_behaviour_only(evidence: str) -> bool:
    """Evidence from what is done with the output alone (no data split, no function name)."""
    return evidence in (BEHAVIOUR_EVIDENCE, LOADED_EVIDENCE) or evidence.endswith("trains in training mode here)")
_LITERALS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Integer, cst.Float)
# Random inputs: a generator's sampling step, not an evaluation of held-out data.
_NOISE = ("torch.randn", "torch.rand", "torch.randn_like", "torch.rand_like", "torch.normal", "torch.randint",
          "numpy.random.")


def is_eval_name(name: str) -> bool:
    tokens = name_tokens(name)
    return bool(tokens) and bool(set(tokens) & EVAL_WORDS) and not {"train", "training", "fit"} & set(tokens)


@dataclass
class Forward:
    site: CallSite
    key: str  # the model as written: `model`, `self.net`


# A name or class that says loss: a project's nn.Module built to compute a loss is no model.
_LOSS_NAME_WORDS = {"loss", "losses", "criterion", "criterions", "criteria"}
_LOSS_CLASS_ENDINGS = ("Loss", "Criterion", "LossFactory")


def _handed_model(call: cst.Call, positional: tuple, params: tuple) -> Optional[str]:
    """The caller's name handed to the first of `params` (by position or keyword)."""
    plain = [a for a in call.args if a.keyword is None and not a.star]
    handed = {p: a.value for p, a in zip(positional, plain)}
    handed.update((a.keyword.value, a.value) for a in call.args if a.keyword is not None)
    for param in params:
        if param in handed:
            return dotted_name(handed[param])
    return None


class Program:
    def __init__(self, model: FileModel, project=None, module_name: Optional[str] = None) -> None:
        self.model = model
        self.roles = roles_of(model)
        self.splits = splits_of(model)
        self.flow: FlowAnalysis = flow_of(model, project, module_name)
        self.splits.arguments_of = self.flow.arguments_of
        self.splits.row_statistic = row_statistic
        self._forwards: Optional[list[Forward]] = None
        self._helper_forwards: Optional[list[Forward]] = None
        self._plain_forward_classes: Optional[bool] = None  # see _explicit_forward
        self._sites_in: dict = {}  # (container, function) -> the call sites inside container
        self._loops: dict = {}  # node -> its enclosing loops (rules ask for the same sites often)
        self._uses: dict = {}  # forward call -> result_use's answer
        self._generators: dict = {}  # model key -> its output feeds another model
        self._trained_here: Optional[dict] = None  # (model key, function) -> trained in training mode there
        self._file_trains: Optional[bool] = None  # a backward or optimizer step anywhere in the file
        self._loads: dict = {}  # model root -> its `.train()` and `.load_state_dict()` calls

    # -- sites ------------------------------------------------------------------------------
    def is_backward(self, site: CallSite) -> bool:
        if site.method == "backward":
            return True
        return (site.qualname or "").endswith("autograd.backward")

    def is_step(self, site: CallSite) -> bool:
        """`optimizer.step()` or `scaler.step(optimizer)` (not schedulers, not environments)."""
        if site.method != "step" or site.receiver is None:
            return False
        receiver = dotted_name(site.receiver)
        if receiver is None:
            return False
        if site.node.args and "scaler" in receiver.lower():
            first = dotted_name(site.node.args[0].value)
            return self.roles.is_optimizer(first, site.function)
        # `optimizer.step()` or `optimizer.step(closure)` (LBFGS); not `opt.step(context_id)` of
        # distributed autograd, whose gradients live in a per-iteration context.
        if site.node.args:
            if len(site.node.args) > 1:
                return False
            closure = site.node.args[0].value
            if not isinstance(closure, cst.Lambda) and not (
                    isinstance(closure, cst.Name) and any(i.name == closure.value
                                                          for i in self.model.function_info.values())):
                return False
        return self.roles.is_optimizer(receiver, site.function)

    def is_step_callable(self, site: CallSite) -> bool:
        """`train_op()`: a call, with no arguments, of a name that only ever holds what a
        library call built from a model's parameters (`train_op = get_train_op(params=
        model.parameters())`): a function that steps those parameters when called."""
        if site.node.args or site.receiver is not None or not site.callee or "." in site.callee:
            return False
        bindings = self.model.bindings_of(site.callee, site.function)
        return bool(bindings) and all(
            b.kind == "assign" and b.index is None and type(b.value) is cst.Call
            and self.model.qualify_call(b.value) is not None
            and not self.roles.is_optimizer(site.callee, site.function)
            and any(_holds_parameters(arg.value) for arg in b.value.args) for b in bindings)

    def is_zero_grad(self, site: CallSite) -> bool:
        return site.method == "zero_grad" or (site.method == "zero_" and "grad" in (site.callee or ""))

    def forwards(self) -> list[Forward]:
        if self._forwards is None:
            found = []
            for site in self.model.calls:
                key = site.callee
                if key is None and site.qualname is None:
                    held = self._dict_held_model(site)
                    if held is not None:
                        found.append(Forward(site, held))
                    continue
                if key is not None and site.qualname is not None and "." not in key and \
                        key in self._imported_models():
                    found.append(Forward(site, key))  # `from model import model; model(x)`
                    continue
                if key is None or site.qualname is not None or site.method in ("train", "eval"):
                    continue
                if result_is_a_module(self.model, site):
                    continue  # `model = Model(envs)` then `model.load_state_dict(...)`: a class built
                explicit = self._explicit_forward(site) or self._generation(site)
                if explicit:
                    key = explicit  # `self.feature.forward(x)` runs `self.feature`
                info = self.model.info(site.function)
                if info is not None and info.cls is not None and self._abstract_method_of(info.cls, key):
                    key = "self"  # `self.set_forward(x)`, abstract here: a subclass's forward pass of `self`
                if info is not None and info.cls is not None and is_module_class(self.model, info.cls) \
                        and (key.startswith("self.") or info.name == "forward") \
                        and not (info.name != "forward" and self._over_eval_data(site)):
                    continue  # a model's own layers, inside the model
                if self._other_framework_in_force(key, site):
                    continue  # `model = TFAutoModel...` in this cell, a torch model in an earlier one
                root = key.split(".", 1)[0]
                if root != key and root != "self" and self._other_framework_in_force(root, site):
                    continue  # `ie = Core()` (OpenVINO): `ie.read_model(...)` is that runtime's method
                evidence = self.roles.model_evidence(key, site.function) or (
                    "its `forward()` is called" if explicit else None) or self._built_from_project(key, site.function)
                if evidence == "name" and (name_tokens(key)[0] in ACTION_VERBS or key.rsplit(".", 1)[-1][:1].isupper()):
                    continue  # `clf.save_model(...)`, `unwrap_model(m)`: a verb; `RNN(...)`: a class built
                if evidence and site.function is None and self._rebound_to_other_framework(key, site):
                    continue
                if evidence == "name" and "." in key and self._method_of_plain_class(site):
                    continue  # `analyzer.analyze_best_model(m, x)`: a method of the file's own helper class
                if evidence or self._given_models(key, info):
                    found.append(Forward(site, key))
            self._forwards = found
        return self._forwards

    def _imported_models(self) -> dict:
        """{local name: mode} for models imported from modules whose top level builds them
        (exit_modes.py): calling one is a forward pass of that model."""
        from auditor.analysis.exit_modes import imported_modes

        return dict(imported_modes(self.model, self.flow.project, self.flow.module_name))

    def helper_forwards(self) -> list[Forward]:
        """Forward passes made through code of this file that runs the model for its caller:
        - a plain helper, `loss = compute_loss(model, batch)` where `def compute_loss(m, batch)`
          runs `m(x)` and returns what it computes;
        - a method of the file's model class that runs its layers and returns what they compute,
          `agent.get_action_and_value(obs)` (a forward pass of `agent`).
        Either leaves the mode and autograd alone (no `.train()`/`.eval()`, no grad context,
        no decorator) and serves training and evaluation alike, so only the call says which
        one runs: the call is read as a forward pass of the model (TRN101/TRN102, from the
        data and names at the call, never from behaviour alone)."""
        if self._helper_forwards is None:
            runners = self._model_runners()
            found = []
            project_runners = self._project_runners()
            project = self.flow.project
            methods = project is not None and hasattr(project, "runs_model")
            for site in self.model.calls if runners or project_runners or methods else ():
                if methods and site.method is not None and site.qualname is None and site.receiver is not None \
                        and self.flow.resolve(site) is None and project.runs_model(site.method):
                    # `agent.act(obs)`, `Agent` of another module whose `act` runs its layers.
                    key = dotted_name(site.receiver)
                    if key and key != "self" and self.roles.is_model(key, site.function):
                        found.append(Forward(site, key))
                    continue
                if site.qualname is not None:
                    imported = project_runners(site) if project_runners else None
                    if imported is not None:
                        positional, params = imported
                        key = _handed_model(site.node, positional, params)
                        if key and self.roles.is_model(key, site.function):
                            found.append(Forward(site, key))
                    continue
                resolved = self.flow.resolve(site)
                if resolved is None or resolved[0] not in runners:
                    continue
                params = runners[resolved[0]]
                if type(params) is str:  # a trainer's method: the model is the caller's `self.<attr>`
                    if site.receiver is not None and dotted_name(site.receiver) == "self" and resolved[1] \
                            and site.function is not None and site.function is not resolved[0]:
                        found.append(Forward(site, params))
                    continue
                if params is None:  # a model method: its object is the model
                    key = dotted_name(site.receiver) if site.receiver is not None else None
                    if key and key != "self":
                        found.append(Forward(site, key))
                    continue
                arguments = bind_arguments(self.model.function_info[resolved[0]], site.node, resolved[1])
                for param in params:
                    name = dotted_name(arguments.get(param)) if arguments.get(param) is not None else None
                    if name and self.roles.is_model(name, site.function):
                        found.append(Forward(site, name))
                        break
            self._helper_forwards = found
        return self._helper_forwards

    def runner_parameters(self) -> dict:
        """{name: (positional parameters, parameters it runs)} for this file's top-level
        plain helpers among `_model_runners` (the project summary's `model_runners`)."""
        found = {}
        for function, params in self._model_runners().items():
            info = self.model.function_info[function]
            if params is not None and type(params) is not str and info.parent is None:
                found[info.name] = (tuple(info.positional), tuple(params))
        return found

    def _project_runners(self):
        """A lookup of the model runners of other modules of the run for a call, or None."""
        project, module = self.flow.project, self.flow.module_name
        if project is None or not module or not hasattr(project, "summaries"):
            return None
        from auditor.analysis.project_names import project_entry

        return lambda site: project_entry(project, module, site.qualname, "model_runners")

    def _model_runners(self) -> dict:
        """{function: the parameters whose forward pass it returns} for the plain helpers above,
        {method: None} for the model methods."""
        runners: dict = {}
        for info in self.model.function_info.values():
            if info.cls is not None or not info.params:
                continue
            # Parameters it calls (`m(x)`, `m.forward(x)`): the call says whether a model is handed in.
            called = [p for p in info.params if p != "self" and any(
                site.callee == p or site.callee == p + ".forward" for site in info.calls)]
            if called and self._leaves_it_to_caller(info):
                runners[info.node] = called
        for cls in self.model.class_info.values():
            if not is_module_class(self.model, cls):
                runners.update(self._trainer_runners(cls))
                continue
            for name, info in cls.methods.items():
                if self._runs_its_layers(cls, name, info):
                    runners[info.node] = None
        return runners

    def _trainer_runners(self, cls) -> dict:
        """{method: "self.model"} for the methods of a plain class (a trainer, a predictor) that
        run the model it holds and return what it computes, leaving mode and autograd to the
        caller: `def _forward(self, batch): return self.model(batch)`, called as
        `self._forward(batch)` by its `train`, `validate` and `predict` alike. The caller's
        data and name say which one runs (fairchem's trainers, 3D U-Net's `_forward_pass`)."""
        found = {}
        for name, info in cls.methods.items():
            if name in ("__init__", "__call__") or not self._leaves_it_to_caller(info):
                continue
            keys = {site.callee.removesuffix(".forward") for site in info.calls
                    if site.callee and site.callee.startswith("self.") and site.qualname is None
                    and site.callee.removesuffix(".forward").count(".") == 1
                    and site.callee.removesuffix(".forward")[5:] not in cls.methods}
            models = [k for k in sorted(keys) if self.roles.is_model(k, info.node)]
            if len(models) == 1:
                found[info.node] = models[0]
        return found

    def runner_methods(self) -> dict:
        """{method: [runs its layers for the caller?] per nn.Module class of the file} (the
        project summary's `runner_methods`)."""
        found: dict = {}
        for cls in self.model.class_info.values():
            if is_module_class(self.model, cls):
                for name, info in cls.methods.items():
                    if not name.startswith("_") and name not in ("forward", "train", "eval"):
                        found.setdefault(name, []).append(self._runs_its_layers(cls, name, info))
        return found

    def _runs_its_layers(self, cls, name: str, info: FunctionInfo) -> bool:
        """A public method of a model class that runs its layers (`self.actor(x)`, `self(x)`)
        and returns the result, leaving mode and autograd to the caller. Its name may say
        evaluation (`predict`): inside the class its layers are never read as forward passes."""
        if name in ("forward", "__call__") or name.startswith("_") or not self._leaves_it_to_caller(info, named=False):
            return False
        return any(site.callee == "self" or site.callee == "self.forward" or (
            site.callee and site.callee.count(".") == 1 and site.callee.startswith("self.")
            and site.callee[5:] not in cls.methods and self.roles.is_model(site.callee, info.node))
            for site in info.calls)

    def _leaves_it_to_caller(self, info: FunctionInfo, named: bool = True) -> bool:
        """A function that returns a value and neither switches modes, sets autograd (context
        or decorator), back-propagates nor steps, nor (`named`) is named as an evaluation."""
        if info.decorators or (named and self.function_evaluates(info)) or not info.returns \
                or self.flow.sets_modes(info.node):
            return False
        return not any(site.method in ("train", "eval", "requires_grad_") or (site.qualname or "").startswith(
            ("torch.no_grad", "torch.inference_mode", "torch.set_grad_enabled", "torch.enable_grad"))
            or self.is_backward(site) or self.is_step(site) for site in info.calls)

    def _built_from_project(self, key: str, function) -> Optional[str]:
        """`G = Generator(ngpu=1)` with `from dcgan import Generator`: bound to a model class
        of another module of the run (read only with the project), whatever its name says."""
        if self.flow.project is None or "." in key or set(name_tokens(key)) & _LOSS_NAME_WORDS:
            return None  # `criterion = LossFactory()`: a loss module of the project, no model
        for binding in self.model.bindings_of(key, function):
            if binding.kind == "assign" and binding.index is None and self.flow.imported_model(binding.value) is not None \
                    and not (dotted_name(binding.value.func) or "").endswith(_LOSS_CLASS_ENDINGS):
                return "built by a model class of the project"
        return None

    def _dict_held_model(self, site: CallSite) -> Optional[str]:
        """`models["encoder"](x)`, `self.nets["g"](x)`: a model kept in a dict of models, as
        `models["encoder"]`. The dict holds models when a binding of it is a dict literal with
        a model built in it (directly or returned by a function of the file), when its items
        are switched to eval or training mode (`models["g"].eval()` in the same function,
        `self.model[key].train()` anywhere in the class), or, for a parameter, when the same
        function switches the models it holds (`for m in models.values(): m.eval()`). Inside a model class, the
        model's own layers kept in a dict are not forward passes, as for attributes."""
        func = site.node.func
        if type(func) is not cst.Subscript or len(func.slice) != 1:
            return None
        index = func.slice[0].slice
        if type(index) is not cst.Index or type(index.value) is not cst.SimpleString:
            return None
        base = dotted_name(func.value)
        if base is None:
            return None
        info = self.model.info(site.function)
        if info is not None and info.cls is not None and is_module_class(self.model, info.cls) \
                and base.startswith("self.") and not self._over_eval_data(site):
            return None
        if not self._holds_models(base, site.function):
            return None
        return f"{base}[{index.value.value}]"

    def _holds_models(self, base: str, function) -> bool:
        from auditor.analysis.roles import model_constructor

        def builds(value) -> bool:
            while type(value) is cst.Call and type(value.func) is cst.Attribute and \
                    value.func.attr.value in ("to", "cuda", "cpu"):
                value = value.func.value
            return type(value) is cst.Call and model_constructor(self.model, value) is not None

        def model_dict(value, depth: int = 0) -> bool:
            if type(value) is cst.Dict:
                return any(type(e) is cst.DictElement and builds(e.value) for e in value.elements)
            if type(value) is cst.Call and depth == 0:  # `models = build()`: a function of the file
                name = dotted_name(value.func)
                for info in self.model.functions_named(name) if name else ():
                    if any(r.value is not None and model_dict(r.value, 1) for r in info.returns):
                        return True
            return False

        bindings = self.model.bindings_of(base, function)
        if any(b.kind == "assign" and b.index is None and model_dict(b.value) for b in bindings):
            return True
        # Its items are switched to eval or training mode (`models[k].eval()`): in this
        # function, or, for an attribute (`self.model[key].train()`), anywhere in the class.
        owner = self.model.class_of(function) if base.startswith("self.") else None
        for site in self.model.calls:
            if site.method not in ("eval", "train") or type(site.receiver) is not cst.Subscript \
                    or dotted_name(site.receiver.value) != base:
                continue
            if site.function is function or (owner is not None and self.model.class_of(site.function) is owner):
                return True
        if not bindings or any(b.kind != "param" for b in bindings):
            return False
        # A parameter: the function switches the mode of the models it holds.
        for site in self.model.calls_in(function):
            if site.method not in ("eval", "train") or site.receiver is None:
                continue
            receiver = site.receiver
            name = dotted_name(receiver)
            for b in self.model.bindings_of(name, function) if name else ():
                loop_over = b.value
                if b.kind == "for" and type(loop_over) is cst.Call and type(loop_over.func) is cst.Attribute \
                        and loop_over.func.attr.value == "values" and dotted_name(loop_over.func.value) == base:
                    return True
        return False

    def _abstract_method_of(self, cls, key: str) -> bool:
        """`self.m` where `m` is an abstract method of this model class (`@abstractmethod`, or
        a body that only passes or raises NotImplementedError): a template's `set_forward`,
        which every subclass implements as its forward pass."""
        if not key.startswith("self.") or "." in key[5:] or not is_module_class(self.model, cls):
            return False
        method = cls.methods.get(key[5:])
        if method is None or method.name in ("forward", "__init__"):
            return False
        if any((dotted_name(d.func if type(d) is cst.Call else d) or "").rsplit(".", 1)[-1] == "abstractmethod"
               for d in method.decorators):
            return True
        body = [s for s in method.node.body.body if not (
            type(s) is cst.SimpleStatementLine and all(type(x) is cst.Expr and type(x.value) is cst.SimpleString
                                                      for x in s.body))]
        if len(body) != 1 or type(body[0]) is not cst.SimpleStatementLine or len(body[0].body) != 1:
            return False
        only = body[0].body[0]
        if type(only) is cst.Pass:
            return True
        if type(only) is cst.Raise and only.exc is not None:
            raised = only.exc.func if type(only.exc) is cst.Call else only.exc
            return (dotted_name(raised) or "") == "NotImplementedError"
        return False

    def _explicit_forward(self, site: CallSite) -> Optional[str]:
        """The module of a `module.forward(x)` call, in a file that imports torch and defines
        no plain class with a `forward` of its own (a from-scratch numpy network's layers)."""
        if site.method != "forward" or site.receiver is None:
            return None
        receiver = dotted_name(site.receiver)
        if receiver is None or receiver == "self":
            return None
        if self._plain_forward_classes is None:
            model = self.model
            torch = any(v == "torch" or v.startswith("torch.") for v in model.imports.aliases.values())
            self._plain_forward_classes = not torch or any(
                "forward" in c.methods and not is_module_class(model, c) for c in model.class_infos)
        return None if self._plain_forward_classes else receiver

    def _generation(self, site: CallSite) -> Optional[str]:
        """The model of a `model.generate(ids)` call (Hugging Face's decoding loop, or a model
        class's own sampler): it runs the model's forward in whatever mode the model is in."""
        if site.method != "generate" or site.receiver is None:
            return None
        receiver = dotted_name(site.receiver)
        if receiver is None or receiver == "self" or not self.roles.is_model(receiver, site.function):
            return None
        return receiver

    def _over_eval_data(self, site: CallSite) -> bool:
        """A loop around the call iterates over evaluation data (`for x, y in val_loader:` in a
        model class's `test_loop`): the class evaluating its parts, not a forward pass of them."""
        return any(type(loop) is cst.For and self.splits.split_of(loop.iter, site.function) in EVAL_SPLITS
                   for loop in self.loops_of(site.node))

    def _method_of_plain_class(self, site: CallSite) -> bool:
        """The call runs a method of a class of this file that is no module (`ModelAnalyzer`)."""
        resolved = self.flow.resolve(site)
        info = self.model.info(resolved[0]) if resolved is not None else None
        return info is not None and info.cls is not None and not is_module_class(self.model, info.cls)

    def _rebound_to_other_framework(self, key: str, site: CallSite) -> bool:
        """A notebook that shows each example twice reuses `model`: a torch model in one cell,
        `TFAutoModel...from_pretrained(...)` in the next. At module level the binding above the
        call decides, unless a loop around the call rebinds the name."""
        bindings = [b for b in self.model.bindings_of(key, None) if b.function is None]
        if len(bindings) < 2:
            return False
        order = source_order(self.model)
        at = order.get(site.node, 0)
        above = [b for b in bindings if order.get(b.statement, 0) < at]
        loops = set(self.loops_of(site.node))
        if not above or (loops and any(loops & set(self.model.ancestors(b.statement)) for b in bindings)):
            return False
        last = max(above, key=lambda b: order.get(b.statement, 0))
        return last.kind == "assign" and last.index is None and other_framework_model(self.model, last.value)

    def _other_framework_in_force(self, key: str, site: CallSite) -> bool:
        """The binding of `key` in force at `site` (the last one above it in the same scope)
        builds or loads a model of another framework (TensorFlow, Keras, JAX)."""
        bindings = [b for b in self.model.bindings.get(key, ()) if b.function is site.function and b.kind == "assign"]
        if not bindings:
            return False
        order = source_order(self.model)
        at = order.get(site.node, 0)
        before = [b for b in bindings if order.get(b.statement, 0) < at]
        if not before:
            return False
        value = max(before, key=lambda b: order.get(b.statement, 0)).value
        return type(value) is cst.Call and other_framework(self.model.qualify_call(value))

    def _given_models(self, key: str, info: Optional[FunctionInfo]) -> bool:
        """A parameter, whatever its name (`m`, `f`), that every call of the function in this
        file fills with a model: calling it is a forward pass."""
        if info is None or key not in info.params or key in ("self", "cls"):
            return False
        given = self.flow.arguments_of(info.node, key)
        return bool(given) and all(self.roles.is_model(dotted_name(value), caller) for value, caller in given)

    # -- structure ----------------------------------------------------------------------------
    def loops_of(self, node: cst.CSTNode) -> tuple:
        """Enclosing loops inside the same function, innermost first."""
        found = self._loops.get(node)
        if found is not None:
            return found
        loops = []
        for ancestor in self.model.ancestors(node):
            kind = type(ancestor)  # exact types: the libcst classes here have no subclasses
            if kind is cst.FunctionDef or kind is cst.ClassDef:
                break
            if (kind is cst.For or kind is cst.While) and not self._in_header(node, ancestor):
                loops.append(ancestor)
        found = self._loops[node] = tuple(loops)
        return found

    def _in_header(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        header = loop.iter if isinstance(loop, cst.For) else loop.test
        current = node
        while current is not None and current is not loop:
            if current is header:
                return True
            current = self.model.parent(current)
        return False

    def inside(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return self.model.is_within(node, container)

    def sites_in(self, container: cst.CSTNode, function) -> list[CallSite]:
        key = (container, function)
        found = self._sites_in.get(key)
        if found is None:
            within = self.model.is_within
            found = self._sites_in[key] = [s for s in self.model.calls_in(function) if within(s.node, container)]
        return list(found)

    def backward_reachable(self, container: cst.CSTNode, function, state: Optional[State]) -> bool:
        """A backward call inside `container` that can run in a path like `state` (same constants)."""
        for site in self.sites_in(container, function):
            if not self.is_backward(site):
                continue
            if state is None or (not state.env and not state.facts):
                return True
            states = self.flow.states_at(site.node)
            if not states and state.env:
                continue  # cut off on every path by the constants the callers passed (`optimizer=None`)
            if not states or any(same_path(state, s) for s in states):
                return True
        return False

    def function_evaluates(self, info: FunctionInfo) -> bool:
        return is_eval_name(info.name) and not any(self.is_backward(s) for s in info.calls)

    # -- evaluation -------------------------------------------------------------------------------
    def eval_evidence(self, forward: Forward, state: State, names: bool = True) -> Optional[str]:
        """Why this forward pass, in this state, is evaluation (None: it is not, or we cannot tell).
        `names=False`: from the data alone, not from the enclosing function's name."""
        site = forward.site
        env = state.env_dict
        loops = self.loops_of(site.node)
        container = loops[0] if loops else site.function
        use = self.path_use(site, state)
        if use == SHAPE:
            return None  # `print(model(x_val).shape)`: a look at shapes, not an evaluation
        # A backward in the same loop makes this a training forward, unless the output is
        # only read as numbers (`if step % 50 == 0: acc = (cnn(test_x).argmax(1) == test_y)...`).
        if container is not None and use != READOUT and self.backward_reachable(container, site.function, state):
            if state.grad != OFF or use == TRAINING:
                return None
            # Under `no_grad` in that loop its output records no graph: nothing trains on it.
            # Given evaluation data, it is the loop's validation pass (a name alone is not enough).
            return self._data_evidence(site, env, loops)
        if use == TRAINING and self._trains_on_path(site, state):
            return None  # behaviour says training: no name or data can override it
        info = self.model.info(site.function) if names else None
        while info is not None:
            # The name is supporting evidence only: the output must be read (numbers, or
            # handed back to the caller) and no caller of the file may train on it.
            if self.function_evaluates(info) and use in (READOUT, ESCAPES) and \
                    not (use == ESCAPES and self._trained_by_callers(info)):
                return f"in `{info.name}()`"
            info = self.model.info(info.parent)
        return self._data_evidence(site, env, loops)

    def _data_evidence(self, site: CallSite, env: dict, loops: list) -> Optional[str]:
        """Evaluation data given to the forward pass, or iterated by a loop around it."""
        for arg in site.node.args:
            if type(arg.value) in _LITERALS or self._is_noise(arg.value, site.function):
                continue  # a string, a number or random noise is never data (`validation_z = randn(...)`)
            split = self._split_in_force(arg.value, site, env)
            if split in EVAL_SPLITS:
                return f"on `{self.model.code(arg.value)}` ({split} data)"
        for loop in loops:
            if isinstance(loop, cst.For):
                split = self.splits.split_of(loop.iter, site.function, env)
                if split in EVAL_SPLITS:
                    return f"over `{self._describe(loop.iter, env)}` ({split} data)"
        for iterated in self._comprehension_iters(site.node):
            split = self.splits.split_of(iterated, site.function, env)
            if split in EVAL_SPLITS:
                return f"over `{self._describe(iterated, env)}` ({split} data)"
        return None

    def _comprehension_iters(self, node: cst.CSTNode) -> list:
        """What the comprehensions around `node` iterate (`sum(model(x)... for x, y in
        val_loader)`), innermost first; not when `node` is in the iterated expression itself."""
        found = []
        path = [node]
        for ancestor in self.model.ancestors(node):
            kind = type(ancestor)
            if kind is cst.FunctionDef or kind is cst.ClassDef or isinstance(ancestor, cst.BaseStatement):
                break
            if kind in (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp):
                part = ancestor.for_in
                iters = []
                while part is not None:
                    iters.append(part.iter)
                    part = part.inner_for_in
                if not any(step is it for step in path for it in iters):
                    found.extend(reversed(iters))
            path.append(ancestor)
        return found

    def _split_in_force(self, value: cst.BaseExpression, site: CallSite, env: dict) -> Optional[str]:
        """The split of an argument; for a name rebound just above the call in the same block
        (`x, y = next(iter(val_loader))` after the training batches were also `x, y`), the
        split of that binding alone, and so on through the names its value is made of
        (`input = torch.cat((x - x * mask, mask), 1)` after `x = sample(test_set)`)."""
        return self._split_at(value, site.node, site.function, env, 0)

    def _split_at(self, value: cst.BaseExpression, at: cst.CSTNode, function, env: dict, depth: int) -> Optional[str]:
        if depth < 8:
            if type(value) is cst.Name and not (env and value.value in env) and not split_of_name(value.value):
                binding = self._binding_in_force(value.value, at, function)
                if binding is not None:
                    if binding.index is not None:
                        split = self.splits.binding_split(binding)
                        if split is None or split == MIXED:
                            # `images, labels = dataiter.next()` where `dataiter` was the
                            # training iterator for a preview above: the iterator in force.
                            split = self._split_of_advance(binding.value, binding.statement, function, depth) or split
                        return split
                    return self._split_at(binding.value, binding.statement, function, None, depth + 1)
            elif type(value) is cst.BinaryOperation:
                return combine((self._split_at(value.left, at, function, env, depth + 1),
                                self._split_at(value.right, at, function, env, depth + 1)))
            elif type(value) is cst.Call and type(value.func) is cst.Attribute and \
                    value.func.attr.value in ("cat", "stack", "concatenate") and value.args and \
                    type(value.args[0].value) in (cst.Tuple, cst.List):
                return combine(self._split_at(e.value, at, function, env, depth + 1)
                               for e in value.args[0].value.elements)
        return self.splits.split_of(value, function, env)

    def _split_of_advance(self, value: cst.BaseExpression, at: cst.CSTNode, function, depth: int) -> Optional[str]:
        """The split of the iterator a batch is drawn from (`next(it)`, `it.next()`,
        `next(iter(loader))`), the iterator's name read as bound in force at `at`."""
        while type(value) is cst.Call:
            func = value.func
            positional = [a.value for a in value.args if a.keyword is None and not a.star]
            if type(func) is cst.Name and func.value in ("next", "iter") and positional:
                value = positional[0]
            elif type(func) is cst.Attribute and func.attr.value in ("next", "__next__") and not value.args:
                value = func.value
            else:
                return None
        if type(value) is cst.Name:
            return self._split_at(value, at, function, None, depth + 1)
        return None

    def _binding_in_force(self, name: str, at: cst.CSTNode, function):
        """The assignment of `name` that every path to the call runs last: the latest one above
        it in a block that holds the call, with no other binding of the name in between, nor
        one later in a loop around the call that it is not inside (None when there is none)."""
        model = self.model
        order = source_order(model)
        node, at = at, order.get(at, 0)
        bindings = [b for b in model.bindings.get(name, ()) if b.function is function]
        blocks = {id(a) for a in model.ancestors(node) if type(a) in (cst.IndentedBlock, cst.Module)}
        best = None
        for b in bindings:
            where = order.get(b.statement, -1)
            if b.kind == "assign" and 0 <= where < at and id(_block_of(model, b.statement)) in blocks and \
                    (best is None or where > order.get(best.statement, -1)):
                best = b
        if best is None:
            return None
        low = order.get(best.statement, -1)
        loops = [loop for loop in self.loops_of(node) if not model.is_within(best.statement, loop)]
        for b in bindings:
            where = order.get(b.statement, -1)
            if b is best:
                continue
            if low < where < at or (where > at and any(model.is_within(b.statement, loop) for loop in loops)):
                return None
        return best

    def behaviour_evidence(self, forward: Forward, state: State) -> Optional[str]:
        """Evaluation by behaviour alone: outside any training region, the result only
        becomes numbers (metrics, predictions), never reaches backward, the model is no
        generator feeding another model, and the input is not random noise (sampling)."""
        site = forward.site
        loops = self.loops_of(site.node)
        container = loops[0] if loops else site.function
        switched = self._switched_to_eval(forward, state)
        if switched:
            return switched
        if container is not None and self.backward_reachable(container, site.function, state) or \
                self._trains_on_path(site, state):
            return None
        args = [a.value for a in site.node.args if a.keyword is None]
        if args and all(type(a) in _LITERALS for a in args):
            return None  # `model('paper')`: a lookup by name, not a forward pass over data
        if self._feeds_a_model(forward.key) or (self._samples_noise(site) and not self._trained_on_input(site)):
            # A generator's samples (GANs: sampling is not evaluating), noise in; except a
            # generator loaded from a checkpoint in a file that trains nothing (a pretrained
            # GAN's sampling notebook): that is its use, with batch norm in training mode
            # normalising each sample by the rest of the batch.
            return LOADED_EVIDENCE if self._inference_run(forward) else None
        use = self.path_use(site, state)
        if use == READOUT:
            return BEHAVIOUR_EVIDENCE
        if use not in (TRAINING, SHAPE) and not self.discarded(site) and self._inference_run(forward):
            return LOADED_EVIDENCE  # its output is saved or post-processed, not only read as numbers
        return None

    def discarded(self, site: CallSite) -> bool:
        """The output is thrown away (`_ = model(torch.zeros(1, 3, h, w))  # run once`, a bare
        call): a warm-up run before the real inference, nothing is evaluated."""
        node, parent = site.node, self.model.parent(site.node)
        while type(parent) is cst.IfExp and node is not parent.test:
            node, parent = parent, self.model.parent(parent)
        if type(parent) is cst.Expr:
            return True
        return type(parent) is cst.Assign and parent.value is node and all(
            type(t.target) is cst.Name and t.target.value == "_" for t in parent.targets)

    def _inference_run(self, forward: Forward) -> bool:
        """A model whose weights this function loads (`model.load_state_dict(...)` above the
        forward pass) in a file with no backward, no optimizer step and no `.train()` call on
        it (Monte Carlo dropout asks for training mode explicitly): a prediction script."""
        if self._file_trains is None:
            self._file_trains = any(self.is_backward(s) or self.is_step(s) for s in self.model.calls)
            # One pass over the file: each model root's `.train()` calls and weight loads.
            self._loads = {}
            for site in self.model.calls:
                if site.method not in ("train", "load_state_dict") or site.receiver is None:
                    continue
                receiver = dotted_name(site.receiver)
                if receiver is not None:
                    self._loads.setdefault(_root(receiver), []).append(site)
        if self._file_trains:
            return False
        order = source_order(self.model)
        at = order.get(forward.site.node, 0)
        loaded = False
        for site in self._loads.get(_root(forward.key), ()):
            if site.method == "train":
                return False
            if site.function is forward.site.function and order.get(site.node, 0) < at:
                loaded = True
        return loaded

    def result_use(self, site: CallSite) -> Optional[str]:
        return self._result(site)[0]

    def path_use(self, site: CallSite, state: State) -> Optional[str]:
        """`result_use` on the path of `state`: a training call that cannot run there (`if
        train: loss.backward()` on the `train=False` path) does not count."""
        use, _, rest = self._result(site)
        if use == TRAINING and not self._trains_on_path(site, state):
            return rest
        return use

    def _switched_to_eval(self, forward: Forward, state: State) -> Optional[str]:
        """Evaluation by behaviour: the model is in eval mode on this path, its output is only
        read (or handed back to a caller that does not train on it), and the same model is
        trained in training mode in this function (`model.train() ... backward()` then
        `model.eval(); out = model(x)`; or a train-or-evaluate helper on its evaluation path).
        A model kept in eval mode for good (a frozen teacher, a target network) is not switched."""
        key = forward.key
        if state.mode(key) != EVAL:
            return None
        site = forward.site
        use = self.path_use(site, state)
        info = self.model.info(site.function)
        if use not in (READOUT, ESCAPES) or (use == ESCAPES and (info is None or self._trained_by_callers(info))):
            return None
        return SWITCHED_EVIDENCE.format(key=key) if self._trains_in_train_mode(key, site.function) else None

    def _trains_in_train_mode(self, key: str, function) -> bool:
        """A forward pass of `key` in `function` reaches a backward on a path where `key` is in
        training mode (asked once per model and function)."""
        memo = self._trained_here
        if memo is None:
            memo = self._trained_here = {}
            for other in self.forwards():
                if memo.get((other.key, other.site.function)) or self.result_use(other.site) != TRAINING:
                    continue
                if any(s.mode(other.key) == TRAIN and self._trains_on_path(other.site, s)
                       for s in self.flow.states_at(other.site.node)):
                    memo[(other.key, other.site.function)] = True
        return memo.get((key, function), False)

    def _result(self, site: CallSite) -> tuple:
        found = self._uses.get(site.node)
        if found is None:
            found = self._uses[site.node] = result_use(
                self.model, site.node, site.function, self.is_backward, self.roles.is_optimizer, self._trains)
        return found

    def _trains_on_path(self, site: CallSite, state: State) -> bool:
        """A training call the output reaches can run on a path like `state` (same constants:
        `if phase == "train": loss.backward()` trains only in the training phase)."""
        for trained in self._result(site)[1]:
            states = self.flow.states_at(trained.node)
            if not states and state.env:
                continue  # cut off on every path by the constants the callers passed
            if (not state.env and not state.facts) or not states or any(same_path(state, s) for s in states):
                return True
        return False

    def _trains(self, site: CallSite) -> bool:
        resolved = self.flow.resolve(site)
        info = self.model.info(resolved[0]) if resolved is not None else None
        if info is None:
            return self._trains_elsewhere(site)
        return any(self.is_backward(s) for s in info.calls)

    def _trains_elsewhere(self, site: CallSite) -> bool:
        """A function of another module of the run, imported or star-imported, that calls
        `backward()` itself (`from gan_steps import *` ... `train_generator(D, fake, ...)`)."""
        project, module = self.flow.project, self.flow.module_name
        if project is None or not module or not hasattr(project, "backpropagates") or site.callee is None:
            return False
        if site.qualname is not None:
            qualified = [site.qualname]
        elif "." in site.callee or self.model.functions_named(site.callee) or site.callee in self.model.class_info:
            return False
        else:
            qualified = [f"{star}.{site.callee}" for star in self.model.imports.stars]
        package = module.rpartition(".")[0]
        for target in filter(None, (resolve_import(module, q) for q in qualified)):
            # A script of a package run from its own directory imports its siblings by
            # their bare names (`from generator import *` in scripts/train.py).
            if project.get(target[0]) is None and package:
                target = (f"{package}.{target[0]}", target[1])
            if project.backpropagates(*target):
                return True
        return False

    def _trained_by_callers(self, info: FunctionInfo) -> bool:
        """A helper whose returned output a caller of this file back-propagates."""
        for caller, _ in self.flow.call_sites_of(info.node):
            if self.result_use(caller) == TRAINING:
                return True
        return False

    def _feeds_a_model(self, key: str) -> bool:
        """`key`'s output is the input of another model of the file (`D(G(z))`, `fake = G(z);
        D(fake.detach())`): a generator, whose sampling from noise is not an evaluation."""
        found = self._generators.get(key)
        if found is None:
            found = self._generators[key] = self._find_feeding(key)
        return found

    def _find_feeding(self, key: str) -> bool:
        for other in self.forwards():
            if other.key == key:
                continue
            for arg in other.site.node.args:
                # `D(G(z))`, `fake = G(z); D(fake.detach())`, `_, z = E(x)`, `D(torch.cat((fake, y), 1))`
                values: list = []
                pending = [arg.value]
                while pending and len(values) < 24:
                    node = pending.pop()
                    if any(node is v for v in values):
                        continue
                    values.append(node)
                    if type(node) is cst.Call and dotted_name(node.func) == key:
                        return True
                    if type(node) is cst.Name:
                        pending += [b.value for b in self.model.bindings_of(node.value, other.site.function)
                                    if b.kind == "assign"]
                    elif type(node) is cst.Attribute:
                        pending.append(node.value)
                    elif type(node) in (cst.Call, cst.Tuple, cst.List, cst.Element, cst.Arg):
                        pending.extend(syntactic_children(node))
        return False

    def _trained_on_input(self, site: CallSite) -> bool:
        """The random tensor given here is also what the model trains on (toy data made with
        `torch.randn`), rather than noise to sample from."""
        first = dotted_name(site.node.args[0].value) if site.node.args else None
        return first is not None and any(
            other.site is not site and other.site.function is site.function and other.site.node.args
            and dotted_name(other.site.node.args[0].value) == first
            and self.result_use(other.site) == TRAINING for other in self.forwards())

    def samples_noise(self, site: CallSite) -> bool:
        """The forward pass's input is a random draw (`G(torch.randn(n, 100))`): sampling."""
        return self._samples_noise(site)

    def _samples_noise(self, site: CallSite) -> bool:
        return any(self._is_noise(arg.value, site.function) for arg in site.node.args[:1])

    def _is_noise(self, node: cst.BaseExpression, function) -> bool:
        """`torch.randn(...)`, directly or through the name it was assigned to."""
        values = [node]
        name = dotted_name(node) if type(node) in (cst.Name, cst.Attribute) else None
        if name:
            values = self.model.values_of(name, function)
        return bool(values) and all(self._noise_call(v, 0) for v in values)

    def _noise_call(self, value: cst.BaseExpression, depth: int) -> bool:
        """A random draw, possibly wrapped (`Variable(Tensor(np.random.normal(...)))`, `.to(dev)`)."""
        if type(value) is not cst.Call or depth > 3:
            return False
        if (self.model.qualify_call(value) or "").startswith(_NOISE):
            return True
        inner = [a.value for a in value.args if a.keyword is None][:1]
        if type(value.func) is cst.Attribute:
            inner.append(value.func.value)
        return any(self._noise_call(v, depth + 1) for v in inner)

    def _describe(self, node: cst.BaseExpression, env: dict) -> str:
        if isinstance(node, cst.Name) and isinstance(env.get(node.value), cst.CSTNode):
            return self.model.code(env[node.value])
        return self.model.code(node)

    def test_split_of_call(self, site: CallSite, state: State) -> Optional[str]:
        """The test-data argument of a call, as written, if any."""
        env = state.env_dict
        for arg in site.node.args:
            if self.splits.split_of(arg.value, site.function, env) == TEST:
                return self._describe(arg.value, env)
        return None


def _holds_parameters(value: cst.BaseExpression) -> bool:
    """`model.parameters()` (or `named_parameters()`), as written."""
    return type(value) is cst.Call and type(value.func) is cst.Attribute and \
        value.func.attr.value in ("parameters", "named_parameters") and not value.args


def program_of(model: FileModel, project=None, module_name: Optional[str] = None) -> Program:
    program = model.cache.get("program")
    if program is not None and program.flow.project is None and project is not None and module_name is not None \
            and hasattr(project, "has_callers"):
        # Phase 1 ran without the project. Callers in other files change a function's
        # entry context only through `project.call_contexts(module, qualname)`, and model
        # classes of other modules make a model fresh only through `project.model_class`:
        # when neither concerns this file, the flow is the one the project gives, and it is
        # kept (marked as holding for the project, so this is asked once).
        if (project.has_callers(module_name) and _called_from_elsewhere(model, project, module_name)) \
                or _builds_project_models(model, project, module_name) \
                or _calls_project_switches(model, project, module_name) \
                or builds_with_project_functions(model, project) \
                or _imports_project_models(model, project, module_name):
            for key in ("program", "flow"):
                model.cache.pop(key, None)
            # Run again with the project, taking over what does not depend on callers.
            model.cache["flow"] = FlowAnalysis(model, project, module_name, previous=program.flow).run()
            program = None
        else:
            program.flow.project, program.flow.module_name = project, module_name
    if program is None:
        program = model.cache["program"] = Program(model, project, module_name)
    return program


def _imports_project_models(model: FileModel, project, module_name: str) -> bool:
    """Whether the file imports a model that another module's top level leaves in a known
    mode (`from model import model`, exit_modes.py): the module-level flow starts with it."""
    from auditor.analysis.exit_modes import imported_modes

    return bool(imported_modes(model, project, module_name))


def _builds_project_models(model: FileModel, project, module_name: str) -> bool:
    """Whether the file builds a model class of another module of the project (then its
    mode, fresh in training mode, is known only with the project)."""
    if not hasattr(project, "model_class"):
        return False
    return any(imported_model(model, project, module_name, site.node) is not None for site in model.calls
               if site.qualname is not None or model.imports.stars)  # classes and factories (`get_model()`)


def _calls_project_switches(model: FileModel, project, module_name: str) -> bool:
    """Whether the file calls a function of another module that switches a parameter's mode,
    or a method that the project's model classes define to switch `self` (the flow reads
    their effects only with the project)."""
    if not hasattr(project, "method_effects"):
        return False
    for site in model.calls:
        if site.qualname is not None:
            target = resolve_import(module_name, site.qualname)
            summary = project.get(target[0]) if target is not None else None
            if summary is not None and target[1] in (getattr(summary, "effects", None) or {}):
                return True
        elif site.method is not None and any(project.method_effects(site.method)):
            return True
        elif site.method is not None and site.receiver is not None and (
                project_wrapper_method(project, site.method) or ((), False))[0]:
            return True  # `model.val_start()`: a wrapper of another module switching its networks
    return False


def _called_from_elsewhere(model: FileModel, project, module_name: str) -> bool:
    """Whether other files call a function of this file (True when the project cannot say)."""
    called_functions = getattr(project, "called_functions", None)
    if called_functions is None:
        return True
    called = called_functions(module_name)
    return any(info.qualname in called for info in model.function_info.values())


def _root(key: str) -> str:
    """`model` for `model.module`, `self.net` for `self.net.head`: the model a name belongs to."""
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] == "self" and len(parts) > 1 else parts[0]


def _block_of(model: FileModel, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The block (`IndentedBlock` or the module) whose statement list holds `node`."""
    for ancestor in model.ancestors(node):
        if type(ancestor) in (cst.IndentedBlock, cst.Module):
            return ancestor
    return None
