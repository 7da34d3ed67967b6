"""Where a runtime finding points: the user's source line, never our own frames.

A runtime finding is only useful if it names the line the user wrote. The frame walk
skips training-auditor itself, torch, scikit-learn, numpy and the standard library's
plumbing (runpy, contextlib, ...), so the first frame left is the one that called in.
"""

from __future__ import annotations

import inspect
import os
import sys
import sysconfig
from typing import Optional

Where = tuple[str, int]

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
# Our own packages: frames inside them are never "the user's line".
_OWN_DIRS = tuple(os.path.join(_ROOT, name) + os.sep for name in ("auditor", "rules", "reference_loop"))
_STDLIB = sysconfig.get_paths().get("stdlib", "")
_THIRD_PARTY = ("torch", "sklearn", "numpy", "scipy", "click", "tqdm", "_pytest", "pluggy", "matplotlib")


def _is_foreign(filename: str) -> bool:
    if filename.startswith("<"):
        # <frozen runpy>, <string>: not a file the user can open, except a notebook cell.
        return not filename.startswith("<ipython-input")
    path = os.path.abspath(filename)
    if path.startswith(_OWN_DIRS):
        return True
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        idx = max(i for i, p in enumerate(parts) if p in ("site-packages", "dist-packages"))
        return idx + 1 < len(parts) and parts[idx + 1].split(".")[0] in _THIRD_PARTY
    return bool(_STDLIB) and path.startswith(_STDLIB + os.sep)


def display_path(filename: str) -> str:
    """Relative to the working directory when the file lies under it, as RULES.md asks."""
    path = os.path.abspath(filename)
    cwd = os.getcwd()
    if path.startswith(cwd + os.sep):
        return os.path.relpath(path, cwd)
    return path


def user_location(skip: int = 1) -> Where:
    """(path, line) of the innermost frame that is the user's code."""
    frame = sys._getframe(skip)
    fallback: Optional[Where] = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if fallback is None:
            fallback = (display_path(filename), frame.f_lineno)
        if not _is_foreign(filename):
            return display_path(filename), frame.f_lineno
        frame = frame.f_back
    return fallback or ("<unknown>", 1)


def module_location(module: object) -> Optional[Where]:
    """(path, line) of the `forward` of a module's class: where a model bug lives.

    Read from the code object, not by parsing the source file: this runs once per fit.
    """
    forward = getattr(type(module), "forward", None)
    code = getattr(forward, "__code__", None)
    if code is None or _is_foreign(code.co_filename):
        return None
    return display_path(code.co_filename), max(code.co_firstlineno, 1)


def callable_location(fn: object) -> Optional[Where]:
    """(path, line) of a user function, e.g. a data factory."""
    try:
        path = inspect.getsourcefile(fn)  # type: ignore[arg-type]
        _, line = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None
    if path is None:
        return None
    return display_path(path), max(line, 1)
