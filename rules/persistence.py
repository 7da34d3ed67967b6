"""TRN6xx: persistence, security, device."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.findings import Severity
from auditor.fixes import SAFE, UNSAFE, add_keyword, make_fix
from auditor.rule import Rule
from rules._helpers import argument, keyword
from rules._queries import bound_values, is_module_value, names_a_model, string_value

# Calls that mean "the device is decided at run time": one of them anywhere in the file is a fallback.
DEVICE_PROBES = ("torch.cuda.is_available", "torch.cuda.device_count", "torch.backends.mps.is_available",
                 "torch.accelerator.is_available", "torch.accelerator.current_accelerator")
# Where a "cuda" literal is a configurable default rather than a hard-coded device.
CONFIG_CALLS = {"add_argument", "get", "getenv", "environ", "setdefault", "field"}


class WholeModelSave(Rule):
    code = "TRN601"
    name = "whole-model-save"
    severity = Severity.INFO
    summary = "torch.save of a whole module instead of its state_dict()."
    what = """
        Flags `torch.save(obj, ...)` where `obj`, or a value of a dict being saved, is a
        module: built from an `nn.Module` class in this file, or a name such as `model`
        or `net` that is not bound to anything else (a state dict, a dict, a tensor).
        """
    why = """
        Saving the module pickles its class by import path: the checkpoint breaks as soon
        as the code is moved or refactored, drags the whole object graph (and any
        wrapper such as DDP) along, and loading it needs `weights_only=False`, which
        executes arbitrary code.

        Severity info: a portability habit; the checkpoint loads as long as the code does not move.
        """
    instead = "Save `model.state_dict()` and load it into a freshly built model (the unsafe fix rewrites the call)."
    bad_examples = (
        """
        import torch

        torch.save(model, "checkpoint.pt")
        """,
    )
    good_examples = (
        """
        import torch

        torch.save(model.state_dict(), "checkpoint.pt")
        torch.save({"model": model.state_dict(), "epoch": epoch}, "checkpoint.pt")
        model_state = model.state_dict()
        torch.save(model_state, "weights.pt")
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        for site in model.calls_matching("torch.save"):
            obj = argument(site.node, "obj", 0)
            if obj is None:
                continue
            candidates = [obj]
            if isinstance(obj, cst.Dict):
                candidates = [e.value for e in obj.elements if isinstance(e, cst.DictElement)]
            for value in candidates:
                if self._is_module(model, value, site.function):
                    name = dotted_name(value)
                    fix = make_fix(ctx, f"Save `{name}.state_dict()` instead of the module",
                                   {value: cst.parse_expression(f"{name}.state_dict()")}, UNSAFE)
                    ctx.report(value, f"`torch.save` pickles the whole module `{name}`; save "
                                      f"`{name}.state_dict()` instead", fix=fix)

    @staticmethod
    def _is_module(model, value: cst.BaseExpression, function) -> bool:
        if dotted_name(value) is None:
            return False
        values = bound_values(model, value, function)
        if values:
            return all(is_module_value(model, v) or _opaque_call(v) for v in values) \
                and (any(is_module_value(model, v) for v in values) or names_a_model(value))
        return names_a_model(value) and not dotted_name(value).endswith(("state", "state_dict", "weights"))


def _opaque_call(value: cst.BaseExpression) -> bool:
    """`build_model(cfg)`: could be a module; `model.state_dict()`, `{...}`, `x.cpu()`: is not."""
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Name)


class UnsafeTorchLoad(Rule):
    code = "TRN602"
    name = "unsafe-torch-load"
    severity = Severity.WARNING
    default = False
    default_reason = ("Since torch 2.6 `torch.load` defaults to `weights_only=True`, and most findings load the "
                      "project's own checkpoints; select it where untrusted files are loaded or older torch is supported.")
    summary = "torch.load without weights_only=True can execute code from the file."
    what = """
        Flags `torch.load(...)` called without `weights_only=True`: with the argument
        missing, or set to `False`. torch 2.6 and later default to `weights_only=True`;
        torch 2.0 to 2.5 default to `False` (and warn from 2.4), so a call without the
        argument is unsafe on every torch this project may run under before 2.6. If you
        pin `torch>=2.6`, add `TRN602` to `ignore` for the missing-argument case.
        """
    why = """
        Without `weights_only=True`, `torch.load` unpickles the file, and unpickling runs
        whatever code the file asks for: a checkpoint downloaded or shared is a program.
        """
    instead = """
        Pass `weights_only=True` (the unsafe fix adds it: it raises on files that hold whole
        modules or other pickled objects) and save state dicts, not modules.
        Load a full pickle with `weights_only=False` only from files you produced.
        """
    bad_examples = (
        """
        import torch

        state = torch.load("checkpoint.pt", map_location="cpu")
        """,
    )
    good_examples = (
        """
        import torch

        state = torch.load("checkpoint.pt", map_location="cpu", weights_only=True)
        """,
    )

    def check(self, ctx) -> None:
        for site in ctx.model.calls_matching("torch.load"):
            call = site.node
            given = keyword(call, "weights_only")
            if given is None:
                if any(a.star for a in call.args) or len([a for a in call.args if a.keyword is None]) > 3:
                    continue  # passed positionally or through **kwargs: cannot tell
                # Unsafe: loading a whole pickled module, a dataset or a checkpoint holding a
                # config object raises with weights_only=True, and what the file holds is not
                # visible here (seen on real repositories).
                fix = make_fix(ctx, "Add `weights_only=True`",
                               {call: lambda node: add_keyword(node, "weights_only", "True")}, UNSAFE)
                ctx.report(call, "`torch.load` without `weights_only=True` unpickles arbitrary objects "
                                 "(the default before torch 2.6); pass `weights_only=True`", fix=fix)
            elif isinstance(given.value, cst.Name) and given.value.value == "False":
                ctx.report(call, "`torch.load(..., weights_only=False)` executes any code the file "
                                 "contains; use it only for files you produced")


