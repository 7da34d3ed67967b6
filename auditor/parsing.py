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

Tokens and whitespace are also shared within a file: libcst's native parser builds each
node by calling the class it finds on the `libcst` module, so while a file is parsed
those names answer with a cache (`functools.lru_cache`, in C) that hands back the node
already built with the same fields. Half of a tree's nodes are whitespace, four in five
of those are `SimpleWhitespace("")`; sharing them saves about a twentieth of the parse
and as much memory. The trees are equal to libcst's and print back the same. Nothing
looks at where a token is (the model never records tokens: see model._SKIP), and a
libcst node is immutable, so a shared token is indistinguishable from a fresh one.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Optional

import libcst as cst

from auditor import node_init
from auditor.libcst_import import node_classes, token_classes

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

    Not thread-safe (it swaps class attributes for the duration of the call); the
    engine parses in one thread per process.
    """
    if node_init.installed():
        with node_init.paused_validation(), _tokens_shared():
            return cst.parse_module(text)
    if not _CAN_SKIP:
        return cst.parse_module(text)
    validate = _NodeBase.__post_init__
    _NodeBase.__post_init__ = _skip_validation
    try:
        with _tokens_shared():
            return cst.parse_module(text)
    finally:
        _NodeBase.__post_init__ = validate


@contextmanager
def _tokens_shared() -> Iterator[None]:
    """While inside, libcst's exported token classes are caches of themselves."""
    shared = _shared_tokens()
    exported = vars(cst)
    exported.update(shared.caches)
    try:
        yield
    finally:
        exported.update(shared.classes)
        for cache in shared.caches.values():
            cache.cache_clear()  # a file's tokens die with its tree


class _SharedTokens:
    """For each token class libcst exports: the class, and a cache standing in for it."""

    def __init__(self) -> None:
        exported = vars(cst)
        tokens = token_classes(node_classes())
        # By the name the native parser looks up; only classes whose fields can all be
        # hashed (a list of lines, as in ParenthesizedWhitespace, cannot).
        self.classes = {name: cls for name, cls in exported.items()
                        if isinstance(cls, type) and cls in tokens and not getattr(cls, "__abstractmethods__", None)
                        and not _has_sequence_field(cls)}
        self.caches = {name: lru_cache(maxsize=None)(cls) for name, cls in self.classes.items()}


_shared: Optional[_SharedTokens] = None


def _shared_tokens() -> _SharedTokens:
    global _shared
    if _shared is None:
        _shared = _SharedTokens()
    return _shared


def _has_sequence_field(cls: type) -> bool:
    import dataclasses

    return any("Sequence" in str(field.type) for field in dataclasses.fields(cls))
