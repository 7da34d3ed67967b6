"""libcst nodes built in C while a file is parsed, when the accelerator is compiled.

libcst's native parser builds each node by calling its class with keyword arguments,
and in Python that call runs the class's `__init__` (auditor/node_init.py makes it
cheaper but it is still a Python frame per node). `auditor._nodebuild.Builder` does
the same work in C: it allocates the node as `object.__new__` does and stores each field
in its slot, from the keywords or the field's default, without `__post_init__`, the
per-node validation that parsing skips anyway (auditor/parsing.py). About a twentieth
of a check, measured by benchmarks/instructions.py.

A builder hands anything it was not made for (positional arguments, an unknown keyword,
a missing required field) to the class, which builds the node or raises Python's
error. Builders are only made for classes whose fields are all slots set by `__init__`
and whose objects `object.__new__` makes; other classes are called as usual.

The extension is optional (setup.py): without it, or with AUDITOR_NO_ACCELERATOR=1 in
the environment, `builders()` is empty and nothing changes.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

try:
    from auditor import _nodebuild
except ImportError:  # not compiled (no C compiler at install time): the Python path
    _nodebuild = None


def available() -> bool:
    return _nodebuild is not None and not os.environ.get("AUDITOR_NO_ACCELERATOR")


def builder_for(cls: type) -> Optional[object]:
    """A C builder of `cls` nodes, or None when `cls` is not a plain slotted dataclass."""
    if not available() or not dataclasses.is_dataclass(cls) or getattr(cls, "__abstractmethods__", None):
        return None
    names, defaults, factories = [], [], []
    for field in dataclasses.fields(cls):
        if not field.init or getattr(field, "kw_only", False):
            return None
        names.append(field.name)
        defaults.append(_nodebuild.REQUIRED if field.default is dataclasses.MISSING else field.default)
        factories.append(None if field.default_factory is dataclasses.MISSING else field.default_factory)
    try:
        return _nodebuild.Builder(cls, tuple(names), tuple(defaults), tuple(factories))
    except TypeError:  # a field that is no slot, or an object not made by object.__new__
        return None
