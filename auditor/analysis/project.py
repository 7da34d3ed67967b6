"""Cross-file knowledge for one `auditor check` run: per-file summaries, merged.

Phase 1 of the engine calls `summarize_file` on every parsed file; the summaries
(small, picklable) are merged into a `ProjectIndex` that phase 2 hands to rules
through `ctx.project`. No file is parsed twice.
"""

from __future__ import annotations

import os
from typing import Any, Optional


def module_name_for(path: str) -> str:
    """Dotted module name of a file path, relative to the nearest non-package directory."""
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    parts = [os.path.splitext(filename)[0]]
    if parts[0] == "__init__":
        parts = []
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


def summarize_file(ctx) -> Optional[Any]:
    """What other files may need to know about this one (None: nothing)."""
    return None


class ProjectIndex:
    def __init__(self, summaries: dict[str, Any]) -> None:
        self.summaries = summaries  # module name -> summary

    def get(self, module: str) -> Optional[Any]:
        return self.summaries.get(module)
