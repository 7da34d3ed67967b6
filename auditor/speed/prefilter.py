"""A cheap first look at each file, before libcst.

Two questions, each answered far below the cost of a libcst parse:

1. Can this file hold training code, or a helper that training code elsewhere calls?
   A file that names no ML framework and none of the verbs of training and evaluation
   (`backward`, `.eval(`, `no_grad`, `fit`, `DataLoader`...) cannot: every rule needs
   one of them. Such files skip the libcst parse, the model and the rules.
2. Does CPython accept it? Its parser and symbol table (`compile_check`) cost about a
   tenth of a libcst parse and refuse, quickly, the inputs on which libcst's parser
   takes seconds to minutes or overflows its stack (thousands of chained operators,
   deep bracket nesting): those are reported without ever reaching libcst.
"""

from __future__ import annotations

import re
import symtable
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
    # A data-loading helper that standardises by hand (`(X - X.mean(0)) / X.std(0)`) and
    # imports nothing of ML: another file splits what it returns (TRN202).
    "std(",
    # A cleaning helper that fills gaps with a column's mean or median (`df.fillna(df.mean())`):
    # imputation by hand, another file splits what it returns (TRN202).
    "fillna(",
    # A model class whose `nn` comes from a star import (`from .parts import *`): other
    # files build it, and need to know it is a model.
    "nn.Module",
)
# CPython's limits on nesting: past them libcst's parser can run for minutes.
_NESTING_MESSAGES = ("too many nested", "too many levels", "too many statically nested")


def relevance_pattern(extra: Iterable[str] = ()) -> "re.Pattern[str]":
    """One regex over the file text; `extra` adds the selected rules' own `needs_imports`."""
    words = sorted(set(FRAMEWORKS) | set(VERBS) | {w for w in extra if w}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


# A model factory (`def build_model(name): if name == 'unet': return UNet(classes=n) ...`)
# may import only the project's model classes and name nothing above; the files that train
# what it returns need its summary. Asked only of the files the words above leave out.
_BUILDS_A_CLASS = re.compile(r"^[ \t]+return[ \t]+(?:\w+\.)*[A-Z]\w*\(", re.M)


def may_hold_training_code(text: str, pattern: "re.Pattern[str]") -> bool:
    return pattern.search(text) is not None or _BUILDS_A_CLASS.search(text) is not None


def mentions_any(text: str, words: Iterable[str]) -> bool:
    """Whether any of `words` occurs in `text`: the screen of a rule's `needs_imports`, and of
    rules that skip a file never naming what they report."""
    return any(word in text for word in words)


@dataclass
class CompileVerdict:
    ok: bool
    # Set when CPython refused the file for a reason libcst must not be asked about.
    too_deep: bool = False  # recursion or memory: not checkable at all
    syntax_error: Optional[SyntaxError] = None  # a nesting limit, reported as TRN000


def compile_check(text: str, filename: str) -> CompileVerdict:
    """Ask CPython's parser and symbol table (warnings silenced: `"\\d"` is not our business).

    The symbol table is built from the parsed tree, like the compiler's first steps,
    with the same nesting and recursion limits, and skips generating bytecode (about a
    third of `compile()`). Of the checks made only by code generation, one matters
    here: at most 20 statically nested blocks. A file deep enough for it goes through
    the whole compiler.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _may_nest_too_many_blocks(text):
                compile(text, filename, "exec", dont_inherit=True)
            else:
                symtable.symtable(text, filename, "exec")
    except (RecursionError, MemoryError):
        return CompileVerdict(ok=False, too_deep=True)
    except SyntaxError as exc:
        if any(m in (exc.msg or "") for m in _NESTING_MESSAGES):
            return CompileVerdict(ok=False, syntax_error=exc)
        return CompileVerdict(ok=False)
    except (ValueError, OverflowError):  # e.g. a NUL byte past the binary-file sniff
        return CompileVerdict(ok=False)
    return CompileVerdict(ok=True)


# Leading whitespace of a line (form feeds count: CPython accepts them there), matched
# after a newline (the text is scanned with one in front) rather than at `^` under
# MULTILINE: the regex engine then jumps from newline to newline instead of trying
# every position (twice as fast).
_INDENTATION = re.compile(r"\n([ \t\f]+)")
_MAX_STATIC_BLOCKS = 20  # CPython's CO_MAXBLOCKS


def _may_nest_too_many_blocks(text: str) -> bool:
    """False when the file cannot nest more than 20 blocks.

    Each nested block is indented deeper than the one holding it, so the nesting is at
    most the number of distinct indentations the file's lines use (continuation lines
    can only add to that count).
    """
    return len(set(_INDENTATION.findall("\n" + text))) > _MAX_STATIC_BLOCKS
