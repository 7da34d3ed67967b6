"""TRN303: NLLLoss expects log-probabilities."""

from __future__ import annotations

import os
from typing import Optional

import libcst as cst

from auditor.analysis.activations import LOGITS as LOGITS_KIND, SOFTMAX as SOFTMAX_KIND, activations_of, \
    module_attribute, reaching_bindings
from auditor.analysis.loss_inputs import LOSS_WORDS, loss_inputs_of
from auditor.analysis.names import dotted_name, matches
from auditor.findings import Severity
from auditor.speed import mentions_any
from auditor.rule import Rule
from rules._helpers import argument, final_names
from rules._queries import bound_values, constructor, local_class, methods, qualify

NLL_FUNCTIONS = ("torch.nn.functional.nll_loss",)
NLL_CLASSES = ("torch.nn.NLLLoss",)
_NLL_WORDS = final_names(*NLL_FUNCTIONS, *NLL_CLASSES)
SOFTMAX = ("torch.softmax", "torch.nn.functional.softmax", "torch.nn.Softmax")
LOG_SOFTMAX = ("torch.log_softmax", "torch.nn.functional.log_softmax", "torch.nn.LogSoftmax", "torch.log")
PROBABILITIES, LOGITS, LOG_PROBABILITIES = "probabilities", "logits", "log-probabilities"


def output_kind(model, node: Optional[cst.BaseExpression], function, depth: int = 0) -> Optional[str]:
    """What an expression holds, when the code says so: probabilities, logits or log-probabilities."""
    if node is None or depth > 4:
        return None
    if isinstance(node, (cst.Name, cst.Attribute)) and not isinstance(node, cst.Call):
        name = dotted_name(node)
        if name is None:
            return None
        # Only the assignments that reach this use: `out = F.softmax(out, 1)` replaces the logits.
        bindings = reaching_bindings(model, [b for b in model.bindings_of(name, function)
                                             if b.kind in ("assign", "with") and b.index is None], node, function)
        kinds = {output_kind(model, b.value, b.function, depth + 1) for b in bindings}
        return kinds.pop() if len(kinds) == 1 else None
    if not isinstance(node, cst.Call):
        return None
    qualified = model.imports.qualify(node.func)
    if matches(qualified, *SOFTMAX):
        return PROBABILITIES
    if matches(qualified, *LOG_SOFTMAX):
        return LOG_PROBABILITIES
    if isinstance(node.func, cst.Attribute) and qualified is None and not module_attribute(model, node.func, function):
        method = node.func.attr.value
        if method == "softmax":
            return PROBABILITIES
        if method in ("log_softmax", "log"):
            return LOG_PROBABILITIES
    # nn.Softmax(dim=1)(x) / nn.LogSoftmax(dim=1)(x)
    if isinstance(node.func, cst.Call):
        return output_kind(model, node.func, function, depth + 1) if matches(
            qualify(model, node.func.func), "torch.nn.Softmax", "torch.nn.LogSoftmax") else None
    return _layer_output(model, node, function, depth)


def _layer_output(model, call: cst.Call, function, depth: int) -> Optional[str]:
    """A call of a layer or model whose last operation is known: Linear -> logits, and so on."""
    values = bound_values(model, call.func, function) if dotted_name(call.func) else []
    if len(values) != 1:
        return None
    built = constructor(model, values[0])
    if matches(built, "torch.nn.Linear"):
        return LOGITS
    if matches(built, "torch.nn.Sequential") and isinstance(values[0], cst.Call) and values[0].args:
        last = values[0].args[-1].value
        last_built = constructor(model, last)
        if matches(last_built, "torch.nn.Linear"):
            return LOGITS
        if matches(last_built, "torch.nn.Softmax"):
            return PROBABILITIES
        if matches(last_built, "torch.nn.LogSoftmax"):
            return LOG_PROBABILITIES
        return None
    cls = local_class(model, built)
    forward = methods(cls).get("forward") if cls is not None else None
    if forward is None:
        return None
    kinds = set()
    info = model.info(forward)
    for node in info.returns if info is not None else ():
        if node.value is not None:
            kinds.add(output_kind(model, node.value, forward, depth + 1))
    return kinds.pop() if len(kinds) == 1 else None


