"""`auditor check --fix` / `--diff`: apply the fixes findings carry, file by file.

Each file is fixed in memory in rounds: run the selected rules on the current
text, apply every applicable fix whose edits do not overlap another's, check that
the result still compiles, and go again (a fix can make the next one possible,
and two overlapping fixes are applied one per round). The result is written
atomically (temp file + rename, encoding, BOM, newline style and file mode kept)
or rendered as a unified diff that `patch -p0` applies from the working
directory. Notebooks are fixed cell by cell; outputs and metadata are kept.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import libcst as cst

from auditor.atomic import write_atomically
from auditor.analysis.project import ProjectIndex, module_name_for, summarize_file
from auditor.context import FileContext
from auditor.debugging import debugging
from auditor.engine import EngineOptions, FileResult, _parse_retabbed, _Prepared, run_rules
from auditor.files import MARKDOWN_SUFFIXES, SourceError, SourceFile, decode_python, read_notebook, sanitize_cell
from auditor.findings import Edit, Finding, Fix
from auditor.suppression import skips_file

SAFE = "safe"
MAX_ROUNDS = 10
BOM = b"\xef\xbb\xbf"


@dataclass
class FileFix:
    path: str
    original: bytes
    fixed: bytes
    applied: int
    error: Optional[str] = None  # why the fixed text could not be written (read-only directory...)

    @property
    def changed(self) -> bool:
        return self.original != self.fixed


def is_applicable(fix: Optional[Fix], unsafe: bool) -> bool:
    return fix is not None and bool(fix.edits) and (fix.applicability == SAFE or unsafe)


def fix_files(paths: Sequence[str], options: EngineOptions, unsafe: bool) -> list[FileFix]:
    """Fix each file in memory; nothing is written here (see `write_atomically`)."""
    fixed = []
    for path in paths:
        if path.lower().endswith(MARKDOWN_SUFFIXES):
            continue  # never edited: see markdown_notices
        try:
            result = fix_file(path, options, unsafe)
        except (OSError, SourceError):
            continue  # the check itself reports files it cannot read
        if result is not None and result.changed:
            fixed.append(result)
    return fixed


def fix_file(path: str, options: EngineOptions, unsafe: bool) -> Optional[FileFix]:
    with open(path, "rb") as handle:
        original = handle.read()
    document: _Document = _Notebook(path, original) if path.endswith(".ipynb") else _Text(path, original)
    applied = 0
    for _ in range(MAX_ROUNDS):
        source = document.source()
        fixes = [f.fix for f in _findings(source, options) if is_applicable(f.fix, unsafe)]
        chosen = _non_overlapping(source.text, fixes)
        if not chosen:
            break
        if document.apply(source, chosen):
            applied += len(chosen)
            continue
        # Together they break the file: keep only the fixes that compile on their own.
        progress = False
        for fix in chosen:
            if document.apply(document.source(), [fix]):
                applied += 1
                progress = True
                break  # positions of the others are stale now; next round recomputes them
        if not progress:
            break
    return FileFix(path=path, original=original, fixed=document.to_bytes(), applied=applied)


def _findings(source: SourceFile, options: EngineOptions) -> list[Finding]:
    """The selected rules on in-memory text, with suppressions and per-file ignores applied."""
    if skips_file(source.text):
        return []
    try:
        module = cst.parse_module(source.text)
    except cst.ParserSyntaxError:
        module = _parse_retabbed(source.text)  # tabs libcst refuses; the edits' positions still hold
        if module is None:
            return []
    except (RecursionError, MemoryError):
        return []
    context = FileContext(source, module)
    try:
        summary = summarize_file(context)
    except Exception:  # as in the engine: a summary only adds knowledge
        if debugging():
            raise
        summary = None
    project = ProjectIndex({module_name_for(source.path): summary} if summary is not None else {})
    prepared = _Prepared(source, module, FileResult(path=source.path, source=source), context=context)
    return run_rules(prepared, options, project).findings


# --- choosing and applying edits -------------------------------------------------

def offset(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based (line, column); past the end clamps to the end."""
    index = 0
    for _ in range(line - 1):
        found = text.find("\n", index)
        if found < 0:
            return len(text)
        index = found + 1
    return min(index + column - 1, len(text))


