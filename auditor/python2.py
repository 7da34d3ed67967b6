"""Python 2 files: the same code with `print x` written as `print(x)` and `except E, e:` as
`except E as e:`, so that the parser reads them.

Older research repositories are often Python 2 throughout; without this a file with one
print statement gives only a syntax error (TRN000) and none of its training code is
checked. Only those two statement forms are rewritten, on their own lines (every line keeps
its number, so findings point at the file as written); anything else Python 2 only
(backticks, `exec` statements, `0777`) still fails the parse as before.
"""

from __future__ import annotations

import io
import tokenize
from typing import Optional

_STATEMENT_START = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL}
_SKIPPED = {tokenize.COMMENT, tokenize.NL}


def as_python3(text: str) -> Optional[str]:
    """`text` with its print statements and `except E, e:` clauses rewritten, or None when
    it has neither or cannot be tokenized."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []  # (start, end, replacement)
    previous = None
    for index, token in enumerate(tokens):
        if token.type in _SKIPPED:
            continue
        at_start = previous is None or previous.type in _STATEMENT_START or \
            (previous.type == tokenize.OP and previous.string == ";")
        if at_start and token.type == tokenize.NAME and token.string == "print":
            edits.extend(_print_edits(tokens, index))
        elif at_start and token.type == tokenize.NAME and token.string == "except":
            edits.extend(_except_edits(tokens, index))
        previous = token
    if not edits:
        return None
    lines = text.splitlines(keepends=True)
    for (srow, scol), (erow, ecol), replacement in sorted(edits, reverse=True):
        if srow != erow:
            return None
        line = lines[srow - 1]
        lines[srow - 1] = line[:scol] + replacement + line[ecol:]
    return "".join(lines)


def _statement_end(tokens: list, index: int) -> int:
    """Index of the last token of the statement that starts at `index` (brackets balanced)."""
    depth, last = 0, index
    for position in range(index + 1, len(tokens)):
        token = tokens[position]
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif depth == 0 and (token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or
                             (token.type == tokenize.OP and token.string == ";")):
            return last
        if token.type not in _SKIPPED:
            last = position
    return last


def _print_edits(tokens: list, index: int) -> list:
    """`print x, y` -> `print(x, y)`; `print` -> `print()`; `print >>f, x` -> `print(x)`."""
    keyword = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None:
        return []
    if following.type == tokenize.OP and following.string in ("(", "=", ".", "[", ","):
        return []  # already a call, or `print` used as a name
    if following.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or \
            (following.type == tokenize.OP and following.string == ";") or following.type == tokenize.COMMENT:
        return [(keyword.end, keyword.end, "()")]
    # Over several lines, `(` goes where the arguments start and `)` after the last token.
    last = tokens[_statement_end(tokens, index)]
    edits = [(keyword.end, following.start, "(")]
    if following.type == tokenize.OP and following.string == ">>":
        # `print >>stream, x`: the stream is dropped (what is printed is what matters here)
        comma = _first_top_level_comma(tokens, index + 1)
        if comma is None:
            return []
        edits = [(keyword.end, tokens[comma + 1].start if comma + 1 < len(tokens) else tokens[comma].end, "(")]
        if tokens[comma].start[0] != keyword.start[0]:
            return []
    edits.append((last.end, last.end, ")"))
    return edits


def _first_top_level_comma(tokens: list, index: int) -> Optional[int]:
    depth = 0
    for position in range(index, len(tokens)):
        token = tokens[position]
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif depth == 0 and token.type == tokenize.OP and token.string == ",":
            return position
        elif depth == 0 and token.type == tokenize.NEWLINE:
            return None
    return None


def _except_edits(tokens: list, index: int) -> list:
    """`except E, e:` -> `except E as e:` (a comma at the top level before the colon)."""
    comma = _first_top_level_comma(tokens, index + 1)
    if comma is None:
        return []
    after = tokens[comma + 1] if comma + 1 < len(tokens) else None
    closing = tokens[comma + 2] if comma + 2 < len(tokens) else None
    if after is None or after.type != tokenize.NAME or closing is None or \
            not (closing.type == tokenize.OP and closing.string == ":"):
        return []
    return [(tokens[comma].start, tokens[comma].end, " as")]
