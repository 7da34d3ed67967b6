"""Code that lives in pieces (notebook cells, Markdown code blocks) as one Python program.

- `sanitize_cell` turns IPython syntax (magics, shell escapes, `obj?`) into Python that
  parses, one output line per input line, so positions map back unchanged. A magic is
  recognised only where IPython recognises it: at the start of a logical line. A line
  that continues a statement (after a backslash, inside brackets or a triple-quoted
  string) is Python even when it starts with `%` (`'epoch %d' \\` + `% (epoch,))`).
- `isolate_broken_cells`: one piece that does not parse must not leave the others
  unchecked. When the joined program does not parse, each piece is parsed alone; the
  pieces that fail are blanked (their lines kept, empty) and their errors returned, to
  be reported as TRN000 at the piece's own position.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Optional

# Cell magics whose body is still Python; other cell magics (%%bash, %%writefile...) are skipped.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
_ASSIGNED_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")
_LINE_MAGIC = re.compile(r"^(\s*)[%!]")
_HELP = re.compile(r"^(\s*)(\?\??[\w.]+|[\w.]+\?\??)\s*$")
_OPENING, _CLOSING = "([{", ")]}"


class _LineState:
    """Where a line of Python leaves the tokenizer: inside brackets, a string, a continuation.

    A small scanner, not a tokenizer: enough to tell whether the next line starts a
    logical line. It errs towards "continues" only inside a real bracket or string.
    """

    def __init__(self) -> None:
        self.depth = 0  # open brackets
        self.quote: Optional[str] = None  # the delimiter of an open triple-quoted string
        self.backslash = False  # the line ended with a continuation backslash

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.backslash

    def feed(self, line: str) -> None:
        line = line.rstrip("\r")
        i, n = 0, len(line)
        self.backslash = False
        while i < n:
            if self.quote is not None:
                if line[i] == "\\":
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            ch = line[i]
            if ch == "#":
                return  # a comment: a backslash inside it continues nothing
            if ch in "'\"":
                triple = line[i:i + 3]
                if triple == ch * 3:
                    self.quote, i = triple, i + 3
                    continue
                end = _single_quoted_end(line, i + 1, ch)
                if end is None:  # runs to the end of the line: only a backslash continues it
                    self.backslash = line.endswith("\\")
                    if self.backslash:
                        self.quote = ch
                    return
                i = end
                continue
            if ch in _OPENING:
                self.depth += 1
            elif ch in _CLOSING:
                self.depth = max(0, self.depth - 1)
            elif ch == "\\" and i == n - 1:
                self.backslash = True
            i += 1
        if self.quote is not None and len(self.quote) == 1:
            # A single-quoted string continued by a backslash ends on this line or never.
            self.backslash = line.endswith("\\")
            if not self.backslash:
                self.quote = None


def _single_quoted_end(line: str, start: int, quote: str) -> Optional[int]:
    i = start
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return None


def sanitize_cell(source: str) -> list[str]:
    """Turn IPython syntax into Python that parses, keeping one output line per input line."""
    lines = source.split("\n")
    if source.endswith("\n"):
        lines.pop()
    first = next((l for l in lines if l.strip()), "")
    if first.lstrip().startswith("%%"):
        magic = first.strip()[2:].split()[0] if first.strip()[2:] else ""
        if magic not in PYTHON_CELL_MAGICS:
            return ["" for _ in lines]
        lines = ["" if l is first else l for l in lines]
    out = []
    state = _LineState()
    in_magic = False  # IPython joins a magic's lines ending in a backslash, as a shell would
    for line in lines:
        if in_magic:
            out.append("")
        elif not state.at_statement_start:
            out.append(line)
            state.feed(line)
            continue
        else:
            assigned = _ASSIGNED_MAGIC.match(line)
            magic = _LINE_MAGIC.match(line) or _HELP.match(line)
            if assigned:
                out.append(f"{assigned.group(1)}{assigned.group(2)} = None")
            elif magic:
                out.append(f"{magic.group(1)}pass")
            else:
                out.append(line)
                state.feed(line)
                continue
        in_magic = line.rstrip("\r").endswith("\\")
    return out


@dataclass
class Piece:
    """One cell or code block: its lines in the program, 1-based and inclusive."""

    first: int
    last: int


@dataclass
class PieceError:
    """A piece that does not parse alone: where (program line, column) and why."""

    line: int
    column: int
    message: str


def _syntax_error(text: str) -> Optional[SyntaxError]:
    import ast  # only when reading a notebook or Markdown: a plain check never needs it here

    try:
        with warnings.catch_warnings():  # invalid escapes and the like: not ours to print
            warnings.simplefilter("ignore")
            # Only the grammar (no code generation), and notebooks may await at top level.
            compile(text, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                    dont_inherit=True)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError):  # null bytes, deep nesting: the engine says
        return None
    return None


def isolate_broken_cells(program: list[str], pieces: list[Piece]) -> list[PieceError]:
    """Blank (in place) every piece of `program` that does not parse alone; return their errors.

    Costs one parse of the whole program when it parses (the common case), and one
    parse per piece when it does not.
    """
    if len(pieces) < 2 or _syntax_error("\n".join(program) + "\n") is None:
        return []
    errors = []
    for piece in pieces:
        text = "\n".join(program[piece.first - 1:piece.last]) + "\n"
        exc = _syntax_error(text)
        if exc is None:
            continue
        line = min(max(exc.lineno or 1, 1), piece.last - piece.first + 1)
        errors.append(PieceError(piece.first + line - 1, exc.offset or 1, exc.msg))
        for index in range(piece.first - 1, piece.last):
            program[index] = ""
    return errors


# --- Markdown ----------------------------------------------------------------------------

# An opening fence: up to 3 spaces, 3+ backticks or tildes, an info string.
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*(.*?)\s*$")
# ```python, ```py, ```python3, ```ipython; d2l's ```{.python .input} (attributes in braces)
_PYTHON_INFO = re.compile(r"^(?:(?:i?python3?|py)(?:\s.*)?|\{[^}]*\.(?:i?python3?|py)\b[^}]*\})$", re.IGNORECASE)


@dataclass
class MarkdownProgram:
    """The Python of a Markdown file: one program line per file line (blank outside the
    Python blocks), so findings need no mapping; a block's lines lose the fence's
    indentation, given back to columns by `column_offsets`."""

    lines: list[str]
    pieces: list[Piece]
    column_offsets: dict[int, int]


def markdown_program(text: str) -> MarkdownProgram:
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    program = ["" for _ in lines]
    pieces: list[Piece] = []
    offsets: dict[int, int] = {}
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index].rstrip("\r"))
        if opening is None or (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            index += 1
            continue
        indent, fence, info = len(opening.group(1)), opening.group(2), opening.group(3)
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end].rstrip("\r"))
            if closing and closing.group(2)[0] == fence[0] and len(closing.group(2)) >= len(fence) \
                    and not closing.group(3):
                break
            end += 1
        if _PYTHON_INFO.match(info) and end > index + 1:
            body = [_unindent(line.rstrip("\r"), indent) for line in lines[index + 1:end]]
            for number, line in enumerate(sanitize_cell("\n".join(body)), start=index + 2):
                program[number - 1] = line
                if indent:  # the spaces taken off this line
                    offsets[number] = len(lines[number - 1]) - len(_unindent(lines[number - 1], indent))
            pieces.append(Piece(index + 2, end))
        index = end + 1
    return MarkdownProgram(program, pieces, {k: v for k, v in offsets.items() if v})


def _unindent(line: str, indent: int) -> str:
    """A block line without (up to) the fence's indentation, as CommonMark reads it."""
    strip = 0
    while strip < indent and strip < len(line) and line[strip] == " ":
        strip += 1
    return line[strip:]
