"""Which other checked files can change a file's findings, read from import statements.

Cross-file knowledge (the phase-1 summaries) flows both ways along imports: a file
learns about the helpers it imports, and a helper learns the context it is called in
from the files that import it (`ProjectIndex.call_contexts`). So a file's findings can
change only when a summary in its import-connected component changes. This module
over-approximates those components from the text alone, before any parse: every
identifier in an import statement (`from .engine import evaluate` gives `engine` and
`evaluate`), and every attribute taken of an imported name (`pkg.engine.evaluate()`
after `import pkg` gives `engine`), names candidate modules by their last component.
Over-approximation only costs a re-check; missing a dependency would serve stale
findings, so when in doubt a name is kept.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Mapping

from auditor.data_files import DATA_FILE_PREFIX, data_file_names
from auditor.fingerprint import blake2b

# This scan reads every file before anything else happens, so it is written for the
# regex engine: a statement starts after a newline or a semicolon (the text is scanned
# with a newline in front), a class of two characters the engine skips to in C, where
# `^` would be tried at every position. (No possessive quantifiers: Python reads them
# only from 3.11, and here they could not change a match, since the text after each
# repeat cannot start with what it consumed.)
_IMPORT = re.compile(
    r"[\n;][ \t]*(?:from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|(?:[^\n\\]|\\\n?)*)"
    r"|import[ \t]+((?:[^\n\\;]|\\\n?)*))"
)
_IDENTIFIER = re.compile(r"[^\W\d]\w*")


_LOOSE_IMPORT = re.compile(r"\b(?:from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[\w., \t]*)|import[ \t]+([\w., \t]*))")


def imported_names(text: str, notebook: bool = False) -> tuple[str, ...]:
    """Identifiers in the file's import statements, and attributes of imported names.

    Notebooks are scanned as raw JSON, where statements do not start lines: the
    unanchored pattern finds them inside the cell strings.
    """
    names: set[str] = set()
    matches = _LOOSE_IMPORT.finditer(text) if notebook else _IMPORT.finditer("\n" + text)
    for match in matches:
        for group in match.groups():
            if group:
                names.update(_IDENTIFIER.findall(group))
    names.discard("as")
    if names:
        names.update(_attributes(text, names))
    return tuple(sorted(names))


def _attributes(text: str, heads: set[str]) -> set[str]:
    """`attr` of every `head.attr` in `text` whose head is one of `heads`.

    The pairs are those a left-to-right scan for `identifier.identifier` finds (in
    `a.b.c.d`, `a.b` and `c.d`), but looked for only where a head occurs: a regular
    expression for any identifier pair is tried at every position of the file, which
    cost a fiftieth of a check.
    """
    found: set[str] = set()
    for head in heads:
        needle = head + "."
        start = text.find(needle)
        while start != -1:
            before = text[start - 1] if start else " "
            if not _is_word_character(before):
                attr = _IDENTIFIER.match(text, start + len(needle))
                if attr is not None and (before != "." or _starts_a_pair(text, start)):
                    found.add(attr.group())
            start = text.find(needle, start + 1)
    return found


def _starts_a_pair(text: str, start: int) -> bool:
    """Whether the identifier at `start`, right after a dot, begins a pair of the scan.

    A pair takes two identifiers of a dotted chain: the identifier begins one when an
    even number of identifiers come before it in the chain.
    """
    count, dot = 0, start - 1
    while dot >= 0 and text[dot] == ".":
        begin = dot
        while begin > 0 and _is_word_character(text[begin - 1]):
            begin -= 1
        if not _IDENTIFIER.fullmatch(text, begin, dot):
            break
        count += 1
        dot = begin - 1
    return count % 2 == 0


def _is_word_character(character: str) -> bool:
    """What the regex engine's `\\w` matches: a letter, a digit or an underscore."""
    return character.isalnum() or character == "_"


def may_be_a_part(names: tuple, data: bytes) -> bool:
    """A file importing nothing, or using torch without importing it: perhaps a part of a
    lesson, run in the namespace of the other files of its directory (see `add_peers`)."""
    names = tuple(name for name in names if not name.startswith(DATA_FILE_PREFIX))  # data files are no imports
    return not names or ("torch" not in names and (b"torch." in data or b"nn." in data))


def scan_imports(path: str, data: bytes) -> tuple[str, ...]:
    """Import names, and the data files the file reads or writes (`file:clean.csv`): a file
    name links a module writing fitted data to one reading it back (auditor/data_files.py)."""
    text = data.decode("utf-8", "replace")
    files = tuple(DATA_FILE_PREFIX + name for name in data_file_names(text))
    return imported_names(text, notebook=path.endswith(".ipynb")) + files


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
        self._by_file: dict[str, list[str]] = {}  # data file name -> files naming it
        self._by_directory: "dict[str, list[str]] | None" = None

    def add(self, path: str, names: Iterable[str]) -> None:
        """Record a file's import names: an edge each way to every file they may name. A data
        file's name (`file:clean.csv`) links the files naming it (see auditor/data_files.py)."""
        for name in names:
            if name.startswith(DATA_FILE_PREFIX):
                self._by_file.setdefault(name, []).append(path)
                continue
            for target in self._by_last.get(name, ()):
                if target != path:
                    self.edges[path].append(target)
                    self.edges[target].append(path)

    def add_peers(self, path: str, limit: int = 64) -> None:
        """A file importing nothing may be a part of a lesson run after the other files of its
        directory, in their namespace (analysis/module_objects.py): an edge each way to every
        file of the directory (none in a directory of more than `limit` files)."""
        if self._by_directory is None:
            self._by_directory = {}
            for other in self.edges:
                self._by_directory.setdefault(os.path.dirname(other), []).append(other)
        peers = self._by_directory.get(os.path.dirname(path), ())
        if len(peers) > limit:
            return
        for target in peers:
            if target != path:
                self.edges[path].append(target)
                self.edges[target].append(path)

    def finish(self) -> None:
        for paths in self._by_file.values():
            for other in paths[1:]:  # a star: one component, few edges
                if other != paths[0]:
                    self.edges[paths[0]].append(other)
                    self.edges[other].append(paths[0])
        for path, targets in self.edges.items():
            self.edges[path] = sorted(set(targets))

    def connected(self) -> set[str]:
        """Files that share knowledge with another file of the run (the others need none)."""
        return {path for path, targets in self.edges.items() if targets}

    def dependency_digests(self, digests: Mapping[str, str]) -> dict[str, str]:
        """Per file, one digest of the summaries of its component ("" for a file alone).

        Linear in the graph (edges go both ways, so Tarjan's components are the
        connected ones); a summary change anywhere in a component shows in all of it.
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
        return {path: (memo[component_of[path]] if targets else "") for path, targets in self.edges.items()}


def _hash(parts: list[str]) -> str:
    return blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


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
