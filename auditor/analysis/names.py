"""Resolve local names to qualified names through imports and aliases.

`import torch.nn as nn` makes `nn.CrossEntropyLoss` read as `torch.nn.CrossEntropyLoss`;
`from torch.utils.data import DataLoader as DL` makes `DL` read as
`torch.utils.data.DataLoader`. Computed in the model's single pass instead of
libcst's QualifiedNameProvider, which costs many times the parse.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst


def dotted_name(node: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` for a Name/Attribute chain, else None."""
    # Exact types (libcst's Name and Attribute have no subclasses): an isinstance
    # against a libcst class goes through ABCMeta, and this runs for most nodes.
    if type(node) is _NAME:
        return node.value
    parts = []
    while type(node) is _ATTRIBUTE:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is _NAME:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


_NAME, _ATTRIBUTE = cst.Name, cst.Attribute


def _module_name(node) -> str:
    return dotted_name(node) or ""


class ImportTable:
    """Local binding -> qualified name, filled as import statements are visited."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = set()  # top-level packages imported anywhere in the file
        self.stars: list[str] = []  # modules imported with `from module import *`, as written

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = _module_name(alias.name)
            self.modules.add(full.split(".")[0])
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:
                top = full.split(".")[0]
                self.aliases.setdefault(top, top)

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative:
            base = "." * len(node.relative) + (_module_name(node.module) if node.module else "")
        else:
            base = _module_name(node.module) if node.module else ""
            self.modules.add(base.split(".")[0])
        if isinstance(node.names, cst.ImportStar):
            self.stars.append(base)
            return
        for alias in node.names:
            name = _module_name(alias.name)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.aliases[local] = f"{base}.{name}" if base else name

    def qualify(self, node: cst.BaseExpression) -> Optional[str]:
        """Qualified name of a Name/Attribute chain whose head is imported; else None."""
        return self.qualify_dotted(dotted_name(node))

    def qualify_dotted(self, dotted: Optional[str]) -> Optional[str]:
        """`nn.Module` -> `torch.nn.Module` when `nn` is an imported alias; else None."""
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        target = self.aliases.get(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target


# Submodules that only implement a package's top-level names: `torch.serialization.load`
# is `torch.load`, while `torch.jit.load` and `torch.hub.load` are other functions.
_TOP_LEVEL_HOMES = frozenset({"serialization", "functional", "_tensor", "random"})


def matches(qualified: Optional[str], *candidates: str) -> bool:
    """True if `qualified` is one of the candidates, tolerating re-export paths.

    torch exposes many objects under several paths (`torch.utils.data.DataLoader`,
    `torch.utils.data.dataloader.DataLoader`); candidates name the public path and we
    accept the same final name defined in a submodule of the candidate's module. For
    a package's top-level names only the implementation modules above count.
    """
    if qualified is None:
        return False
    plan = _MATCH_PLANS.get(candidates)
    if plan is None:
        plan = _match_plan(candidates)
    exact, modules_by_name = plan
    if qualified in exact:
        return True
    q_module, _, q_name = qualified.rpartition(".")
    for module in modules_by_name.get(q_name, ()):
        if not q_module.startswith(module + "."):
            continue
        if "." in module or q_module[len(module) + 1:] in _TOP_LEVEL_HOMES:
            return True
    return False


# Rules and the flow analysis ask `matches` of nearly every call with the same few
# candidate tuples: each is split once into (the candidates, final name -> modules).
_MATCH_PLANS: dict[tuple, tuple[frozenset, dict[str, list[str]]]] = {}


def _match_plan(candidates: tuple) -> tuple[frozenset, dict[str, list[str]]]:
    modules_by_name: dict[str, list[str]] = {}
    for candidate in candidates:
        module, _, name = candidate.rpartition(".")
        if module:
            modules_by_name.setdefault(name, []).append(module)
    if len(_MATCH_PLANS) >= 4096:  # callers pass constants; bounded all the same
        _MATCH_PLANS.clear()
    plan = _MATCH_PLANS[candidates] = (frozenset(candidates), modules_by_name)
    return plan


def resolve_import(module: str, qualified: str, is_package: bool = False) -> Optional[tuple[str, str]]:
    """(module, function) for a qualified callee like `.engine.evaluate` seen from `module`."""
    if "." not in qualified.lstrip("."):
        return None
    if qualified.startswith("."):
        level = len(qualified) - len(qualified.lstrip("."))
        parts = module.split(".")
        base = parts if is_package else parts[:-1]
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)] if level > 1 else base
        qualified = ".".join(base + [qualified.lstrip(".")])
    target, _, name = qualified.rpartition(".")
    return target, name
