"""Where a notebook finding is in the raw `.ipynb` file.

Text and JSON name a notebook finding by cell (`nb.ipynb:cell 3:12:5`). SARIF viewers
and GitHub's annotations know no cells: they show the `.ipynb` file as text and put a
finding on that file's line. So for those formats each (cell, line, column) is mapped
to the raw JSON: the line and column where that character of the cell's source is
written (inside the JSON string, escapes counted). A notebook whose cell cannot be
found (changed since, not valid JSON) keeps the cell's own numbers.
"""

from __future__ import annotations

import json
from json.decoder import scanstring
from typing import Optional

_WHITESPACE = " \t\n\r"


class RawNotebook:
    """The raw text of one notebook and, per cell, where each source string starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cells: list[list[tuple[int, str]]] = []  # per cell: (offset of the opening quote, decoded string)
        self._line_starts: Optional[list[int]] = None
        _Scanner(text, self.cells).document()

    def position(self, cell: int, line: int, column: int) -> Optional[tuple[int, int]]:
        """(raw line, raw column), 1-based, of the cell's `line`:`column`; None if unknown."""
        if not 1 <= cell <= len(self.cells):
            return None
        remaining_lines, part = line - 1, None
        offset_in_part = 0
        for quote, decoded in self.cells[cell - 1]:
            # Which source string holds the start of the wanted line, and where in it.
            start = 0
            while remaining_lines > 0:
                newline = decoded.find("\n", start)
                if newline < 0:
                    break
                start, remaining_lines = newline + 1, remaining_lines - 1
            if remaining_lines == 0 and start < len(decoded) + (1 if not decoded.endswith("\n") else 0):
                part, offset_in_part = (quote, decoded), start
                break
        if part is None:
            return None
        quote, decoded = part
        # The rest of the line may continue into the next string: columns count within this one.
        raw = self._raw_offset(quote, min(offset_in_part + column - 1, len(decoded)))
        return self._line_and_column(raw)

    def _raw_offset(self, quote: int, index: int) -> int:
        """Offset in the raw text of decoded character `index` of the string opened at `quote`."""
        i, decoded = quote + 1, 0
        text = self.text
        while decoded < index and i < len(text) and text[i] != '"':
            if text[i] == "\\":
                if text[i + 1] == "u":
                    # a surrogate pair is two escapes and one character
                    high = int(text[i + 2:i + 6], 16)
                    i += 12 if 0xD800 <= high < 0xDC00 and text[i + 6:i + 8] == "\\u" else 6
                else:
                    i += 2
            else:
                i += 1
            decoded += 1
        return i

    def _line_and_column(self, offset: int) -> tuple[int, int]:
        if self._line_starts is None:
            starts, index = [0], self.text.find("\n")
            while index >= 0:
                starts.append(index + 1)
                index = self.text.find("\n", index + 1)
            self._line_starts = starts
        from bisect import bisect_right

        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1


class _Scanner:
    """Just enough of a JSON reader to find `cells[i].source` and where its strings are."""

    def __init__(self, text: str, cells: list) -> None:
        self.text, self.cells, self.i = text, cells, 0

    def skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _WHITESPACE:
            self.i += 1

    def document(self) -> None:
        self.skip()
        self.value(("root",))

    def value(self, where: tuple) -> None:
        self.skip()
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            self.skip()
            if self.text[self.i] == "}":
                self.i += 1
                return
            while True:
                self.skip()
                key, self.i = scanstring(self.text, self.i + 1)
                self.skip()
                self.i += 1  # the colon
                self.value(self._child(where, key))
                self.skip()
                ch, self.i = self.text[self.i], self.i + 1
                if ch == "}":
                    return
        elif ch == "[":
            self.i += 1
            self.skip()
            if self.text[self.i] == "]":
                self.i += 1
                return
            index = 0
            while True:
                self.value(self._child(where, index))
                index += 1
                self.skip()
                ch, self.i = self.text[self.i], self.i + 1
                if ch == "]":
                    return
        elif ch == '"':
            start = self.i
            decoded, self.i = scanstring(self.text, self.i + 1)
            if where[0] == "source":
                self.cells[where[1]].append((start, decoded))
        else:
            _, self.i = json.JSONDecoder().raw_decode(self.text, self.i)

    def _child(self, where: tuple, key) -> tuple:
        if where == ("root",) and key == "cells":
            return ("cells",)
        if where == ("cells",):
            self.cells.append([])
            return ("cell", len(self.cells) - 1)
        if where[0] == "cell" and key == "source":
            return ("source", where[1])
        if where[0] == "source":
            return where
        return ("other",)


def raw_notebook(path: str) -> Optional[RawNotebook]:
    """The notebook at `path` as raw text with its cells located; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8-sig")
        return RawNotebook(text)
    except (OSError, UnicodeDecodeError, ValueError, IndexError, RecursionError):
        return None


def raw_region(finding, notebooks: dict) -> tuple[int, int, int, int]:
    """(line, column, end line, end column) of `finding` in the file as it is on disk."""
    region = (finding.line, finding.column, finding.end_line, finding.end_column)
    if finding.cell is None:
        return region
    if finding.path not in notebooks:
        notebooks[finding.path] = raw_notebook(finding.path)
    notebook = notebooks[finding.path]
    if notebook is None:
        return region
    start = notebook.position(finding.cell, finding.line, finding.column)
    end = notebook.position(finding.cell, finding.end_line, finding.end_column)
    if start is None:
        return region
    if end is None or end < start:
        end = start
    return (*start, *end)
