"""libcst's code generation driven directly, where its public API would redo more work.

Two shortcuts, both on libcst's private code generation (`_codegen` and its states), kept
here so that nothing outside auditor/speed touches libcst's internals:
- positions of one statement's nodes, generated for that statement alone instead of
  resolving `PositionProvider` over the whole module (auditor/context.py asks only when a
  file reports a finding, and then usually for one statement);
- the code of a few nodes as they print inside given blocks, for fixes
  (auditor/fixes/edits.py), without building a module around them.
"""

from __future__ import annotations

from typing import Sequence

import libcst as cst


class _RangeSink:
    """Stands in for libcst's position provider: the codegen state writes ranges here."""

    __slots__ = ("_computed",)

    def __init__(self) -> None:
        self._computed: dict = {}


def statement_code_and_ranges(module: cst.Module, statement: cst.CSTNode, indents: list[str]) -> tuple[str, dict]:
    """`statement`'s code inside blocks indented by `indents`, and the range of each of
    its nodes counted from line 1 of that code."""
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    sink = _RangeSink()
    state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                          default_newline=module.default_newline,
                                          provider=sink)  # type: ignore[arg-type]
    state.indent_tokens.extend(indents)
    statement._codegen(state)
    return "".join(state.tokens), sink._computed


def shifted_range(span, lines: int):
    """`span` (a libcst CodeRange) moved down by `lines` lines."""
    if not lines:
        return span
    from libcst._position import CodePosition, CodeRange

    return CodeRange(CodePosition(span.start.line + lines, span.start.column),
                     CodePosition(span.end.line + lines, span.end.column))


def render_nodes(module: cst.Module, nodes: Sequence[cst.CSTNode], indents: list[str]) -> str:
    """Code of `nodes` as they print inside blocks indented by `indents`."""
    from libcst._nodes.internal import CodegenState

    state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline,
                         indent_tokens=list(indents))
    for node in nodes:
        node._codegen(state)
    return "".join(state.tokens)
