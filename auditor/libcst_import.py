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

libcst's own package code needs only two modules of `libcst.metadata` (its provider base
and wrapper), but importing them runs `libcst/metadata/__init__.py`, which imports every
provider (scopes, type inference, the full repo manager...), about a tenth of the import.
A check needs the package only when a finding's position takes the whole-file fallback
(one placed from its statement imports just the position provider's module), so the
package's `__init__` runs on the first name asked of it (`_defer_metadata`).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import types
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

# The code objects belong to this interpreter build: the magic number changes whenever
# the bytecode format does, and the cache tag names the implementation and version.
_HEADER = b"auditor-dataclass-code\n" + importlib.util.MAGIC_NUMBER
_CACHE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                           f"libcst-classes.{sys.implementation.cache_tag}.marshal")


def import_libcst(cache_file: Optional[str] = _CACHE_FILE) -> Optional[int]:
    """Import libcst, reusing compiled class code if we can; a no-op when it already is.

    Also gives the node classes C-level identity (`_identity_in_c`) and cheaper
    constructors (auditor/node_init.py), whose generated code goes through the same cache,
    and leaves `libcst.metadata`'s own code for its first use (`_defer_metadata`).
    Returns how many generated methods had to be compiled (0: all came from the cache),
    None when libcst was imported already. `cache_file=None`: no cache file.
    """
    if "libcst" in sys.modules:
        return None
    cache = _CodeCache(cache_file)
    metadata = _defer_metadata()
    try:
        _import_with_code_cache(cache)
    except BaseException:
        if metadata is not None and sys.modules.get(_METADATA) is metadata:
            del sys.modules[_METADATA]
        raise
    libcst = sys.modules["libcst"]
    if metadata is not None and "metadata" not in vars(libcst):
        # The import binds a submodule on its package only when it loads it; we made this one.
        libcst.metadata = metadata  # type: ignore[attr-defined]
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


_METADATA = "libcst.metadata"


def _defer_metadata() -> Optional[types.ModuleType]:
    """Put `libcst.metadata` into sys.modules without running its `__init__` yet.

    The module is the one the import would make from libcst's own spec for it (with
    `__path__`), so its submodules import as usual. The first name it lacks (PEP 562
    `__getattr__`, or `dir()`) runs the package's `__init__` in it; from then on it is
    the ordinary module. None, and nothing done, when the package is not found as
    expected: the ordinary import. Not guarded against a second thread asking during
    that load (auditor imports in one thread).
    """
    if _METADATA in sys.modules:
        return None
    try:
        spec = _metadata_spec()
    except Exception:  # whatever a finder raises, the ordinary import meets it again
        return None
    if (spec is None or spec.name != _METADATA or not spec.submodule_search_locations
            or not hasattr(spec.loader, "exec_module")):
        return None
    module = importlib.util.module_from_spec(spec)
    namespace = vars(module)

    def load() -> None:
        for name in hooks:
            namespace.pop(name, None)
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except ImportError as error:
            namespace.update(hooks)  # the next use runs it again
            if not _circular(error, module):
                raise
        except BaseException:
            namespace.update(hooks)
            raise

    def __getattr__(name: str) -> object:
        load()
        try:
            return namespace[name]
        except KeyError:
            raise AttributeError(f"module {_METADATA!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        load()
        return sorted(namespace)

    hooks = {"__getattr__": __getattr__, "__dir__": __dir__}
    namespace.update(hooks)
    sys.modules[_METADATA] = module
    return module


def _metadata_spec() -> Optional[ModuleSpec]:
    """The spec the import would find for `libcst.metadata`, without importing libcst."""
    parent = importlib.util.find_spec("libcst")
    if parent is None or not parent.submodule_search_locations:
        return None
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None:
            spec = find_spec(_METADATA, parent.submodule_search_locations, None)
            if spec is not None:
                return spec
    return None


def _circular(error: ImportError, package: types.ModuleType) -> bool:
    """Whether `error` is the package's `__init__` importing from a submodule still running.

    That submodule was imported first and asked the package for a name (libcst's
    reentrant_codegen does), where the ordinary import runs the package first. The names
    `__init__` imports before that submodule are defined by now (one it imports later
    would be missing, as in any circular import), the submodule goes on, and the
    package's next missing name runs `__init__` again, whole this time.
    """
    name = error.name or ""
    prefix = package.__name__ + "."
    return (name.startswith(prefix) and name in sys.modules
            and vars(package).get(name[len(prefix):]) is not sys.modules[name])


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
