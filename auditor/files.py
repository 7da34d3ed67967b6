"""Find the files to check and read them as program text (notebooks included)."""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from auditor.cells import (  # noqa: F401 (sanitize_cell: the fixer imports it from here)
    Piece, PieceError, isolate_broken_cells, markdown_program, sanitize_cell,
)
from auditor.fingerprint import listed_name

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", ".eggs", "*.egg-info",
    "build", "dist", "node_modules", "__pycache__", "site-packages", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".auditor_cache", ".ipynb_checkpoints",
)
SUFFIXES = (".py", ".pyi", ".ipynb")
# Markdown's fenced Python blocks: checked when a .md file is named, and in directory walks
# only when asked (include-markdown), since most Markdown is prose.
MARKDOWN_SUFFIXES = (".md", ".markdown")
CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class SourceError(Exception):
    """A file that cannot be read as Python: the message is the one line shown to the user."""


@dataclass
class SourceFile:
    path: str  # as shown to the user
    text: str
    is_notebook: bool = False
    # For notebooks: program line (1-based) -> (cell number, line within cell).
    cell_lines: list[tuple[int, int]] = field(default_factory=list)
    newline: str = "\n"
    encoding: str = "utf-8"
    # Notebook JSON, kept so a fixer can write cells back with outputs and metadata intact.
    notebook: Optional[dict] = None
    # Cells (or Markdown blocks) that do not parse alone: blanked in `text`, each reported
    # as TRN000 at its own position while the others are checked (auditor/cells.py).
    piece_errors: list[PieceError] = field(default_factory=list)
    # Markdown: `text` has the file's lines (blank outside Python blocks); a block indented
    # under a list item lost that indentation: line -> columns to add back.
    is_markdown: bool = False
    column_offsets: dict[int, int] = field(default_factory=dict)

    def location(self, line: int) -> tuple[Optional[int], int]:
        """Map a program line to (cell, line-in-cell); plain files have no cell."""
        if not self.is_notebook:
            return None, line
        if 1 <= line <= len(self.cell_lines):
            return self.cell_lines[line - 1]
        return (self.cell_lines[-1] if self.cell_lines else (None, line))


@functools.lru_cache(maxsize=64)
def _exclude_matchers(patterns: tuple[str, ...]) -> tuple[Optional["re.Pattern[str]"], Optional["re.Pattern[str]"]]:
    """One regex for the patterns matched against single path parts, one for whole paths."""
    part_patterns = [p.rstrip("/") for p in patterns if "/" not in p.rstrip("/")]
    path_patterns = [p.rstrip("/") for p in patterns if "/" in p.rstrip("/")]
    path_patterns += [p + "/*" for p in path_patterns]

    def combined(globs: list[str]):
        return re.compile("|".join(f"(?:{fnmatch.translate(os.path.normcase(g))})" for g in globs)) if globs else None

    return combined(part_patterns), combined(path_patterns)


def _excluded(rel_path: str, patterns: Iterable[str]) -> bool:
    by_part, by_path = _exclude_matchers(tuple(patterns))
    normalized = os.path.normcase(rel_path.replace(os.sep, "/"))
    if by_path is not None and by_path.match(normalized):
        return True
    return by_part is not None and any(by_part.match(part) for part in normalized.split("/"))


MISSING = "no such file or directory"


