"""Small queries several rules share (kept here until the model offers them)."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.program import program_of


def keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> Optional[cst.Arg]:
    plain = [a for a in call.args if a.keyword is None and not a.star]
    return plain[index] if index < len(plain) else None


def argument(call: cst.Call, name: str, index: int) -> Optional[cst.BaseExpression]:
    arg = keyword(call, name) or positional(call, index)
    return arg.value if arg is not None else None


def is_true(node: Optional[cst.BaseExpression]) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def program(ctx):
    """The file's training-program model (built once per file, shared by all rules)."""
    return program_of(ctx.model, ctx.project, ctx.module_name)


def shorten(code: str, limit: int = 60) -> str:
    """Source text for a message, on one line and not too long."""
    text = " ".join(code.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def final_names(*qualified: str) -> tuple[str, ...]:
    """`torch.nn.NLLLoss` -> `NLLLoss`: the words a file must contain to use one of these names.

    `matches` compares final names, and the final component of a qualified name is an
    identifier written in the file: in the call (`nn.NLLLoss`) or in the import that binds
    it (`from torch.nn import NLLLoss as N`). A file whose text contains none of them
    cannot call any of them, so a rule that only reports such calls can skip it.
    """
    return tuple(sorted({name.rsplit(".", 1)[-1] for name in qualified}))