class HardcodedCudaDevice(Rule):
    code = "TRN603"
    name = "hardcoded-cuda-device"
    severity = Severity.INFO
    default = False
    default_reason = "Code written for CUDA machines is a choice, not a bug; select it for code meant to run anywhere."
    summary = "`.cuda()` or a \"cuda\" device with no fallback for machines without CUDA."
    what = """
        Flags `.cuda()`, `torch.device("cuda")`, `.to("cuda")` and `device="cuda"` (also
        `"cuda:N"`) in a file that never asks whether CUDA is there
        (`torch.cuda.is_available()`, `device_count()`, MPS or `torch.accelerator` probes).
        A literal inside a conditional expression, a command-line/environment default
        or an `autocast(device_type="cuda")` is not flagged, nor a call in a branch whose
        condition is about CUDA (`if x.is_cuda:`, `if args.cuda:`, `if use_gpu:`).
        """
    why = """
        The script fails on a laptop, a CPU CI runner or an Apple machine, which pushes
        people to edit device strings by hand and to run tests on a different code
        path from training.
        """
    instead = """
        Choose the device once with a fallback and pass it around:
        `device = torch.device("cuda" if torch.cuda.is_available() else "cpu")`.
        """
    bad_examples = (
        """
        import torch

        model = Net().cuda()
        batch = batch.to("cuda")
        """,
    )
    good_examples = (
        """
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = Net().to(device)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        if model.calls_matching(*DEVICE_PROBES):
            return
        for site in model.calls:
            call = site.node
            # The branch test walks the call's ancestors: ask it only of calls that would be reported.
            if site.method == "cuda" and site.qualname is None:
                if not self._under_cuda_condition(model, call):
                    ctx.report(call, "`.cuda()` fails where CUDA is unavailable; choose the device once with "
                                     "`torch.cuda.is_available()` and use `.to(device)`")
                continue
            literal = self._cuda_literal(model, site)
            if literal is not None and not self._under_cuda_condition(model, call):
                ctx.report(literal, "hard-coded \"cuda\" device with no fallback; choose it once with "
                                    "`torch.cuda.is_available()`")

    @staticmethod
    def _under_cuda_condition(model, call: cst.Call) -> bool:
        """Inside a branch whose condition is about CUDA (`if x.is_cuda:`, `if args.cuda:`,
        `if use_gpu:`, `y.cuda() if cuda else y`): the device was chosen on purpose."""
        for ancestor in model.ancestors(call):
            kind = type(ancestor)
            if kind is cst.FunctionDef or kind is cst.ClassDef:
                return False
            if kind is cst.If or kind is cst.IfExp or kind is cst.While:
                if model.is_within(call, ancestor.test):
                    continue
                words = model.code(ancestor.test).lower()
                if "cuda" in words or "gpu" in words:
                    return True
        return False

    @staticmethod
    def _cuda_literal(model, site) -> Optional[cst.BaseExpression]:
        call = site.node
        # Every candidate below is an argument's value, and only a plain string can be one
        # (SimpleString has no subclasses: an exact type test, no ABC isinstance).
        if not any(type(arg.value) is cst.SimpleString for arg in call.args):
            return None
        candidates = []
        if matches(site.qualname, "torch.device"):
            candidates.append(argument(call, "type", 0))
        elif site.method == "to" and site.qualname is None:
            candidates.append(argument(call, "device", 0))
        if (site.method or dotted_name(call.func) or "") not in CONFIG_CALLS:
            device = keyword(call, "device")
            candidates.append(device.value if device is not None else None)
        for value in candidates:
            text = string_value(value)
            if text is not None and (text == "cuda" or text.startswith("cuda:")):
                return value
        return None


PERSISTENCE_RULES = [WholeModelSave(), UnsafeTorchLoad(), HardcodedCudaDevice()]