class NllLossWithoutLogSoftmax(Rule):
    needs_imports = ("torch", "loss")  # see TRN301
    code = "TRN303"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "nll-loss-without-log-softmax"
    severity = Severity.ERROR
    summary = "NLLLoss is fed raw logits or softmax probabilities instead of log-probabilities."
    what = """
        Flags `nn.NLLLoss` / `F.nll_loss` whose input is the output of a softmax
        (probabilities) or of a layer or model whose last operation is an `nn.Linear`
        (logits): directly, through the assignments that reach the call
        (`out = F.softmax(out, 1); F.nll_loss(out, y)`), an `nn.Sequential`, or the `forward`
        of a model class: of this file, of the model's own class through `self(x)` /
        `self.__call__(x)`, or of another module checked in the same run (`from models import
        Net`, whose forward ends in `self.fc(x)`: the usual `models.py` plus `train.py`). Inputs from `log_softmax`, `nn.LogSoftmax` or `torch.log` are correct; unknown
        inputs are not flagged. The NLLLoss may be installed on the model by another module
        (`model.add_loss_op(nn.NLLLoss())` whose setter stores it as `self.loss_op`), or be
        inside the user's own loss class or function; see TRN301 for what it cannot see.
        """
    why = """
        `NLLLoss` only picks `-input[target]`: it assumes its input is already
        log-probabilities. Fed probabilities, it minimizes `-p` (gradients vanish as
        p grows, the loss is negative); fed logits, it pushes the target logit up
        without bound. Training runs and the loss falls, towards a meaningless value.
        """
    instead = "Apply `log_softmax(dim=1)` before `NLLLoss`, or give raw logits to `nn.CrossEntropyLoss`."
    bad_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.NLLLoss()
        loss = criterion(F.softmax(model(x), dim=1), y)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.NLLLoss()
        loss = criterion(F.log_softmax(model(x), dim=1), y)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        is_package = os.path.basename(ctx.path) == "__init__.py"
        losses = loss_inputs_of(model, ctx.project, ctx.module_name, is_package)
        # NLLLoss installed from another module (`model.add_loss_op(nn.NLLLoss())`) is named there.
        if not mentions_any(ctx.source.text, _NLL_WORDS + tuple(sorted(losses.screen_words()[len(LOSS_WORDS):]))):
            return
        activations = None
        for site in model.calls:
            how = None
            if self._is_nll(model, site):
                reaching = losses.input_of(site)
                if reaching is not None and reaching[0] != "nll":
                    continue  # the name is rebound: the loss that reaches this call is another one
                first = argument(site.node, "input", 0)
            else:
                found = losses.input_of(site)
                if found is None or found[0] != "nll":
                    continue
                _, first, how = found
            kind = output_kind(model, first, site.function)
            evidence = None
            if kind is None:
                # What the reading of models says (`self(x)`, a model class of another module).
                if activations is None:
                    activations = activations_of(model, ctx.project, ctx.module_name, is_package)
                evidence = activations.activation_of(first, site.function, SOFTMAX_KIND)
                kind = PROBABILITIES if evidence else None
                if evidence is None:  # a model class of another module ending in an nn.Linear
                    evidence = activations.activation_of(first, site.function, LOGITS_KIND)
                    kind = LOGITS if evidence else None
            if kind in (PROBABILITIES, LOGITS):
                via = f" ({how})" if how else ""
                source = f" ({evidence})" if evidence else ""
                ctx.report(site.node, f"NLLLoss receives {kind}{source}{via}; it expects log-probabilities: "
                                      f"apply `log_softmax` first (or use CrossEntropyLoss on logits)")

    @staticmethod
    def _is_nll(model, site) -> bool:
        if matches(site.qualname, *NLL_FUNCTIONS):
            return True
        if site.callee is None or site.qualname is not None:
            return False
        return any(matches(constructor(model, v), *NLL_CLASSES)
                   for v in bound_values(model, site.node.func, site.function))


NLL_RULES = [NllLossWithoutLogSoftmax()]
