"""Warnings raised inside a wrapped call point at the user's line, not at our wrapper.

torch and scikit-learn warn with a `stacklevel` that counts frames from their own code;
once our wrapper sits between them and the script, the frame they name is the wrapper's.
Python builds the message first and then calls `warnings._showwarnmsg`: there, a message
that names one of our files is moved to the innermost frame of the user's code.
"""

from __future__ import annotations

import warnings
from typing import Any

from reference_loop.locate import _OWN_DIRS
from reference_loop.script_audit.frames import user_frame
from reference_loop.script_audit.patching import Patches


def install(patches: Patches) -> None:
    original = warnings._showwarnmsg  # type: ignore[attr-defined]

    def show(msg: Any) -> None:
        try:
            filename = str(getattr(msg, "filename", ""))
            if filename.startswith(_OWN_DIRS):
                frame = user_frame(1)
                if frame is not None:
                    msg.filename, msg.lineno = frame.f_code.co_filename, frame.f_lineno
                    msg.line = None
        except Exception:  # pragma: no cover - a warning must never become an error
            pass
        original(msg)

    patches.replace(warnings, "_showwarnmsg", show)