def _spans(text: str, fix: Fix) -> list[tuple[int, int]]:
    return [(offset(text, e.line, e.column), offset(text, e.end_line, e.end_column)) for e in fix.edits]


def _non_overlapping(text: str, fixes: list[Fix]) -> list[Fix]:
    """Fixes in text order, leaving out any that touches a span already taken."""
    taken: list[tuple[int, int]] = []
    chosen = []
    for fix in sorted(fixes, key=lambda f: _spans(text, f)[0]):
        spans = _spans(text, fix)
        if any(s <= te and ts <= e for s, e in spans for ts, te in taken):
            continue
        taken.extend(spans)
        chosen.append(fix)
    return chosen


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (positions in `text`), last first so offsets stay valid."""
    spans = sorted(((offset(text, e.line, e.column), offset(text, e.end_line, e.end_column), e.content)
                    for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def compiles(text: str, path: str) -> bool:
    try:
        compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


class _Document:
    path: str

    def source(self) -> SourceFile:
        raise NotImplementedError

    def apply(self, source: SourceFile, fixes: list[Fix]) -> bool:
        """Apply `fixes` (positions in `source`); False and unchanged if the result would not compile."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError


class _Text(_Document):
    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.bom = data.startswith(BOM)
        self.text, self.encoding = decode_python(data)

    def source(self) -> SourceFile:
        first = self.text.find("\n")
        newline = "\r\n" if first > 0 and self.text[first - 1] == "\r" else "\n"
        return SourceFile(path=self.path, text=self.text, newline=newline, encoding=self.encoding)

    def apply(self, source: SourceFile, fixes: list[Fix]) -> bool:
        new = apply_edits(source.text, [e for f in fixes for e in f.edits])
        if new == source.text or not compiles(new, self.path):
            return False
        self.text = new
        return True

    def to_bytes(self) -> bytes:
        return (BOM if self.bom else b"") + self.text.encode(self.encoding)


