"""Data files a source text names, read from the text alone (no parse).

A pipeline often hands data from one module to another through a file, not an import:
`build_features.py` fits a scaler and writes `processed.csv`, `train.py` (or a notebook)
reads `processed.csv` back and splits it. The file's name is then an edge between the two
modules, as an import is: the run links them (speed/dependencies.py) and a check naming
only one of them summarizes the other (neighbours.py), so that checking one file finds what
checking the project finds (TRN202 follows fitted data through such a file).

Over-approximation only costs a summary or a re-check: every quoted name with a data
file's extension counts, in a file that holds a call reading or writing data files.
"""

from __future__ import annotations

import re

# Graph names of data files carry this prefix: a module name never holds a colon.
DATA_FILE_PREFIX = "file:"

# Calls that read or write tables and arrays (pandas, numpy, joblib, pickle). The text holds
# one when `_CALL_WORDS` finds one; `_reads_or_writes_data` asks the same question faster.
_CALL_WORDS = re.compile(r"\.(?:to|read)_(?:csv|pickle|parquet|feather|hdf|excel|json)\(|\b(?:np|numpy)\."
                         r"(?:save|savez|savetxt|load|loadtxt)\(|\bjoblib\.(?:dump|load)\(|\bpickle\.(?:dump|load)\(")
# `_CALL_WORDS`, its alternatives in two patterns that each open with a plain character (which
# the regex engine scans for quickly; `\b` in front of an alternative keeps it from doing so),
# the word boundary of the second checked at each match.
_PANDAS_CALL = re.compile(r"\.(?:to|read)_(?:csv|pickle|parquet|feather|hdf|excel|json)\(")
_MODULE_CALL = re.compile(r"(?:np|numpy)\.(?:save|savez|savetxt|load|loadtxt)\(|joblib\.(?:dump|load)\("
                          r"|pickle\.(?:dump|load)\(")
_WORD_CHARACTER = re.compile(r"\w")
# The last part of a quoted path with a data file's extension (`"data/processed.csv"`,
# `'X.npy'`; in a notebook's JSON the quote is escaped: `\"clean.csv\"`). The names are the
# matches of `_NAME`; `data_file_names` finds the same ones in linear time.
_NAME = re.compile(r"([\w.\-]+\.(?:csv|tsv|pkl|pickle|parquet|feather|npy|npz|h5|hdf5|xlsx|xls|joblib))\\?[\"']")
# Where such a name ends: its extension and the closing quote.
_ENDING = re.compile(r"\.(?:csv|tsv|pkl|pickle|parquet|feather|npy|npz|h5|hdf5|xlsx|xls|joblib)\\?[\"']")
_NAME_CHARACTERS = re.compile(r"[\w.\-]*")


def data_file_names(text: str) -> tuple[str, ...]:
    """The data file names (last path part) quoted in a text that reads or writes data files."""
    if not _reads_or_writes_data(text):
        return ()
    return tuple(sorted(set(_names(text))))


def _reads_or_writes_data(text: str) -> bool:
    """Whether `_CALL_WORDS` finds a call in `text` (ten times faster than asking it)."""
    if _PANDAS_CALL.search(text):
        return True
    position = 0
    while True:
        call = _MODULE_CALL.search(text, position)
        if call is None:
            return False
        start = call.start()
        if start == 0 or not _WORD_CHARACTER.match(text, start - 1):  # `\b` before the module
            return True
        position = start + 1


def _names(text: str) -> list[str]:
    """`_NAME`'s matches without its backtracking: tried at every character of a long word
    (a notebook's output, an embedded table), `_NAME` scans to the word's end each time, which
    is quadratic. A match always spans a whole run of name characters (the quote after it is
    none), so each ending found is extended back to the start of its run instead (the
    reversed text read forward from the ending); a run holding only the extension is none."""
    found: list[str] = []
    backwards = None
    size = len(text)
    for ending in _ENDING.finditer(text):
        dot = ending.start()
        if backwards is None:
            backwards = text[::-1]
        start = size - _NAME_CHARACTERS.match(backwards, size - dot).end()
        if start < dot:
            quote_size = 2 if text[ending.end() - 2] == "\\" else 1
            found.append(text[start:ending.end() - quote_size])
    return found
