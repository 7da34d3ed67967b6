"""TRN5xx: model definition."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.findings import Severity
from auditor.fixes import SAFE, UNSAFE, add_keyword, insert_before, make_fix, parse_statement
from auditor.rule import Rule
from rules._helpers import keyword, positional
from rules._queries import (class_of, constructor, is_module_class, is_module_value, is_torch_nn_class,
                            local_class, methods, names_a_model, names_in, qualify, bound_values)
from auditor.analysis.roles import MODULE_BASES

FUNCTIONAL_DROPOUTS = tuple(f"torch.nn.functional.{n}" for n in
                            ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                             "feature_alpha_dropout"))
LINEAR = "torch.nn.Linear"
# Layers that keep a stack of Linear layers linear (at evaluation time at least).
TRANSPARENT = ("torch.nn.Dropout", "torch.nn.Identity", "torch.nn.Dropout1d", "torch.nn.AlphaDropout")


class MissingSuperInit(Rule):
    code = "TRN501"
    name = "missing-super-init"
    severity = Severity.ERROR
    summary = "An nn.Module subclass defines __init__ without calling super().__init__()."
    what = """
        Flags the `__init__` of a class derived from `nn.Module` (directly, through another
        torch.nn class, a Lightning module, or a parent class of the same file) that never
        calls its parent's `__init__`: neither `super().__init__(...)`, `super(Cls, self).__init__(...)`
        nor `Parent.__init__(self, ...)`. A class without its own `__init__` is fine.
        """
    why = """
        `nn.Module.__init__` sets up the registries of parameters, buffers and submodules.
        Without it the first `self.layer = nn.Linear(...)` fails, or, when the parent is a
        class of yours, its layers and settings silently never exist.
        """
    instead = "Call `super().__init__()` as the first statement of `__init__` (the safe fix inserts it)."
    bad_examples = (
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                self.fc = nn.Linear(10, 2)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(10, 2)
        """,
        """
        import torch.nn as nn

        class Base(nn.Module):
            def __init__(self):
                super(Base, self).__init__()

        class Child(Base):
            def __init__(self):
                Base.__init__(self)
                self.fc = nn.Linear(10, 2)

        class Config:
            def __init__(self):
                self.lr = 0.1
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        for cls in model.classes:
            init = methods(cls).get("__init__")
            if init is None or not is_module_class(model, cls) or self._calls_parent_init(model, cls, init):
                continue
            ctx.report(init.name, f"`{cls.name.value}.__init__` never calls `super().__init__()`: the "
                                  f"module's parameter and submodule registries are never set up",
                       fix=self._fix(ctx, cls, init))

    @staticmethod
    def _calls_parent_init(model, cls: cst.ClassDef, init: cst.FunctionDef) -> bool:
        own = methods(cls)
        helpers = {"__init__"}
        # The model lists each function's own calls (not those of functions nested in it).
        for site in model.calls_in(init):
            func = site.node.func
            if isinstance(func, cst.Attribute) and dotted_name(func.value) == "self":
                helpers.add(func.attr.value)  # `self._build()` may call it for us
        for name in helpers:
            if name not in own:
                continue
            for site in model.calls_in(own[name]):
                func = site.node.func
                if isinstance(func, cst.Attribute) and func.attr.value == "__init__" \
                        and not (dotted_name(func.value) or "").startswith("self"):
                    return True
        return False

    @staticmethod
    def _fix(ctx, cls: cst.ClassDef, init: cst.FunctionDef):
        model = ctx.model
        if not isinstance(init.body, cst.IndentedBlock) or not _parents_take_no_arguments(model, cls):
            return None
        body = list(init.body.body)
        index = 1 if body and _is_docstring(body[0]) else 0
        call = parse_statement(ctx, "super().__init__()\n")
        if index < len(body):
            changes = {body[index]: insert_before(body[index], [call], move_comments=False)}
        else:
            changes = {body[-1]: cst.FlattenSentinel([body[-1], call])}
        return make_fix(ctx, "Insert `super().__init__()` as the first statement of `__init__`", changes, SAFE)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
        and isinstance(statement.body[0], cst.Expr) \
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def _parents_take_no_arguments(model, cls: cst.ClassDef) -> bool:
    """`super().__init__()` without arguments is right only if every parent accepts that."""
    for base in cls.bases:
        if base.keyword is not None:
            continue
        qualified = qualify(model, base.value)
        if is_torch_nn_class(qualified) or qualified in MODULE_BASES:
            if qualified and qualified.rsplit(".", 1)[-1] in ("Module", "Sequential", "ModuleList", "ModuleDict",
                                                               "LightningModule"):
                continue
            return False  # nn.Linear & co. need their own arguments
        parent = local_class(model, dotted_name(base.value))
        if parent is None:
            return False
        parent_init = methods(parent).get("__init__")
        if parent_init is not None and any(p.default is None for p in parent_init.params.params[1:]):
            return False
    return True


class FunctionalDropoutAlwaysOn(Rule):
    code = "TRN502"
    name = "functional-dropout-always-on"
    severity = Severity.ERROR
    summary = "F.dropout in a module method without training=self.training stays on in eval mode."
    what = """
        Flags `F.dropout` (and `dropout1d/2d/3d`, `alpha_dropout`, `feature_alpha_dropout`)
        called in a method of an `nn.Module` subclass without a `training` argument.
        """
    why = """
        The functional form defaults to `training=True` whatever the module's mode:
        `model.eval()` does not switch it off, so validation and inference are noisy and
        every reported metric is computed on a randomly thinned network.
        """
    instead = "Pass `training=self.training` (the safe fix adds it), or use an `nn.Dropout` layer."
    bad_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def forward(self, x):
                return F.dropout(self.fc(x), p=0.5)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = nn.Dropout(0.5)

            def forward(self, x):
                return F.dropout(self.fc(x), p=0.5, training=self.training) + self.drop(x)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        for site in model.calls_matching(*FUNCTIONAL_DROPOUTS):
            call = site.node
            if keyword(call, "training") is not None or positional(call, 2) is not None \
                    or any(a.star for a in call.args):
                continue
            cls = class_of(model, site.function)
            if cls is None or not is_module_class(model, cls) or not _has_self(site.function) \
                    or _guarded_by_training(model, call):
                continue
            fix = make_fix(ctx, "Add `training=self.training`",
                           {call: lambda node: add_keyword(node, "training", "self.training")}, SAFE)
            ctx.report(call, f"`{dotted_name(call.func)}` without `training=` is applied in eval mode "
                             f"too; pass `training=self.training`", fix=fix)


def _guarded_by_training(model, node: cst.CSTNode) -> bool:
    """`if self.training: x = F.dropout(x)`: the call runs in training mode only."""
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, cst.FunctionDef):
            return False
        if isinstance(ancestor, cst.If) and "self.training" in names_in(ancestor.test) \
                and any(a is ancestor.body for a in model.ancestors(node)):
            return True
    return False


def _has_self(function: Optional[cst.FunctionDef]) -> bool:
    params = function.params.params if function is not None else ()
    return bool(params) and params[0].name.value == "self"


class StackedLinearWithoutActivation(Rule):
    code = "TRN503"
    name = "stacked-linear-without-activation"
    severity = Severity.WARNING
    summary = "Two nn.Linear layers in a row with no nonlinearity between them."
    what = """
        Flags two `nn.Linear` layers applied one after the other with nothing nonlinear
        between them (only dropout or identity): consecutive entries of `nn.Sequential`,
        `self.b(self.a(x))`, or `x = self.a(x)` directly followed by `x = self.b(x)`.
        A first layer built with `bias=False` reads as a deliberate low-rank
        factorization and is not flagged.
        """
    why = """
        The composition of two affine maps is one affine map: the extra layer adds
        parameters and compute but no expressive power, which is almost always a
        forgotten activation.
        """
    instead = "Put an activation (`nn.ReLU`, `nn.GELU`, ...) or a normalization between the two layers."
    bad_examples = (
        """
        import torch.nn as nn

        head = nn.Sequential(nn.Linear(512, 256), nn.Dropout(0.1), nn.Linear(256, 10))
        """,
    )
    good_examples = (
        """
        import torch.nn as nn

        head = nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        norm = nn.Sequential(nn.Linear(512, 256), nn.LayerNorm(256), nn.Linear(256, 10))
        low_rank = nn.Sequential(nn.Linear(512, 16, bias=False), nn.Linear(16, 512))
        """,
    )

    def check(self, ctx) -> None:
        # Every finding needs two layers built by nn.Linear, whose final name is written in
        # the file (in the call or in its import): without it there is nothing to find.
        if "Linear" not in ctx.source.text:
            return
        model = ctx.model
        for site in model.calls:
            if matches(site.qualname, "torch.nn.Sequential"):
                self._sequential(ctx, site.node)
            elif type(site.node.func) is cst.Attribute and site.function is not None:
                self._nested(ctx, site)
        for function in model.functions:
            if type(function.body) is cst.IndentedBlock:
                self._consecutive(ctx, function)

    def _sequential(self, ctx, call: cst.Call) -> None:
        previous: Optional[cst.Call] = None
        for layer in _sequential_layers(ctx.model, call):
            built = constructor(ctx.model, layer)
            if matches(built, LINEAR):
                if previous is not None:
                    ctx.report(layer, "two `nn.Linear` layers in a row with no activation between them "
                                      "collapse into one linear map")
                previous = None if _no_bias(layer) else layer
            elif not matches(built, *TRANSPARENT):
                previous = None

    def _layer(self, ctx, expr: cst.BaseExpression, function) -> Optional[cst.Call]:
        values = bound_values(ctx.model, expr, function) if dotted_name(expr) else []
        linear = [v for v in values if matches(constructor(ctx.model, v), LINEAR)]
        return linear[0] if values and len(linear) == len(values) else None

    def _nested(self, ctx, site) -> None:
        outer = site.node
        if len(outer.args) != 1 or type(outer.args[0].value) is not cst.Call:
            return
        inner = outer.args[0].value
        first, second = self._layer(ctx, inner.func, site.function), self._layer(ctx, outer.func, site.function)
        if first is not None and second is not None and not _no_bias(first):
            ctx.report(outer, f"`{dotted_name(outer.func)}` is applied directly to the output of "
                              f"`{dotted_name(inner.func)}`: two `nn.Linear` layers with no activation between them")

    def _consecutive(self, ctx, function: cst.FunctionDef) -> None:
        assignments = [_layer_assignment(statement) for statement in function.body.body]  # once each
        for first, second in zip(assignments, assignments[1:]):
            if first is None or second is None:
                continue
            target, call_a = first
            _, call_b = second
            argument = call_b.args[0].value if len(call_b.args) == 1 else None
            if dotted_name(argument) != target:
                continue
            layer_a = self._layer(ctx, call_a.func, function)
            if layer_a is not None and not _no_bias(layer_a) and self._layer(ctx, call_b.func, function) is not None:
                ctx.report(call_b, f"`{dotted_name(call_b.func)}` is applied directly to the output of "
                                   f"`{dotted_name(call_a.func)}`: two `nn.Linear` layers with no activation "
                                   f"between them")


def _sequential_layers(model, call: cst.Call) -> list[cst.BaseExpression]:
    """The layers of `nn.Sequential(a, b)` or `nn.Sequential(OrderedDict([("a", a), ("b", b)]))`."""
    args = call.args
    if any(a.keyword is not None or a.star for a in args):
        return []
    if len(args) == 1 and isinstance(args[0].value, cst.Call) \
            and (dotted_name(args[0].value.func) or "").endswith("OrderedDict") and args[0].value.args:
        pairs = args[0].value.args[0].value
        if not isinstance(pairs, (cst.List, cst.Tuple)):
            return []
        layers = []
        for element in pairs.elements:
            if not isinstance(element.value, cst.Tuple) or len(element.value.elements) != 2:
                return []
            layers.append(element.value.elements[1].value)
        return layers
    return [a.value for a in args]


def _layer_assignment(statement: cst.BaseStatement) -> Optional[tuple[str, cst.Call]]:
    """`x = self.fc(x)` -> ("x", call)."""
    # Exact types (these libcst classes have no subclasses): isinstance against libcst's
    # ABCs is a Python-level call, and this runs for every statement of every function.
    if type(statement) is not cst.SimpleStatementLine or len(statement.body) != 1:
        return None
    assign = statement.body[0]
    if type(assign) is not cst.Assign or len(assign.targets) != 1 or type(assign.value) is not cst.Call:
        return None
    target = dotted_name(assign.targets[0].target)
    return (target, assign.value) if target else None


def _no_bias(call: cst.BaseExpression) -> bool:
    if not isinstance(call, cst.Call):
        return False
    bias = keyword(call, "bias")
    value = bias.value if bias is not None else positional(call, 2)
    return isinstance(value, cst.Name) and value.value == "False"


class ForwardCalledDirectly(Rule):
    code = "TRN504"
    name = "forward-called-directly"
    severity = Severity.WARNING
    summary = "model.forward(x) instead of model(x): hooks are skipped."
    what = """
        Flags `m.forward(...)` where `m` is a module: built from an `nn.Module` class
        (torch.nn, torchvision, timm, or a Module subclass of the file) or named like one
        (`model`, `net`, `encoder`, ...). `super().forward(...)`, `Parent.forward(self, ...)`
        and `self.forward(...)` inside the class are not flagged.
        """
    why = """
        `Module.__call__` runs forward pre-hooks and hooks around `forward`: calling
        `forward` directly skips them, and with them whatever relies on them
        (hook-based pruning, quantization observers, FSDP/DDP bookkeeping, activation
        capture), often with no error.
        """
    instead = "Call the module itself: `model(x)` (the unsafe fix rewrites the call)."
    bad_examples = (
        """
        import torch

        logits = model.forward(images)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn

        class Wrapper(nn.Linear):
            def forward(self, x):
                return super().forward(x) * 2

        logits = model(images)
        """,
    )
    needs_imports = (".forward(",)

    def check(self, ctx) -> None:
        model = ctx.model
        for site in model.calls:
            func = site.node.func
            if not isinstance(func, cst.Attribute) or func.attr.value != "forward":
                continue
            target = func.value
            name = dotted_name(target)
            if name is None or name == "self" or qualify(model, target) or local_class(model, name) \
                    or not site.node.args:  # a module's forward takes an input; OpenCV's net.forward() does not
                continue
            values = bound_values(model, target, site.function)
            if values:
                if not any(is_module_value(model, v) for v in values):
                    continue
            elif not names_a_model(target) or "torch" not in model.imports.modules:
                continue
            fix = make_fix(ctx, f"Call `{name}(...)` instead of `{name}.forward(...)`",
                           {func: target}, UNSAFE)
            ctx.report(site.node, f"`{name}.forward(...)` bypasses the module's hooks; call `{name}(...)`",
                       fix=fix)


MODEL_RULES = [MissingSuperInit(), FunctionalDropoutAlwaysOn(), StackedLinearWithoutActivation(),
               ForwardCalledDirectly()]