class _Notebook(_Document):
    """Cells edited in place; everything else in the JSON (outputs, metadata) is kept."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.bom = data.startswith(BOM)
        raw = data.decode("utf-8-sig")
        self.notebook = json.loads(raw)
        self.unchanged = data
        indent = re.match(r"\{\r?\n( +|\t)\"", raw)
        self.indent: Optional[object] = (indent.group(1) if indent.group(1) == "\t" else len(indent.group(1))) \
            if indent else None
        self.ensure_ascii = not any(ord(ch) > 127 for ch in raw) and bool(re.search(r"\\u[0-9a-fA-F]{4}", raw))
        self.trailing_newline = raw.endswith("\n")
        self.crlf = "\r\n" in raw[:200]
        self.dirty = False

    def source(self) -> SourceFile:
        return read_notebook(self.path, self.to_bytes())

    def apply(self, source: SourceFile, fixes: list[Fix]) -> bool:
        cells = self.notebook["cells"]
        texts: dict[int, str] = {}
        spans = []  # every edit's offsets in its cell's text as it is now
        for fix in fixes:
            for edit in fix.edits:
                mapped = self._to_cell(source, edit, texts)
                if mapped is None:
                    return False
                spans.append(mapped)
        for number, start, end, content in sorted(spans, key=lambda s: (s[0], s[1], s[2]), reverse=True):
            text = texts[number]  # last first, so the offsets still to apply stay valid
            texts[number] = text[:start] + content + text[end:]
        # Compile the would-be program before touching the notebook. A cell that no longer
        # parses would be left out of the program (auditor/cells.py): count those too.
        saved = {n: cells[n - 1].get("source") for n in texts}
        for number, text in texts.items():
            self._set_cell(cells[number - 1], text)
        fixed = read_notebook(self.path, self._serialize())
        program = fixed.text
        if program == source.text or len(fixed.piece_errors) > len(source.piece_errors) \
                or not compiles(program, self.path):
            for number, value in saved.items():
                cells[number - 1]["source"] = value
            return False
        self.dirty = True
        return True

    def _to_cell(self, source: SourceFile, edit: Edit, texts: dict[int, str]):
        """(cell number, start, end, content) for an edit inside one cell, else None."""
        lines = source.cell_lines
        if not lines or edit.line > len(lines):
            return None
        number, start_line = lines[edit.line - 1]
        if edit.end_line <= len(lines) and lines[edit.end_line - 1][0] == number:
            end_line, end_column = lines[edit.end_line - 1][1], edit.end_column
            at_cell_end = False
        elif edit.end_column == 1 and lines[edit.end_line - 2][0] == number:
            end_line, end_column, at_cell_end = None, None, True  # ends just after the cell's last line
        else:
            return None
        cell = self.notebook["cells"][number - 1]
        original = _cell_text(cell)
        if number not in texts:
            texts[number] = original
        text = texts[number]
        # Lines that sanitizing rewrote (IPython magics) are not what the cell says: leave them.
        raw_lines, clean_lines = original.split("\n"), sanitize_cell(original)
        last = len(raw_lines) if at_cell_end else end_line
        for i in range(start_line, min(last, len(clean_lines)) + 1):
            if i - 1 < len(raw_lines) and raw_lines[i - 1] != clean_lines[i - 1]:
                return None
        start = offset(text, start_line, edit.column)
        content = edit.content
        if at_cell_end:
            end = len(text)
            if not text.endswith("\n") and content.endswith("\n"):
                content = content[:-1]
        else:
            end = offset(text, end_line, end_column)
        return number, start, end, content

    @staticmethod
    def _set_cell(cell: dict, text: str) -> None:
        if isinstance(cell.get("source"), list):
            cell["source"] = text.splitlines(keepends=True)
        else:
            cell["source"] = text

    def _serialize(self) -> bytes:
        text = json.dumps(self.notebook, indent=self.indent, ensure_ascii=self.ensure_ascii)
        if self.trailing_newline:
            text += "\n"
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (BOM if self.bom else b"") + text.encode("utf-8")

    def to_bytes(self) -> bytes:
        return self._serialize() if self.dirty else self.unchanged


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


# --- output ----------------------------------------------------------------------

def diff_path(path: str) -> str:
    """The name a diff gives the file: relative to the working directory, for `patch -p0`."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def unified_diff(result: FileFix) -> str:
    """A unified diff of one fixed file that `patch -p0` applies from the working directory."""
    old = _decode(result.original, result.path)
    new = _decode(result.fixed, result.path)
    name = diff_path(result.path)
    out = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     fromfile=name, tofile=name):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _decode(data: bytes, path: str) -> str:
    if path.endswith(".ipynb"):
        return data.decode("utf-8-sig")
    return decode_python(data)[0]


def markdown_notices(results: Sequence[FileResult], unsafe: bool) -> list[tuple[str, str]]:
    """(path, notice) per Markdown file with fixes: Markdown is reported, never edited."""
    notices = []
    for result in results:
        if result.path.lower().endswith(MARKDOWN_SUFFIXES):
            count = sum(is_applicable(f.fix, unsafe) for f in result.findings)
            if count:
                notices.append((result.path, f"{count} fix{'es' if count != 1 else ''} not applied: auditor does "
                                             f"not edit Markdown (apply {'them' if count != 1 else 'it'} by hand)"))
    return notices


def run_fixes(results: Sequence[FileResult], options: EngineOptions, unsafe: bool, write: bool) -> list[FileFix]:
    """Fix the files whose findings carry an applicable fix; write them when `write`."""
    fixable = [r.path for r in results if any(is_applicable(f.fix, unsafe) for f in r.findings)]
    fixes = fix_files(fixable, options, unsafe)
    if write:
        for result in fixes:
            try:
                write_atomically(result.path, result.fixed)
            except OSError as exc:  # one file's failure is that file's error; the others are written
                result.error = f"cannot write the fixes: {exc.strerror or exc}"
    return fixes
