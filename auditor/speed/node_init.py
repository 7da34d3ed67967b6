"""Cheaper constructors for libcst's node classes, with validation that can be paused.

libcst's parser builds a file's tree by calling each node class, about two thousand
times per hundred lines, and every call runs the `__init__` that `dataclasses` wrote
for a frozen class: one `object.__setattr__(self, 'field', value)` per field, then
`self.__post_init__()`, which validates the node. For slotted classes the same stores
can go straight to each field's slot descriptor, and a tree coming out of libcst's own
parser needs no validation (see auditor/speed/parsing.py). Both save about a tenth of a parse.

`install()` gives each node class an `__init__` with the same parameters, defaults and
default factories, that stores through the slot descriptors and calls `__post_init__`
unless `paused_validation()` is in effect. A class whose fields are not all plain slotted
`init` fields keeps the one `dataclasses` wrote. The original is kept as `__wrapped__`,
so `inspect.signature` still shows its annotations.
"""

from __future__ import annotations

import dataclasses
import types
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

# The generated functions read `_validate` from this dict, their globals.
_GLOBALS: dict = {"_validate": True, "__builtins__": __builtins__}
_installed = False

Compile = Callable[[str], types.CodeType]


def install(node_classes: list[type], compile_source: Compile) -> int:
    """Replace the dataclass `__init__` of each of `node_classes` that allows it.

    `compile_source(text)` compiles a generated source (the caller caches the code).
    Returns how many classes got the new constructor.
    """
    global _installed
    replaced = 0
    for cls in node_classes:
        original = cls.__dict__.get("__init__")
        plan = _plan(cls) if original is not None else None
        if plan is None:
            continue
        source, values = plan
        scope: dict = {}
        exec(compile_source(source), _GLOBALS, scope)
        init = scope["make"](*values)
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        init.__module__ = cls.__module__
        init.__wrapped__ = original
        cls.__init__ = init
        replaced += 1
    _installed = _installed or replaced > 0
    return replaced


def installed() -> bool:
    return _installed


@contextmanager
def paused_validation() -> Iterator[None]:
    """No node built inside the block is validated (`__post_init__` is not called)."""
    previous = _GLOBALS["_validate"]
    _GLOBALS["_validate"] = False
    try:
        yield
    finally:
        _GLOBALS["_validate"] = previous


def init_fields(cls: type) -> Optional[tuple]:
    """`cls`'s dataclass fields when its `__init__` takes every one of them, by position or
    keyword (no `init=False` field, no keyword-only one); None otherwise. The constructors
    here and auditor/speed/speedups.py's builders are made only for such classes."""
    if not dataclasses.is_dataclass(cls):
        return None
    fields = dataclasses.fields(cls)
    if any(not field.init or getattr(field, "kw_only", False) for field in fields):
        return None
    return fields


def _plan(cls: type) -> Optional[tuple[str, list]]:
    """(source of a factory taking `values`, values) for `cls`'s constructor, or None."""
    fields = init_fields(cls)
    if fields is None:
        return None
    params, body = [], []
    bound: dict[str, object] = {}  # the factory's parameters: name -> value, in order
    for field in fields:
        setter = _slot_setter(cls, field.name)
        if setter is None:
            return None
        name = field.name
        bound[f"_set_{name}"] = setter
        if field.default is not dataclasses.MISSING:
            bound[f"_default_{name}"] = field.default
            params.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            # As dataclasses does it: a marker default, replaced by a fresh value per call.
            bound[f"_factory_{name}"] = field.default_factory
            bound["_MISSING"] = dataclasses.MISSING
            params.append(f"{name}=_MISSING")
            body.append(f"  if {name} is _MISSING: {name} = _factory_{name}()")
        else:
            params.append(name)
        body.append(f"  _set_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):  # dataclasses calls it only when the class has one
        body.append("  if _validate: self.__post_init__()")
    if not body:
        return None
    source = (f"def make({', '.join(bound)}):\n"
              f" def __init__(self{''.join(', ' + p for p in params)}):\n"
              + "\n".join(" " + line for line in body) + "\n"
              " return __init__\n")
    return source, list(bound.values())


def _slot_setter(cls: type, name: str):
    """The `__set__` of the slot holding field `name`, or None when it is not a slot."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            descriptor = klass.__dict__[name]
            if type(descriptor) is types.MemberDescriptorType:
                return descriptor.__set__
            return None
    return None
