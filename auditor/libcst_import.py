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

    Returns how many generated methods had to be compiled (0: all came from the cache),
    None when libcst was imported already. `cache_file=None`: an ordinary import.
    """
    if "libcst" in sys.modules:
        return None
    compiled = _import_with_code_cache(cache_file)
    _identity_in_c()
    return compiled


def _import_with_code_cache(cache_file: Optional[str]) -> int:
    import dataclasses

    if cache_file is None or "exec" in vars(dataclasses):  # someone else shadows it: leave it
        importlib.import_module("libcst")
        return 0
    known = _load(cache_file)
    used: dict[str, object] = {}
    compiled = 0

    def exec_cached(source, globals=None, locals=None):
        nonlocal compiled
        if type(source) is not str:
            return exec(source, globals, locals)
        code = known.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            compiled += 1
        used[source] = code
        return exec(code, globals, locals)

    dataclasses.exec = exec_cached
    try:
        importlib.import_module("libcst")
    finally:
        del dataclasses.exec
    # Rewrite only when something had to be compiled: the file then holds exactly what
    # this libcst needs, and a stale one (another libcst version) is replaced.
    if compiled and not sys.dont_write_bytecode:
        _store(cache_file, used)
    return compiled


def _identity_in_c() -> None:
    """Give libcst's nodes object's own hash and equality, which are implemented in C.

    A node's `__hash__` (`id(self)`) and `__eq__` (`self is other`) are Python methods
    that libcst copies into every node class; the model and the flow analysis key
    dictionaries by node hundreds of thousands of times per check, each a Python call
    (about 3% of a check). object's versions mean the same, identity, without the call.
    Done right after libcst's import, before any node exists or is hashed, and only when
    this function imported libcst (hashes held elsewhere would otherwise go stale).
    """
    try:
        from libcst._nodes.base import CSTNode
    except ImportError:  # another layout: keep libcst's methods
        return
    originals = {name: CSTNode.__dict__.get(name) for name in ("__hash__", "__eq__")}
    classes, todo = [], [CSTNode]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        for name, original in originals.items():
            if original is not None and cls.__dict__.get(name) is original:
                setattr(cls, name, getattr(object, name))


def _load(cache_file: str) -> dict:
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
