"""Turn a libcst transform of the flagged code into a `Fix` with one text edit.

The transform replaces original nodes of the file's tree (identity matters: pass
the nodes the model handed you). The new module's code is compared with the old
one and the differing span becomes the `Edit`: everything outside it, comments
and formatting included, is untouched by construction.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import libcst as cst

from auditor.findings import Edit, Fix

SAFE, UNSAFE = "safe", "unsafe"

Replacement = Union[cst.CSTNode, cst.FlattenSentinel, cst.RemovalSentinel]
# A replacement, or a function of the node with its children already transformed.
Change = Union[Replacement, Callable[[cst.CSTNode], Replacement]]


class _Replace(cst.CSTTransformer):
    def __init__(self, changes: Mapping[cst.CSTNode, Change]) -> None:
        super().__init__()
        self.changes = changes

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        change = self.changes.get(original_node)
        if change is None:
            return updated_node
        return change(updated_node) if callable(change) else change


def transformed_code(module: cst.Module, changes: Mapping[cst.CSTNode, Change]) -> str:
    return module.visit(_Replace(changes)).code


def make_fix(ctx: Any, description: str, changes: Mapping[cst.CSTNode, Change],
             applicability: str = SAFE) -> Optional[Fix]:
    """A Fix for `changes` applied to `ctx.module`, or None if it changes nothing or breaks the file."""
    old = ctx.module.code
    try:
        new = transformed_code(ctx.module, changes)
    except (cst.CSTValidationError, TypeError, ValueError):
        return None
    if new == old or not _compiles(new):
        return None
    edit = minimal_edit(old, new)
    return Fix(description=description, applicability=applicability, edits=[edit],
               transform=lambda module, _changes=dict(changes): module.visit(_Replace(_changes)))


def _compiles(code: str) -> bool:
    try:
        compile(code, "<fix>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset; columns count characters."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def minimal_edit(old: str, new: str) -> Edit:
    """The one span of `old` to replace so that it reads `new`.

    Pure insertions and deletions are slid left to a line start when they can
    be, so an inserted statement reads as whole lines in the JSON output.
    """
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    tail = 0
    while tail < limit - start and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    old_end, content = len(old) - tail, new[start:len(new) - tail]
    if start == old_end and content:  # insertion
        while start > 0 and old[start - 1] != "\n" and old[start - 1] == content[-1]:
            content = old[start - 1] + content[:-1]
            start -= 1
            old_end -= 1
    elif not content and start < old_end:  # deletion
        while start > 0 and old[start - 1] != "\n" and old[start - 1] == old[old_end - 1]:
            start -= 1
            old_end -= 1
    line, column = position(old, start)
    end_line, end_column = position(old, old_end)
    return Edit(line=line, column=column, end_line=end_line, end_column=end_column, content=content)


# --- small transforms rules share ---------------------------------------------------

def parse_statement(ctx: Any, code: str) -> cst.BaseStatement:
    return cst.parse_statement(code, config=ctx.module.config_for_parsing)


def owns_its_lines(ctx: Any, statement: cst.CSTNode) -> bool:
    """True for a statement on lines of its own (not `if x: y`), where lines can be added."""
    return isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) \
        and isinstance(ctx.model.parent(statement), (cst.IndentedBlock, cst.Module))


def insert_before(statement: cst.BaseStatement, new: Sequence[cst.BaseStatement],
                  move_comments: bool = True) -> cst.FlattenSentinel:
    """`new` statements, then `statement`; comments above `statement` move above them unless told not to."""
    leading = getattr(statement, "leading_lines", ())
    first = new[0]
    if move_comments and hasattr(first, "leading_lines") and leading:
        first = first.with_changes(leading_lines=leading)
        statement = statement.with_changes(leading_lines=())
    return cst.FlattenSentinel([first, *new[1:], statement])


def insert_after(statement: cst.BaseStatement, new: Sequence[cst.BaseStatement]) -> cst.FlattenSentinel:
    return cst.FlattenSentinel([statement, *new])


def add_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    """`call` with `name=value` appended, following the call's own comma layout."""
    args = list(call.args)
    new_arg = cst.Arg(
        value=cst.parse_expression(value), keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                              whitespace_after=cst.SimpleWhitespace("")),
    )
    if args:
        last = args[-1]
        if isinstance(last.comma, cst.Comma):
            # A trailing comma (often a one-argument-per-line call): the new argument
            # takes the same place and layout, and keeps a trailing comma itself.
            new_arg = new_arg.with_changes(comma=last.comma)
            if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
                args[-1] = last.with_changes(comma=args[-2].comma)
        else:
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(new_arg)
    return call.with_changes(args=args)
