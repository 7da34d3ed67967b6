"""The code `dataclasses` generates for classes' methods, compiled once and kept between runs.

For every dataclass, `dataclasses` writes the source text of its `__init__`, `__repr__`,
`__eq__` (and for a frozen one `__setattr__`...) and compiles it with `exec`, at every
start: about a thousand compilations for libcst's node classes, seventy for auditor's
own, most of what creating those classes costs. The text is the same on every run, so,
like Python's own `__pycache__`, the compiled code objects are kept in a file beside
this package, and inside a `generated_code_cached` block `dataclasses` is handed a
version of `exec` that looks the text up there before compiling it.

The code objects are exactly what `exec(text)` would compile (file name `<string>`, no
inherited compiler flags), so the classes are identical. Only the `exec` that
`dataclasses` itself sees is replaced, and only inside the block; anything unexpected
(an unreadable or foreign file, a read-only install, someone else's `dataclasses.exec`)
leaves the ordinary compile. Entries are grouped by the module whose class asked for
them: a module whose classes were made in this run keeps exactly the code they used
(what an older version of it needed goes), the others keep theirs, so runs that import
different modules do not undo each other; the file is rewritten only when something had
to be compiled.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import types
from contextlib import contextmanager
from typing import Iterator, Optional

# The code objects belong to this interpreter build: the magic number changes whenever
# the bytecode format does, and the cache tag names the implementation and version.
_HEADER = b"auditor-generated-code-2\n" + importlib.util.MAGIC_NUMBER
_PYCACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")

Table = dict[str, dict[str, types.CodeType]]  # module -> source text -> its code


def cache_file(name: str) -> str:
    """Where the cache called `name` lives: auditor's `__pycache__`, tagged for this Python."""
    return os.path.join(_PYCACHE, f"{name}.{sys.implementation.cache_tag}.marshal")


class CodeCache:
    """Code objects compiled from generated source text, kept in `path` between runs."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.known: Table = _load(path) if path is not None else {}
        self.used: Table = {}
        self.compiled = 0  # how many texts this process had to compile
        self._unsaved = False

    def compile(self, source: str, module: str = "") -> types.CodeType:
        """The code of `source`, from the file when it holds it; `module` asked for it."""
        code = self.known.get(module, {}).get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.compiled += 1
            self._unsaved = True
        self.used.setdefault(module, {})[source] = code
        return code

    def store_if_changed(self) -> None:
        if not self._unsaved or self.path is None or sys.dont_write_bytecode:
            return
        table = {**self.known, **self.used}
        _store(self.path, table)
        self.known, self._unsaved = table, False


@contextmanager
def generated_code_cached(cache: CodeCache) -> Iterator[None]:
    """Classes made inside take their generated methods' code from `cache` (saved on leaving).

    Blocks nest: an inner block of another cache uses its own and gives the outer one
    back; one of the same cache changes nothing. No cache file: the ordinary compile.
    """
    import dataclasses

    outer = vars(dataclasses).get("exec")
    outer_cache = getattr(outer, "code_cache", None)  # None: no hook, or someone else's
    if cache.path is None or (outer is not None and outer_cache is None) or outer_cache is cache:
        yield  # no file, someone else's hook, or this cache's own block further out
        return
    dataclasses.exec = _exec_from(cache)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if outer is None:
            del dataclasses.exec  # type: ignore[attr-defined]
        else:
            dataclasses.exec = outer  # type: ignore[attr-defined]
        cache.store_if_changed()


def _exec_from(cache: CodeCache):
    def exec_cached(source, globals=None, locals=None):
        if type(source) is not str:
            return exec(source, globals, locals)
        module = globals.get("__name__", "") if type(globals) is dict else ""
        return exec(cache.compile(source, module if type(module) is str else ""), globals, locals)

    exec_cached.code_cache = cache  # type: ignore[attr-defined]
    return exec_cached


_own: Optional[CodeCache] = None


def own_classes() -> CodeCache:
    """The cache of auditor's own classes, loaded once per process."""
    global _own
    if _own is None:
        _own = CodeCache(cache_file("auditor-classes"))
    return _own


def _load(path: str) -> Table:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if not data.startswith(_HEADER):
            return {}
        table = marshal.loads(data[len(_HEADER):])
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if type(table) is not dict:
        return {}
    return {module: {text: code for text, code in codes.items()
                     if type(text) is str and type(code) is types.CodeType}
            for module, codes in table.items() if type(module) is str and type(codes) is dict}


def _store(path: str, table: Table) -> None:
    from auditor.atomic import write_atomically

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, _HEADER + marshal.dumps(table))
    except (OSError, ValueError):  # a read-only install: the next run compiles again
        pass
