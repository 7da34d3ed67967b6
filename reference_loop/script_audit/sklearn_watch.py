"""scikit-learn transformers and train_test_split, fingerprinted as they run.

Every transformer class (a subclass of sklearn's `_SetOutputMixin`, the base of
`TransformerMixin`, including ones defined after the audit starts) gets its own
`fit`, `partial_fit`, `fit_transform` and `transform` wrapped: fits record the rows the
statistics came from, transforms link output rows to input rows. Calls made inside
another wrapped call (a Pipeline step inside ColumnTransformer, `fit` inside
`fit_transform`) are left to the outer one.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import Any

from reference_loop.script_audit.frames import user_where
from reference_loop.script_audit.patching import ImportWatcher, Patches
from reference_loop.script_audit.rows import fingerprint
from reference_loop.script_audit.state import State

METHODS = ("fit", "partial_fit", "fit_transform", "transform")
_MARK = "_auditor_wrapped"


def install(st: State, patches: Patches, imports: ImportWatcher) -> None:
    imports.on_import("sklearn.base", lambda module: _patch_base(st, patches, module))
    imports.on_import("sklearn.model_selection._split", lambda module: _patch_split(st, patches, module))


def _record(st: State, est: Any, method: str, X: Any, out: Any) -> None:
    ledger = st.ledger
    label = type(est).__name__
    if method in ("fit", "partial_fit", "fit_transform"):
        hashes = fingerprint(X)
        if hashes is None:
            return
        ledger.fit(est, label, user_where(4) or ("<unknown>", 1), hashes, partial=method == "partial_fit")
        if method == "fit_transform":
            ledger.transformed(est, hashes, fingerprint(out))
    else:
        ledger.transformed(est, fingerprint(X), fingerprint(out))


def _wrap(st: State, patches: Patches, cls: type) -> None:
    for method in METHODS:
        original = cls.__dict__.get(method)
        if original is None or not callable(original) or getattr(original, _MARK, False):
            continue

        def make(method: str, original: Any) -> Any:
            @functools.wraps(original)
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                if st.in_sklearn or not st.active:
                    return original(self, *args, **kwargs)
                st.in_sklearn += 1
                try:
                    out = original(self, *args, **kwargs)
                finally:
                    st.in_sklearn -= 1
                X = args[0] if args else kwargs.get("X")
                if X is not None:
                    try:
                        _record(st, self, method, X, out)
                    except Exception:  # bookkeeping must never break the script
                        pass
                return out

            setattr(wrapper, _MARK, True)
            return wrapper

        patches.replace(cls, method, make(method, original))


def _subclasses(cls: type) -> list:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def _patch_base(st: State, patches: Patches, base: ModuleType) -> None:
    mixin = getattr(base, "_SetOutputMixin", None) or getattr(base, "TransformerMixin", None)
    if mixin is None:
        return
    for cls in _subclasses(mixin):
        _wrap(st, patches, cls)
    original = mixin.__dict__.get("__init_subclass__")
    if original is None:
        return
    func = original.__func__ if isinstance(original, classmethod) else original

    def init_subclass(cls: type, **kwargs: Any) -> None:
        func(cls, **kwargs)
        _wrap(st, patches, cls)

    patches.replace(mixin, "__init_subclass__", classmethod(init_subclass))


def _patch_split(st: State, patches: Patches, split_module: ModuleType) -> None:
    original = getattr(split_module, "train_test_split", None)
    if original is None:
        return

    @functools.wraps(original)
    def train_test_split(*arrays: Any, **options: Any) -> Any:
        result = original(*arrays, **options)
        if st.active and arrays:
            try:
                whole = fingerprint(arrays[0])
                train, test = fingerprint(result[0]), fingerprint(result[1])
                if whole is not None and train is not None and test is not None:
                    st.ledger.split("train_test_split", user_where(3) or ("<unknown>", 1), [train, test], whole=whole)
            except Exception:
                pass
        return result

    patches.replace(split_module, "train_test_split", train_test_split)
    package = sys.modules.get("sklearn.model_selection")
    if package is not None and getattr(package, "train_test_split", None) is original:
        patches.replace(package, "train_test_split", train_test_split)
