"""Identity of every code the runtime half can report, as fixed by RULES.md.

`reference_loop` never imports the `rules` package (imports flow the other way), so
the few identities it needs live here; a test checks them against the rule catalog.
"""

from __future__ import annotations

from auditor.findings import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

IDENTITY: dict[str, tuple[str, Severity]] = {
    "TRN101": ("missing-eval-mode", E),
    "TRN102": ("missing-no-grad", W),
    "TRN103": ("missing-train-mode", E),
    "TRN203": ("shuffled-eval-loader", I),
    "TRN204": ("test-data-in-training-loop", E),
    "TRN207": ("split-overlap", E),
    "TRN301": ("softmax-before-cross-entropy", E),
    "TRN302": ("sigmoid-before-bce-with-logits", E),
    "TRN303": ("nll-loss-without-log-softmax", E),
    "TRN401": ("unscaled-grad-accumulation", E),
    "TRN402": ("zero-grad-inside-accumulation", E),
    "TRN407": ("nonfinite-loss", E),
    "TRN408": ("parameter-without-gradient", W),
    "TRN901": ("initial-loss-off", W),
    "TRN902": ("cannot-overfit-batch", E),
    "TRN903": ("batch-dependence", E),
    "TRN904": ("parameters-not-updated", E),
    "TRN905": ("accumulation-mismatch", E),
}