def path_problem(path: str) -> Optional[str]:
    """Why a path named on the command line cannot be checked; None when it can.

    Only directories and regular files are read: a FIFO would block the read forever
    and a device never ends, so they are skipped with a message. A path that cannot
    even be examined gets the message a walk gives a file it cannot read.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    except ValueError:  # a NUL in the name
        return MISSING
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    return f"not a regular file ({kind}): skipped"


def discover(
    paths: Iterable[str],
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    user_excludes: Iterable[str] = (),
    walked: Optional[list[WalkedDirectory]] = None,
    suffixes: tuple[str, ...] = SUFFIXES,
) -> Iterator[str]:
    """Yield the files to check, in a stable order; a given path that `path_problem`
    refuses (missing, a FIFO...) yields nothing.

    Directories are walked recursively with every exclude applied; a file named
    explicitly is checked unless it matches a user exclude (so pre-commit, which
    names files, still honours the project's `exclude`). `walked`, when given, receives
    what each directory held (see WalkedDirectory).
    """
    all_excludes = tuple(excludes) + tuple(user_excludes)
    seen: set[str] = set()
    for given in paths:
        if path_problem(given) is not None:
            continue  # the check reports it (checker.path_errors); never opened here
        if os.path.isdir(given):
            for found in _walk(given, all_excludes, walked, suffixes):
                norm = os.path.normpath(found)
                if norm not in seen:
                    seen.add(norm)
                    yield norm
        else:
            norm = os.path.normpath(given)
            if norm not in seen and not _excluded(norm, tuple(user_excludes)):
                seen.add(norm)
                yield norm


# One directory as discovery saw it: (path, names excluded there, names that count), the
# latter with "/" after a directory; (path, None, None) when it could not be listed.
# Whatever else a directory holds (a README, an editor's swap file) cannot change which
# files are checked, so auditor/speed/fast_replay.py proves a tree unchanged by listing each
# directory again and comparing only this. The excluded names include those excluded
# wherever they appear, so that a __pycache__ or build/ created later changes nothing.
WalkedDirectory = tuple[str, Optional[frozenset[str]], Optional[frozenset[str]]]


def _excluded_by_name(patterns: Iterable[str]) -> frozenset[str]:
    """Names that `_excluded` rejects wherever they occur: the patterns with no glob and no "/"."""
    names = (p.rstrip("/") for p in patterns)
    return frozenset(n for n in names if n and "/" not in n and not any(c in n for c in "*?["))


def _walk(root: str, excludes: tuple[str, ...], walked: Optional[list[WalkedDirectory]] = None,
          suffixes: tuple[str, ...] = SUFFIXES) -> Iterator[str]:
    by_name = _excluded_by_name(excludes) if walked is not None else frozenset()
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            if walked is not None:
                walked.append((current, None, None))
            continue
        subdirs = []
        skipped: set[str] = set(by_name)
        counted: set[str] = set()
        for entry in entries:
            rel = os.path.relpath(entry.path, root)
            if _excluded(rel, excludes):
                skipped.add(entry.name)
                continue
            listed = listed_name(entry, suffixes)
            if listed is None:
                continue
            counted.add(listed)
            if listed.endswith("/"):
                subdirs.append(entry.path)
            else:
                yield entry.path
        if walked is not None:
            walked.append((current, frozenset(skipped), frozenset(counted)))
        stack.extend(reversed(subdirs))


def decode_python(data: bytes) -> tuple[str, str]:
    """Decode source bytes the way Python does (BOM, PEP 263 cookie, else UTF-8)."""
    if b"\x00" in data[:8192]:
        raise SourceError("binary file, not Python source")
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    else:
        for line in data.split(b"\n", 2)[:2]:
            match = CODING_COOKIE.match(line)
            if match:
                encoding = match.group(1).decode("ascii", "replace")
                break
    try:
        return data.decode(encoding), encoding
    except LookupError:
        raise SourceError(f"unknown source encoding {encoding!r} in the coding declaration") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise SourceError(
            f"not valid {encoding.upper() if encoding == 'utf-8' else encoding} "
            f"(byte 0x{byte} at line {line}, column {column})"
        ) from None


def _newline_style(text: str) -> str:
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    return "\n"


def read_source(path: str) -> SourceFile:
    """Read a .py or .ipynb file; raise SourceError with a one-line reason on failure."""
    return source_from_bytes(path, read_bytes(path))


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None


def source_from_bytes(path: str, data: bytes) -> SourceFile:
    """Decode bytes already read (the engine hashes them for the cache first)."""
    if path.endswith(".ipynb"):
        return read_notebook(path, data)
    if path.lower().endswith(MARKDOWN_SUFFIXES):
        return read_markdown(path, data)
    text, encoding = decode_python(data)
    return SourceFile(path=path, text=text, newline=_newline_style(text), encoding=encoding)


# --- notebooks -------------------------------------------------------------------------

def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        if not all(isinstance(part, str) for part in source):
            raise SourceError("not a valid notebook: a cell's source is not text")
        return "".join(source)
    if isinstance(source, str):
        return source
    raise SourceError("not a valid notebook: a cell's source is not text")


def read_markdown(path: str, data: bytes) -> SourceFile:
    """A Markdown file's fenced Python blocks as a program on the file's own lines."""
    if b"\x00" in data[:8192]:
        raise SourceError("binary file, not Markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not valid UTF-8 (byte at offset {exc.start})") from None
    found = markdown_program(text)
    errors = isolate_broken_cells(found.lines, found.pieces)
    program = "\n".join(found.lines) + ("\n" if found.lines else "")
    return SourceFile(path=path, text=program, newline=_newline_style(text), is_markdown=True,
                      column_offsets=found.column_offsets, piece_errors=errors)


def read_notebook(path: str, data: bytes) -> SourceFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not a valid notebook: not UTF-8 (byte at offset {exc.start})") from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"not a valid notebook: invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SourceError("not a valid notebook: no list of cells")
    program: list[str] = []
    cell_lines: list[tuple[int, int]] = []
    pieces: list[Piece] = []
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict):
            raise SourceError(f"not a valid notebook: cell {number} is not an object")
        if cell.get("cell_type") != "code":
            continue
        first = len(program) + 1
        for line_no, line in enumerate(sanitize_cell(_cell_source(cell)), start=1):
            program.append(line)
            cell_lines.append((number, line_no))
        if len(program) >= first:
            pieces.append(Piece(first, len(program)))
    errors = isolate_broken_cells(program, pieces)
    text = "\n".join(program) + ("\n" if program else "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON may escape a lone surrogate ("\udcff"): not text
        raise SourceError(f"not a valid notebook: a cell holds an unpaired surrogate "
                          f"({text[exc.start]!r}) that is not Unicode text") from None
    return SourceFile(
        path=path,
        text=text,
        is_notebook=True,
        cell_lines=cell_lines,
        notebook=notebook,
        piece_errors=errors,
    )


# --- indentation that libcst's tokenizer refuses ------------------------------------

def tabs_as_spaces(text: str) -> Optional[str]:
    """`text` with each tab in the indentation of a logical line turned into one space, or
    None when there is no such tab (or the text does not tokenize).

    CPython accepts a mix of tabs and spaces only when it means the same nesting with a
    tab as 8 columns and as 1 (its "inconsistent use of tabs" check); libcst's tokenizer
    refuses some of those mixes. One space per tab keeps the 1-column reading, hence the
    same nesting, and every line and column where it was: findings and fixes computed on
    this text apply to the original. Strings, continuation lines and comments' insides
    are left as they are.
    """
    if "\t" not in text:
        return None
    import io
    import tokenize

    lines = text.splitlines(keepends=True)
    starts: set[int] = set()  # lines (0-based) where a logical line or a comment begins
    boundary = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    previous = tokenize.NEWLINE
    depth = 0  # inside brackets a newline is an NL token too, but no logical line starts
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if previous in boundary and token.type not in boundary and depth == 0:
                starts.add(token.start[0] - 1)
            if token.type == tokenize.OP:
                depth += token.string in "([{"
                depth -= depth > 0 and token.string in ")]}"
            previous = token.type
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    changed = False
    for index in sorted(starts):
        if index >= len(lines):
            continue
        line = lines[index]
        indent = len(line) - len(line.lstrip(" \t\f"))
        if "\t" in line[:indent]:
            lines[index] = line[:indent].replace("\t", " ") + line[indent:]
            changed = True
    return "".join(lines) if changed else None
