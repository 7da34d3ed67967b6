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
from auditor.speed import render_nodes

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
    """A Fix for `changes` applied to `ctx.module`, or None if it changes nothing.

    Only the statements holding the changes are rendered again (in their indentation
    context), so a fix costs the size of its statement, not of the file. When the
    rendering does not reproduce the file's text exactly, the whole module is
    transformed instead. `--fix` checks that the result compiles before writing.
    None, at no cost, when the run shows no fix (`ctx.wants_fixes`).
    """
    if not getattr(ctx, "wants_fixes", True):
        return None
    try:
        edits = _statement_edits(ctx, changes)
        if edits is None:
            edits = _module_edits(ctx, changes)
    except (cst.CSTValidationError, TypeError, ValueError):
        return None
    if not edits:
        return None
    return Fix(description=description, applicability=applicability, edits=edits,
               transform=lambda module, _changes=dict(changes): module.visit(_Replace(_changes)))


def _module_edits(ctx: Any, changes: Mapping[cst.CSTNode, Change]) -> list[Edit]:
    old = ctx.module.code
    new = transformed_code(ctx.module, changes)
    if new == old or not _compiles(new):
        return []
    return [minimal_edit(old, new)]


def _expression_edit(ctx: Any, changes: Mapping[cst.CSTNode, Change]) -> Optional[list[Edit]]:
    """The edit of a fix that changes one expression, rendering that expression alone.

    Rendering and transforming the whole statement gives the same edit whenever the
    edit lies strictly inside the expression: the text around it is the same before
    and after, so it can neither lengthen the common prefix or suffix nor move where an
    insertion slides. Otherwise (an edit at the expression's edge, an expression whose
    text is not found where libcst places it) None: the statement path decides.
    """
    if len(changes) != 1:
        return None
    node = next(iter(changes))
    if not isinstance(node, cst.BaseExpression) or ctx.model.parent(node) is None:
        return None
    indents = _indents(ctx, node)
    old = render_nodes(ctx.module, [node], indents)
    start_position = ctx.position(node).start
    line_start = _line_offset(ctx, start_position.line)
    if line_start is None:
        return None
    start = line_start + start_position.column
    if ctx.source.text[start:start + len(old)] != old:
        return None
    result = node.visit(_Replace(changes))
    if not isinstance(result, cst.CSTNode):
        return None
    new = render_nodes(ctx.module, [result], indents)
    if new == old:
        return []
    local = minimal_edit(old, new)
    if _offset_in(old, local.line, local.column) == 0 \
            or _offset_in(old, local.end_line, local.end_column) >= len(old):
        return None  # at the expression's edge: the text around it could move the edit
    return [_placed(ctx.source.text, start, old, local)]


def _placed(text: str, start: int, old: str, local: Edit) -> Edit:
    """`local`, an edit of `old`, as an edit of `text`, where `old` begins at offset `start`."""
    line, column = position(text, start + _offset_in(old, local.line, local.column))
    end_line, end_column = position(text, start + _offset_in(old, local.end_line, local.end_column))
    return Edit(line, column, end_line, end_column, local.content)


def _statement_edits(ctx: Any, changes: Mapping[cst.CSTNode, Change]) -> Optional[list[Edit]]:
    """One edit per statement holding changes; None when a statement cannot be located exactly."""
    edits = _expression_edit(ctx, changes)
    if edits is not None:
        return edits
    model, text = ctx.model, ctx.source.text
    containers: list[cst.CSTNode] = []
    for node in changes:
        container = _container(model, node)
        if container is None:
            return None
        containers.append(container)
    outermost = [c for c in containers
                 if not any(o is not c and _is_within(model, c, o) for o in containers)]
    edits = []
    for container in {id(c): c for c in outermost}.values():
        indents = _indents(ctx, container)
        old = render_nodes(ctx.module, [container], indents)
        first_line = ctx.position(container).start.line - len(getattr(container, "leading_lines", ()))
        start = _line_offset(ctx, first_line)
        if start is None or text[start:start + len(old)] != old:
            return None
        result = container.visit(_Replace(changes))
        nodes = list(result.nodes) if isinstance(result, cst.FlattenSentinel) else \
            [] if isinstance(result, cst.RemovalSentinel) else [result]
        new = render_nodes(ctx.module, nodes, indents)
        if new != old:
            edits.append(_placed(text, start, old, minimal_edit(old, new)))
    return sorted(edits, key=lambda e: (e.line, e.column))


def _container(model, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The statement on lines of its own that holds `node` (or is it)."""
    current: Optional[cst.CSTNode] = node
    while current is not None:
        if isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) \
                and isinstance(model.parent(current), (cst.IndentedBlock, cst.Module)):
            return current
        current = model.parent(current)
    return None


def _is_within(model, node: cst.CSTNode, container: cst.CSTNode) -> bool:
    return any(a is container for a in model.ancestors(node))


def _indents(ctx: Any, node: cst.CSTNode) -> list[str]:
    tokens = [ctx.module.default_indent if a.indent is None else a.indent
              for a in ctx.model.ancestors(node) if isinstance(a, cst.IndentedBlock)]
    return tokens[::-1]


def _line_offset(ctx: Any, line: int) -> Optional[int]:
    starts = getattr(ctx, "_fix_line_starts", None)
    if starts is None:
        text, starts, index = ctx.source.text, [0], 0
        while True:
            index = text.find("\n", index) + 1
            if index == 0:
                break
            starts.append(index)
        ctx._fix_line_starts = starts  # computed once per file
    return starts[line - 1] if 1 <= line <= len(starts) else None


def _offset_in(text: str, line: int, column: int) -> int:
    index = 0
    for _ in range(line - 1):
        index = text.index("\n", index) + 1
    return index + column - 1


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
    start = _common_prefix(old, new, limit)
    tail = _common_prefix(old[::-1], new[::-1], limit - start)
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


def _common_prefix(a: str, b: str, limit: int) -> int:
    """Length of the common prefix of a and b, at most `limit` (bisection on C-speed slices)."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


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
