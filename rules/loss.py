"""TRN3xx: what reaches the loss."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.findings import Severity
from auditor.rule import Rule
from rules._helpers import argument

SOFTMAX_FUNCTIONS = ("torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax")
CROSS_ENTROPY_FUNCTIONS = ("torch.nn.functional.cross_entropy",)
CROSS_ENTROPY_CLASSES = ("torch.nn.CrossEntropyLoss",)


def _is_softmax_call(node: cst.BaseExpression, model) -> bool:
    if not isinstance(node, cst.Call):
        return False
    if matches(model.qualify_call(node), *SOFTMAX_FUNCTIONS):
        return True
    # x.softmax(dim=1): a tensor method, whatever x is.
    if isinstance(node.func, cst.Attribute) and node.func.attr.value == "softmax" \
            and model.qualify_call(node) is None:
        return True
    # nn.Softmax(dim=1)(x)
    inner = node.func
    return isinstance(inner, cst.Call) and matches(model.qualify_call(inner), "torch.nn.Softmax")


class SoftmaxBeforeCrossEntropy(Rule):
    code = "TRN301"
    name = "softmax-before-cross-entropy"
    severity = Severity.ERROR
    summary = "Probabilities from softmax are passed to CrossEntropyLoss, which expects logits."
    what = """
        Flags `nn.CrossEntropyLoss` / `F.cross_entropy` whose input is the output of a
        softmax (`F.softmax`, `torch.softmax`, `x.softmax(...)`, `nn.Softmax`), directly
        or through a variable. `log_softmax` is not flagged: it is idempotent under the
        loss's own log-softmax, so the result is unchanged.
        """
    why = """
        CrossEntropyLoss applies log-softmax itself. Fed probabilities, it computes
        log-softmax of a softmax: the loss is squashed into a narrow band, gradients
        shrink, and training stalls at a loss floor well above zero, silently.
        """
    instead = "Pass the raw logits; apply softmax only for metrics, calibration or sampling."
    bad_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.CrossEntropyLoss()
        probs = F.softmax(model(x), dim=1)
        loss = criterion(probs, y)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.CrossEntropyLoss()
        logits = model(x)
        loss = criterion(logits, y)
        confidence = F.softmax(logits, dim=1).max(dim=1).values
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        for site in model.calls:
            if not self._is_cross_entropy(site, model):
                continue
            first = argument(site.node, "input", 0)
            evidence = self._softmax_evidence(first, model, site.function)
            if evidence:
                ctx.report(site.node, f"CrossEntropyLoss receives {evidence}; it applies log-softmax "
                                      f"itself, so pass the logits instead")

    @staticmethod
    def _is_cross_entropy(site, model) -> bool:
        if matches(site.qualname, *CROSS_ENTROPY_FUNCTIONS):
            return True
        if site.callee is None or site.qualname is not None:
            return False
        return any(isinstance(v, cst.Call) and matches(model.qualify_call(v), *CROSS_ENTROPY_CLASSES)
                   for v in model.values_of(site.callee, site.function))

    @staticmethod
    def _softmax_evidence(node: Optional[cst.BaseExpression], model, function) -> Optional[str]:
        if node is None:
            return None
        if _is_softmax_call(node, model):
            return "the output of a softmax"
        if isinstance(node, cst.Name):
            values = model.values_of(node.value, function)
            if values and all(_is_softmax_call(v, model) for v in values):
                return f"`{node.value}`, the output of a softmax"
        return None


LOSS_RULES = [SoftmaxBeforeCrossEntropy()]
