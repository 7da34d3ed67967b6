"""Install wrappers and hooks so that every one of them can be taken out again.

Two tools: `Patches` remembers each attribute it replaces and each hook handle it gets,
and undoes them in reverse order; `on_import` runs a callback right after a module has
been executed for the first time, so the wrappers are in place before the user's
script binds `from sklearn.model_selection import train_test_split`, without importing
torch or scikit-learn for scripts that never use them.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType
from typing import Any, Callable, Optional

_MISSING = object()


class Patches:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def replace(self, owner: Any, name: str, new: Any) -> Any:
        """Set `owner.name = new`; return what was there (as looked up, inherited or not)."""
        own = owner.__dict__.get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        current = getattr(owner, name)
        setattr(owner, name, new)

        def undo() -> None:
            if own is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:  # pragma: no cover - removed meanwhile
                    pass
            else:
                setattr(owner, name, own)

        self._undo.append(undo)
        return current

    def handle(self, handle: Any) -> None:
        """A torch RemovableHandle (or anything with .remove())."""
        self._undo.append(handle.remove)

    def call_at_undo(self, fn: Callable[[], None]) -> None:
        self._undo.append(fn)

    def undo(self) -> None:
        while self._undo:
            fn = self._undo.pop()
            try:
                fn()
            except Exception:  # pragma: no cover - never let clean-up hide the script's result
                pass


class _NotifyingLoader(importlib.abc.Loader):
    """Wraps a module's real loader and reports once the module body has run."""

    def __init__(self, inner: Any, callback: Callable[[ModuleType], None]) -> None:
        self._inner, self._callback = inner, callback

    def create_module(self, spec: Any) -> Optional[ModuleType]:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        # Put the real loader back: importlib.resources and friends ask it for data.
        module.__loader__ = self._inner
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._inner
        self._callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Calls `callbacks[name](module)` right after `import name` first completes."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
        self._busy: set[str] = set()

    def on_import(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        module = sys.modules.get(name)
        if module is not None:
            callback(module)
        else:
            self._callbacks.setdefault(name, []).append(callback)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._callbacks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        callbacks = self._callbacks.pop(fullname)

        def notify(module: ModuleType) -> None:
            for cb in callbacks:
                cb(module)

        spec.loader = _NotifyingLoader(spec.loader, notify)
        return spec

    def install(self, patches: Patches) -> None:
        sys.meta_path.insert(0, self)

        def remove() -> None:
            if self in sys.meta_path:
                sys.meta_path.remove(self)

        patches.call_at_undo(remove)
