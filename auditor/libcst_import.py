"""Import libcst with the compiled code of its node classes kept between runs.

About two thirds of `import libcst` is spent by `dataclasses` compiling the source text
it generates for each node class (`__init__`, `__repr__`, `__eq__`, frozen
`__setattr__`...): about a thousand small `exec` calls, 60-70 ms of every start of
`auditor check`, most of a pre-commit run on one file. The generated text is the same
on every run, so, like Python's own `__pycache__`, we keep the compiled code objects in
a file beside this package and, while libcst is imported, hand `dataclasses` a version
of `exec` that looks the text up there before compiling it.

Only the `exec` that `dataclasses` itself sees is replaced, and only for the duration of
the import; the code objects are exactly what `exec(text)` would compile (same file name
`<string>`, no inherited compiler flags), so the classes are identical. Anything
unexpected (an unreadable or foreign cache, a read-only install, a `dataclasses` that
no longer calls `exec`) leaves the ordinary import.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import types
from typing import Optional

# The code objects belong to this interpreter build: the magic number changes whenever
# the bytecode format does, and the cache tag names the implementation and version.
_HEADER = b"auditor-dataclass-code\n" + importlib.util.MAGIC_NUMBER
_CACHE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                           f"libcst-classes.{sys.implementation.cache_tag}.marshal")


def import_libcst(cache_file: Optional[str] = _CACHE_FILE) -> Optional[int]:
    """Import libcst, reusing compiled class code if we can; a no-op when it already is.

    Also gives the node classes C-level identity (`_identity_in_c`) and cheaper
    constructors (auditor/node_init.py), whose generated code goes through the same cache.
    Returns how many generated methods had to be compiled (0: all came from the cache),
    None when libcst was imported already. `cache_file=None`: no cache file.
    """
    if "libcst" in sys.modules:
        return None
    cache = _CodeCache(cache_file)
    _import_with_code_cache(cache)
    classes = node_classes()
    _identity_in_c(classes)
    from auditor import node_init

    node_init.install(classes, cache.compile)
    cache.store_if_changed()
    return cache.compiled


class _CodeCache:
    """Code objects compiled from generated source text, kept in `cache_file` between runs."""

    def __init__(self, cache_file: Optional[str]) -> None:
        self.cache_file = cache_file
        self.known = _load(cache_file) if cache_file is not None else {}
        self.used: dict[str, types.CodeType] = {}
        self.compiled = 0

    def compile(self, source: str) -> types.CodeType:
        code = self.known.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.compiled += 1
        self.used[source] = code
        return code

    def store_if_changed(self) -> None:
        # Rewrite only when something had to be compiled: the file then holds exactly what
        # this libcst needs, and a stale one (another libcst version) is replaced.
        if self.compiled and self.cache_file is not None and not sys.dont_write_bytecode:
            _store(self.cache_file, self.used)


def _import_with_code_cache(cache: _CodeCache) -> None:
    import dataclasses

    if cache.cache_file is None or "exec" in vars(dataclasses):  # someone else shadows it: leave it
        importlib.import_module("libcst")
        return

    def exec_cached(source, globals=None, locals=None):
        if type(source) is not str:
            return exec(source, globals, locals)
        return exec(cache.compile(source), globals, locals)

    dataclasses.exec = exec_cached
    try:
        importlib.import_module("libcst")
    finally:
        del dataclasses.exec


def node_classes() -> list[type]:
    """libcst's node base and every class below it (libcst must be imported)."""
    import libcst

    classes, todo = [], [libcst.CSTNode]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


# Where libcst defines its tokens (operators, punctuation) and whitespace.
_TOKEN_MODULES = ("libcst._nodes.whitespace", "libcst._nodes.op")
_BRACKETS = ("LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket",
             "LeftCurlyBrace", "RightCurlyBrace", "Asynchronous")


def token_classes(classes: list[type]) -> set[type]:
    """The classes among `classes` whose nodes are tokens, brackets or whitespace.

    They carry layout, not meaning: the model never records them and no analysis asks
    where one of them is. Two with equal fields are interchangeable.
    """
    import libcst

    brackets = {getattr(libcst, name, None) for name in _BRACKETS}
    return {c for c in classes if c.__module__ in _TOKEN_MODULES or c in brackets}


def _identity_in_c(classes: list[type]) -> None:
    """Give libcst's nodes object's own hash and equality, which are implemented in C.

    A node's `__hash__` (`id(self)`) and `__eq__` (`self is other`) are Python methods
    that libcst copies into every node class; the model and the flow analysis key
    dictionaries by node hundreds of thousands of times per check, each a Python call
    (about 3% of a check). object's versions mean the same, identity, without the call.
    Done right after libcst's import, before any node exists or is hashed, and only when
    this function imported libcst (hashes held elsewhere would otherwise go stale).
    """
    originals = {name: classes[0].__dict__.get(name) for name in ("__hash__", "__eq__")}
    for cls in classes:
        for name, original in originals.items():
            if original is not None and cls.__dict__.get(name) is original:
                setattr(cls, name, getattr(object, name))


def _load(cache_file: str) -> dict[str, types.CodeType]:
    try:
        with open(cache_file, "rb") as handle:
            data = handle.read()
        if not data.startswith(_HEADER):
            return {}
        table = marshal.loads(data[len(_HEADER):])
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if type(table) is not dict:
        return {}
    return {k: v for k, v in table.items() if type(k) is str and type(v) is types.CodeType}


def _store(cache_file: str, table: dict) -> None:
    from auditor.atomic import write_atomically

    try:
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        write_atomically(cache_file, _HEADER + marshal.dumps(table))
    except (OSError, ValueError):  # a read-only install: the next run compiles again
        pass
