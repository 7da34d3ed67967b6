"""Import libcst with the compiled code of its node classes kept between runs.

About two thirds of `import libcst` was `dataclasses` compiling the source text it
generates for each node class (`__init__`, `__repr__`, `__eq__`, frozen
`__setattr__`...): about a thousand small `exec` calls, 60-70 ms of every start of
`auditor check`, most of a pre-commit run on one file. auditor/speed/generated_code.py keeps
the compiled code in a file beside this package and hands it to `dataclasses` while
libcst is imported.

libcst's own package code needs only two modules of `libcst.metadata` (its provider base
and wrapper), but importing them runs `libcst/metadata/__init__.py`, which imports every
provider (scopes, type inference, the full repo manager...), about a tenth of the import.
A check needs the package only when a finding's position takes the whole-file fallback
(one placed from its statement imports just the position provider's module), so the
package's `__init__` runs on the first name asked of it (`_defer_metadata`).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Optional

from auditor.speed.generated_code import CodeCache, generated_code_cached
from auditor.speed.generated_code import cache_file as _cache_file

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

_CACHE_FILE = _cache_file("libcst-classes")


def import_libcst(cache_file: Optional[str] = _CACHE_FILE) -> Optional[int]:
    """Import libcst, reusing compiled class code if we can; a no-op when it already is.

    Also gives the node classes C-level identity (`_identity_in_c`) and cheaper
    constructors (auditor/speed/node_init.py), whose generated code goes through the same cache,
    and leaves `libcst.metadata`'s own code for its first use (`_defer_metadata`).
    Returns how many generated methods had to be compiled (0: all came from the cache),
    None when libcst was imported already. `cache_file=None`: no cache file.
    """
    if "libcst" in sys.modules:
        return None
    cache = CodeCache(cache_file)
    metadata = _defer_metadata()
    try:
        with generated_code_cached(cache):
            importlib.import_module("libcst")
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
    from auditor.speed import node_init

    node_init.install(classes, cache.compile)
    cache.store_if_changed()
    return cache.compiled


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
