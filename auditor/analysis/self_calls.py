"""Grad mode at `self.name(...)` calls, for the by-name fallback of method_names.py.

A `self.predict(x)` call inside class `ERM` can only reach a `predict` of `ERM`'s own family:
the class itself, a base it inherits from, or a subclass overriding it (a template method).
It never reaches `DANN.predict` when `DANN` and `ERM` are siblings under one `Algorithm`
base (a DomainBed-style zoo, where each algorithm's `predict` is called by a generic
`accuracy(network, loader)` under `no_grad`). So the by-name fallback counts a `self.` call
only for methods of a related class: phase 1 records, per file, the grad mode of each
`self.name(...)` call by the class it is in, and each class's bases by their last names; the
project index relates classes by those names (see `SelfCallIndex`).
"""

from __future__ import annotations

from typing import Iterable, Optional

from auditor.analysis.model import FileModel

OFF, ON = "off", "on"


def self_method_calls(model: FileModel, skip: frozenset) -> dict:
    """{"bases": {class: [base last names]}, "grads": {method name: {class: "off"/"on"}}} for
    this file's classes and its `self.name(...)` calls made in their methods."""
    from auditor.analysis.method_names import call_is_off, is_self_call

    bases = {cls.name: sorted({b.rsplit(".", 1)[-1] for b in cls.bases}) for cls in model.class_info.values()}
    grads: dict = {}
    for site in model.calls:
        if site.method is None or site.method in skip or not is_self_call(site):
            continue
        cls = model.class_of(site.function)
        if cls is None:
            continue
        verdict = OFF if call_is_off(model, site.node, site.function) else ON
        per_class = grads.setdefault(site.method, {})
        per_class[cls.name] = ON if per_class.get(cls.name) == ON else verdict
    if not grads:
        return {}
    return {"bases": bases, "grads": grads}


class SelfCallIndex:
    """The run's `self.name(...)` calls by class, and its classes' bases, read once."""

    def __init__(self, summaries: Iterable) -> None:
        self.bases: dict = {}
        self.calls: dict = {}  # name -> {class: grad}
        for summary in summaries:
            recorded = getattr(summary, "self_method_calls", None) or {}
            for owner, names in (recorded.get("bases") or {}).items():
                self.bases.setdefault(owner, set()).update(names)
            for name, per_class in (recorded.get("grads") or {}).items():
                merged = self.calls.setdefault(name, {})
                for owner, grad in per_class.items():
                    merged[owner] = ON if merged.get(owner) == ON or grad == ON else OFF

    def related_grad(self, name: str, cls: str) -> Optional[str]:
        """The grad mode of the `self.name(...)` calls made in `cls`, its ancestors or its
        descendants (by class name): ON when one runs with autograd on, None when none."""
        calls = self.calls.get(name)
        if not calls:
            return None
        family = _ancestors(cls, self.bases) | {cls}
        found = None
        for owner, grad in calls.items():
            if owner in family or cls in _ancestors(owner, self.bases):
                if grad == ON:
                    return ON
                found = OFF
        return found


def _ancestors(cls: str, bases: dict) -> set:
    seen: set = set()
    stack = list(bases.get(cls, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(bases.get(current, ()))
    return seen
