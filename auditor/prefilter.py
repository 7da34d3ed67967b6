"""A cheap first look at each file, before libcst.

Two questions, each answered far below the cost of a libcst parse:

1. Can this file hold training code, or a helper that training code elsewhere calls?
   A file that names no ML framework and none of the verbs of training and evaluation
   (`backward`, `.eval(`, `no_grad`, `fit`, `DataLoader`...) cannot: every rule needs
   one of them. Such files skip the libcst parse, the model and the rules.
2. Does CPython's own compiler accept it? `compile()` costs about a tenth of a libcst
   parse and refuses, quickly, the inputs on which libcst's parser takes seconds to
   minutes (thousands of chained operators, deep bracket nesting): those are reported
   without ever reaching libcst.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Iterable, Optional

# Top-level packages of training code: a file importing any of them may hold a bug.
FRAMEWORKS = (
    "torch", "sklearn", "scikit", "lightning", "accelerate", "transformers", "timm", "ignite",
    "deepspeed", "fairseq", "detectron2", "mmengine", "mmcv", "fastai", "skorch", "catalyst",
    "composer", "trl", "peft", "xgboost", "lightgbm", "catboost", "keras", "datasets", "evaluate",
)
# Words of training and evaluation: a helper such as `def evaluate(model, loader)` may
# import nothing and still be what another file's training loop calls.
VERBS = (
    "backward", "eval(", "train(", "no_grad", "inference_mode", "grad_enabled", "zero_grad",
    "step(", "fit", "transform(", "DataLoader", "Dataset", "loader", "shuffle", "softmax",
    "sigmoid", "Loss", "loss", "criterion", "optim", "split", "scaler", "accumulat",
)
# CPython's limits on nesting: past them libcst's parser can run for minutes.
_NESTING_MESSAGES = ("too many nested", "too many levels", "too many statically nested")


def relevance_pattern(extra: Iterable[str] = ()) -> "re.Pattern[str]":
    """One regex over the file text; `extra` adds the selected rules' own `needs_imports`."""
    words = sorted(set(FRAMEWORKS) | set(VERBS) | {w for w in extra if w}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


def may_hold_training_code(text: str, pattern: "re.Pattern[str]") -> bool:
    return pattern.search(text) is not None


@dataclass
class CompileVerdict:
    ok: bool
    # Set when CPython refused the file for a reason libcst must not be asked about.
    too_deep: bool = False  # recursion or memory: not checkable at all
    syntax_error: Optional[SyntaxError] = None  # a nesting limit, reported as TRN000


def compile_check(text: str, filename: str) -> CompileVerdict:
    """Ask CPython's compiler (warnings silenced: `"\\d"` is not our business)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, filename, "exec", dont_inherit=True)
    except (RecursionError, MemoryError):
        return CompileVerdict(ok=False, too_deep=True)
    except SyntaxError as exc:
        if any(m in (exc.msg or "") for m in _NESTING_MESSAGES):
            return CompileVerdict(ok=False, syntax_error=exc)
        return CompileVerdict(ok=False)
    except (ValueError, OverflowError):  # e.g. a NUL byte past the binary-file sniff
        return CompileVerdict(ok=False)
    return CompileVerdict(ok=True)
