"""libcst's parse of a whole file, without re-validating what the parser just built.

Every libcst node checks its own fields when it is constructed (`CSTNode.__post_init__`
calls `_validate`). That guards trees that people assemble by hand; a tree that comes
out of libcst's own parser is valid by construction, and on training code the checks
cost about a fifth of the parse (libcst's source says as much in a PERF note). So while
a file is parsed here the per-node check is switched off, and it is switched back on
before anything else (fixes, rules building replacement nodes) constructs a node.

When auditor imported libcst itself, the node classes have constructors whose
validation can be paused (auditor/node_init.py). Otherwise the switch touches one class
attribute of libcst's node base; if a libcst release changes that shape, `parse_module`
falls back to the ordinary, validating parse.
"""

from __future__ import annotations

import libcst as cst

from auditor import node_init

try:
    from libcst._nodes.base import CSTNode as _NodeBase
except ImportError:  # pragma: no cover - another libcst layout: validate as usual
    _NodeBase = None


def _skip_validation(self) -> None:
    return None


# Only when the hook is where we expect it, defined once on the base and nowhere else.
_CAN_SKIP = _NodeBase is not None and "__post_init__" in vars(_NodeBase)


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module(text)`, the same tree, built without per-node validation.

    Not thread-safe (it swaps a class attribute for the duration of the call); the
    engine parses in one thread per process.
    """
    if node_init.installed():
        with node_init.paused_validation():
            return cst.parse_module(text)
    if not _CAN_SKIP:
        return cst.parse_module(text)
    validate = _NodeBase.__post_init__
    _NodeBase.__post_init__ = _skip_validation
    try:
        return cst.parse_module(text)
    finally:
        _NodeBase.__post_init__ = validate
