"""auditor's optional C accelerator (auditor/speed/_speedups.c): inner loops of a check, in C.

- Node builders, while a file is parsed. libcst's native parser builds each node by
  calling its class with keyword arguments, and in Python that call runs the class's
  `__init__` (auditor/speed/node_init.py makes it cheaper but it is still a Python frame per
  node). A `Builder` allocates the node as `object.__new__` does and stores each field
  in its slot, from the keywords or the field's default, without `__post_init__`, the
  per-node validation that parsing skips anyway (auditor/speed/parsing.py). It hands anything
  it was not made for (positional arguments, an unknown keyword, a missing required
  field) to the class, which builds the node or raises Python's error. Builders are
  only made for classes whose fields are all slots set by `__init__` and whose objects
  `object.__new__` makes; other classes are called as usual.
- A namespace of those stand-ins, which takes `libcst`'s place in `sys.modules` while a
  file is parsed: the parser looks a class up there for every node it builds, and a
  module answers only after searching its type (auditor/speed/parsing.py).
- The model's walk (auditor/analysis/model.py, `_walk`): the pre-order walk
  over a tree's syntactic nodes that fills the parent links, with the same tables as
  the Python walk; the model's hooks still run in Python, in the same order.

The extension is optional (setup.py): without it, or with AUDITOR_NO_ACCELERATOR=1 in
the environment, `builder_for`, `namespace` and `walker` answer None and everything runs in Python,
with the same results.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from auditor.speed import node_init

try:
    from auditor.speed import _speedups
except ImportError:  # not compiled (no C compiler at install time): the Python path
    _speedups = None


def available() -> bool:
    return _speedups is not None and not os.environ.get("AUDITOR_NO_ACCELERATOR")


def builder_for(cls: type) -> Optional[object]:
    """A C builder of `cls` nodes, or None when `cls` is not a plain slotted dataclass."""
    if not available() or getattr(cls, "__abstractmethods__", None):
        return None
    fields = node_init.init_fields(cls)
    if fields is None:
        return None
    names, defaults, factories = [], [], []
    for field in fields:
        names.append(field.name)
        defaults.append(_speedups.REQUIRED if field.default is dataclasses.MISSING else field.default)
        factories.append(None if field.default_factory is dataclasses.MISSING else field.default_factory)
    try:
        return _speedups.Builder(cls, tuple(names), tuple(defaults), tuple(factories))
    except TypeError:  # a field that is no slot, or an object not made by object.__new__
        return None


def namespace(names: dict, fallback: object) -> Optional[object]:
    """An object whose attributes are `names` (as they are now), else `fallback`'s (see
    _speedups.c), or None."""
    return _speedups.Namespace(names, fallback) if available() else None


def walker():
    """The C walk (see auditor/speed/_speedups.c), or None: the model then walks in Python."""
    return _speedups.walk if available() else None
