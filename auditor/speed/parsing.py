"""libcst's parse of a whole file, without re-validating what the parser just built.

Every libcst node checks its own fields when it is constructed (`CSTNode.__post_init__`
calls `_validate`). That guards trees that people assemble by hand; a tree that comes
out of libcst's own parser is valid by construction, and on training code the checks
cost about a fifth of the parse (libcst's source says as much in a PERF note). So while
a file is parsed here the per-node check is switched off, and it is switched back on
before anything else (fixes, rules building replacement nodes) constructs a node.

When auditor imported libcst itself, the node classes have constructors whose
validation can be paused (auditor/speed/node_init.py). Otherwise the switch touches one class
attribute of libcst's node base; if a libcst release changes that shape, `parse_module`
falls back to the ordinary, validating parse.

Tokens and whitespace are also shared within a file: libcst's native parser builds each
node by calling the class it finds on the `libcst` module, so while a file is parsed
those names answer with a cache (`functools.lru_cache`, in C) that hands back the node
already built with the same fields. About half of a tree's nodes are whitespace, and
four in five `SimpleWhitespace` nodes are empty; sharing saves about a twentieth of the
parse and some memory (peak 333 -> 279 MB checking pytorch-image-models in one process).
The trees are equal to libcst's and print back the same. Nothing looks at where a token
is (the model never records tokens: see model._SKIP), and a libcst node is immutable,
so a shared token is indistinguishable from a fresh one.

The same swap puts the C accelerator's builders (auditor/speed/speedups.py), when it is
compiled, in place of the other node classes: the nodes are built without a Python
frame each (about a twentieth of a check).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from contextlib import contextmanager
from typing import Iterator

import libcst as cst

from auditor.speed import node_init, speedups
from auditor.speed.libcst_import import node_classes, token_classes

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
        with node_init.paused_validation(), _stand_ins():
            return _parse(text)
    if not _CAN_SKIP:
        return cst.parse_module(text)
    validate = _NodeBase.__post_init__
    _NodeBase.__post_init__ = _skip_validation
    try:
        with _stand_ins():
            return _parse(text)
    finally:
        _NodeBase.__post_init__ = validate


def _parse(text: str) -> cst.Module:
    if _native is not None:
        try:
            return _native(text)
        except KeyError:  # the parser asked for a module not imported yet: let it import
            pass
    return cst.parse_module(text)


def _native_entry():
    """libcst's native `parse_module`, called from a frame whose `__import__` costs nothing.

    For every node it builds, libcst's native parser fetches the `libcst` module with
    CPython's `PyImport_Import`, which calls the `__import__` found in the builtins of
    the calling Python frame's globals, discards the result and reads `sys.modules`.
    Called from a function whose globals give it `"".format` (C, takes any arguments)
    as `__import__`, those calls cost next to nothing: about a fiftieth of a parse.
    Only a module missing from `sys.modules` would then fail (KeyError: `_parse` falls
    back to libcst's entry point). For text, libcst's own `parse_module` calls exactly
    this with the encoding "utf-8". None when this libcst has no such native function.
    """
    try:
        from libcst import native

        parse = native.parse_module
    except (ImportError, AttributeError):
        return None
    if getattr(parse, "__text_signature__", None) != "(source, encoding=None)":
        return None
    scope: dict = {"__builtins__": {"__import__": "".format}, "_parse": parse}
    exec("def parse(text):\n    return _parse(text, 'utf-8')\n", scope)
    return scope["parse"]


_native = _native_entry()


_LIBCST = "libcst"


@contextmanager
def _stand_ins() -> Iterator[None]:
    """While inside, libcst's exported node classes answer with cheaper stand-ins.

    Tokens with a cache of themselves (each built once per file), and, when the C
    accelerator is compiled, every other node class with its builder (auditor/speed/speedups.py).
    The parser finds them on `sys.modules["libcst"]`: with the accelerator, a namespace
    of the stand-ins sits there for the parse (a lookup in its own table per node instead
    of a module's attribute lookup); without it, the module's own names are swapped.
    """
    constructors = _constructors()
    modules = sys.modules
    namespace = constructors.namespace
    in_place_of_module = namespace is not None and modules.get(_LIBCST) is cst
    if in_place_of_module:
        modules[_LIBCST] = namespace
    else:
        vars(cst).update(constructors.stand_ins)
    try:
        yield
    finally:
        if in_place_of_module:
            modules[_LIBCST] = cst
        else:
            vars(cst).update(constructors.classes)
        constructors.clear_caches()


class _Constructors:
    """For the node classes libcst exports: the class, and what stands in for it."""

    def __init__(self) -> None:
        exported = vars(cst)
        nodes = node_classes()
        tokens = token_classes(nodes)
        known = set(nodes)
        self.classes: dict[str, type] = {}
        self.stand_ins: dict[str, object] = {}
        self.caches: list = []
        # By the name the native parser looks up.
        for name, cls in exported.items():
            if not isinstance(cls, type) or cls not in known or getattr(cls, "__abstractmethods__", None):
                continue
            builder = speedups.builder_for(cls)
            if cls in tokens and not _has_sequence_field(cls):  # a list of lines cannot be hashed
                cache = functools.lru_cache(maxsize=None)(builder or cls)
                self.caches.append(cache)
                self.stand_ins[name] = cache
            elif builder is not None:
                self.stand_ins[name] = builder
            else:
                continue
            self.classes[name] = cls
        self.namespace = speedups.namespace(self.stand_ins, cst)

    def clear_caches(self) -> None:
        for cache in self.caches:
            cache.cache_clear()  # a file's tokens die with its tree


@functools.cache
def _constructors() -> _Constructors:
    return _Constructors()


def _has_sequence_field(cls: type) -> bool:
    return any("Sequence" in str(field.type) for field in dataclasses.fields(cls))
