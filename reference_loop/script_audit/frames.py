"""Which frame is the user's: a cached, allocation-light walk for hooks that run every step.

`reference_loop.locate` decides what counts as foreign code (our packages, torch,
scikit-learn, the standard library); here the verdict is cached per file name, because
forward hooks ask on every forward pass and the stack is walked from C-level frames.
"""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Optional

from reference_loop.locate import _OWN_DIRS, Where, _is_foreign, display_path

_foreign: dict[str, bool] = {}
_display: dict[str, str] = {}
# Directories whose files are always the user's (the script's own directory, the -m
# package), even when they live inside site-packages.
USER_ROOTS: list[str] = []
_INSTALLED = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def _judge(filename: str) -> bool:
    if filename.startswith("<"):
        return _is_foreign(filename)
    path = os.path.abspath(filename)
    if path.startswith(_OWN_DIRS):
        return True
    if any(path.startswith(root) for root in USER_ROOTS):
        return False
    # Any installed library (joblib inside a Pipeline, accelerate, ...) is not the user's line.
    return _is_foreign(filename) or any(part in path for part in _INSTALLED)


def add_user_root(directory: str) -> None:
    USER_ROOTS.append(os.path.abspath(directory).rstrip(os.sep) + os.sep)
    _foreign.clear()


def is_user_file(filename: str) -> bool:
    verdict = _foreign.get(filename)
    if verdict is None:
        verdict = _foreign[filename] = _judge(filename)
    return not verdict


def _show(filename: str) -> str:
    shown = _display.get(filename)
    if shown is None:
        shown = _display[filename] = display_path(filename)
    return shown


def user_frame(skip: int = 2) -> Optional[FrameType]:
    """The innermost frame of the user's code above the caller (None when there is none)."""
    frame: Optional[FrameType] = sys._getframe(skip)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def where_of(frame: Optional[FrameType]) -> Optional[Where]:
    if frame is None:
        return None
    return _show(frame.f_code.co_filename), frame.f_lineno


def user_where(skip: int = 3) -> Optional[Where]:
    """(path, line) of the innermost user frame above the caller."""
    return where_of(user_frame(skip))


def user_stack(skip: int = 2, limit: int = 6) -> tuple[tuple[CodeType, int], ...]:
    """Up to `limit` user frames, innermost first, as (code, line): cheap to keep per event."""
    out = []
    frame: Optional[FrameType] = sys._getframe(skip)
    while frame is not None and len(out) < limit:
        code = frame.f_code
        if is_user_file(code.co_filename):
            out.append((code, frame.f_lineno))
        frame = frame.f_back
    return tuple(out)


def stack_where(entry: tuple[CodeType, int]) -> Where:
    return _show(entry[0].co_filename), entry[1]
