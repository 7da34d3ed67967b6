"""Where a name read from a project module is defined, through its package's re-exports.

`from pkg import evaluate` names pkg/__init__.py, which holds `from .utils import evaluate`
or `from .utils import *`: the function (or model class) is pkg.utils's. Read from the
modules' summaries (project.py's `reexports` and `star_imports`), a few modules deep.
"""

from __future__ import annotations

from typing import Any, Callable

REEXPORT_DEPTH = 4  # `pkg/__init__` -> `pkg/models/__init__` -> `pkg/models/unet.py`


def defined_at(get: Callable[[str], Any], module: str, name: str) -> tuple[str, str]:
    """(module, name) where `name`, as read from `module`, is defined: through a package's
    re-exports (`from .utils import evaluate` in pkg/__init__.py) and star imports (`from
    .model import *`), a few modules deep; `module` and `name` themselves when nothing
    re-exports it. A dotted name (`Trainer.fit`) is resolved by its first part."""
    head, dot, rest = name.partition(".")
    for _ in range(REEXPORT_DEPTH):
        summary = get(module)
        if summary is None or _defines(summary, head):
            break
        target = (getattr(summary, "reexports", None) or {}).get(head)
        if target is not None:
            module, head = target
            continue
        star = next((s for s in getattr(summary, "star_imports", ()) if _exports(get, s, head, REEXPORT_DEPTH)), None)
        if star is None:
            break
        module = star
    return module, head + dot + rest


# The summary tables that list what a module defines (functions, and the classes the rules ask about).
_DEFINITIONS = ("functions", "model_classes", "shuffling_classes")


def _defines(summary: Any, name: str) -> bool:
    return any(name in (getattr(summary, table, None) or ()) for table in _DEFINITIONS)


def _exports(get: Callable[[str], Any], module: str, name: str, depth: int) -> bool:
    """Whether `from module import *` brings `name` (defined there or re-exported)."""
    summary = get(module)
    if summary is None or depth <= 0:
        return False
    if _defines(summary, name) or name in (getattr(summary, "reexports", None) or {}):
        return True
    return any(_exports(get, star, name, depth - 1) for star in getattr(summary, "star_imports", ()))
