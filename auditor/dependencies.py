"""Which other checked files a file may depend on, read from its import statements.

Cross-file knowledge (the phase-1 summaries) reaches a file only through what it
imports, so a file's findings can change only when the summary of a module it
imports (directly or through a chain) changes. This module over-approximates that
set from the text alone, without a parse: every identifier in an import statement
(`from .engine import evaluate` gives `engine` and `evaluate`) names a candidate
module by its last component. Over-approximation only costs a re-check; missing a
dependency would serve stale findings, so when in doubt a name is kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Mapping

_IMPORT = re.compile(
    r"(?:^|;)[ \t]*(?:from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|(?:[^\n\\]|\\\n?)*)"
    r"|import[ \t]+((?:[^\n\\;]|\\\n?)*))",
    re.MULTILINE,
)
_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def imported_names(text: str) -> tuple[str, ...]:
    """Identifiers in the file's import statements, sorted, without duplicates."""
    names: set[str] = set()
    for match in _IMPORT.finditer(text):
        for group in match.groups():
            if group:
                names.update(_IDENTIFIER.findall(group))
    names.discard("as")
    return tuple(sorted(names))


class DependencyGraph:
    """Files of one run as a graph: an edge from a file to each file its import names match.

    Files are nodes (two scripts may share a module name); a name matches the files
    whose module name ends with it (`engine` matches `pkg.engine` and `engine`).
    """

    def __init__(self, modules: Mapping[str, str]) -> None:
        """`modules`: path -> module name, for every file of the run (known before parsing)."""
        self._by_last: dict[str, list[str]] = {}
        for path, module in modules.items():
            if module:
                self._by_last.setdefault(module.rsplit(".", 1)[-1], []).append(path)
        self.edges: dict[str, list[str]] = {path: [] for path in modules}

    def add(self, path: str, names: Iterable[str]) -> bool:
        """Record a file's import names; True if it may depend on another file of the run."""
        targets: set[str] = set()
        for name in names:
            targets.update(self._by_last.get(name, ()))
        targets.discard(path)
        self.edges[path] = sorted(targets)
        return bool(targets)

    def depends_on_others(self, path: str) -> bool:
        return bool(self.edges.get(path))

    def dependency_digests(self, digests: Mapping[str, str]) -> dict[str, str]:
        """Per file, one digest of the summaries of everything it may depend on.

        Linear in the graph: strongly connected components (import cycles) are
        collapsed, and each component's digest folds its members' summary digests
        and its successors' digests, so a change anywhere downstream shows upstream.
        """
        component_of = _components(self.edges)
        members: dict[int, list[str]] = {}
        for path, component in component_of.items():
            members.setdefault(component, []).append(path)
        memo: dict[int, str] = {}
        # Tarjan numbers components in reverse topological order (successors first),
        # so walking them by increasing number finds every successor's digest ready.
        for component in sorted(members):
            own = sorted(digests.get(p, "-") for p in members[component])
            successors = sorted({component_of[t] for p in members[component] for t in self.edges[p]} - {component})
            memo[component] = _hash(own + [memo[s] for s in successors])
        out = {}
        for path, targets in self.edges.items():
            if not targets:
                out[path] = ""
                continue
            successors = sorted({component_of[t] for t in targets})
            out[path] = _hash([memo[s] for s in successors])
        return out


def _hash(parts: list[str]) -> str:
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _components(edges: Mapping[str, list[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    components = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = components
                    if member == node:
                        break
                components += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component
