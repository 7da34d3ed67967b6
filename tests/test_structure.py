"""The layout facts docs/architecture.md promises, read from the source (nothing imported).

- no import cycle among auditor, rules and reference_loop;
- the kernel never imports rules or reference_loop (only the command line does, lazily);
- torch, scikit-learn and numpy are imported only in reference_loop (and the command modules
  that hand over to it);
- the speed machinery is reached only through `auditor.speed`'s interface, and only
  auditor/speed touches libcst's private modules or private code generation;
- one definition of a model class.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("auditor", "rules", "reference_loop")
# The command line and the docs generator are the face: they hand rules to the engine
# and start reference_loop, importing them lazily.
FACE = {"auditor.cli", "auditor.__main__", "auditor.docs_gen", "auditor.commands", "auditor.commands.run",
        "auditor.commands.train"}
HEAVY = ("torch", "sklearn", "numpy", "scipy", "pandas")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every import statement, at any depth, except under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST) -> Iterator[ast.stmt]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imported(module: str, top_level_only: bool = False) -> Iterator[tuple[str, Optional[str], int]]:
    """(module, name taken from it or None, line) for each import in `module`'s file.

    `from pkg import sub` gives ("pkg", "sub", line) whether `sub` is a module or not.
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    statements = (n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))) if top_level_only \
        else _imports(tree)
    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        else:
            base = _absolute(module, node)
            for alias in node.names:
                yield base, alias.name, node.lineno


def _own(name: str) -> Optional[str]:
    """The project module `name` resolves to (a package for `pkg.attr`), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for base, name, _ in imported(module):
            own = _own(f"{base}.{name}" if name else base)
            if own and own != module:
                graph[module].add(own)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_kernel_never_imports_rules_or_reference_loop():
    offenders = [(module, base, line) for module in MODULES
                 if module.startswith("auditor") and module not in FACE
                 for base, _, line in imported(module) if base.split(".")[0] in ("rules", "reference_loop")]
    assert offenders == []


def test_torch_and_scikit_learn_only_in_reference_loop():
    # The commands that start the runtime part (`auditor run`, `auditor train`) may import
    # torch inside the command, after checking the runtime extra is installed; nothing
    # else outside reference_loop may import it at all.
    offenders = [(module, target, line) for module in MODULES if not module.startswith("reference_loop")
                 for target, _, line in imported(module, top_level_only=module.startswith("auditor.commands"))
                 if target.split(".")[0] in HEAVY]
    assert offenders == []


def test_speed_machinery_only_through_its_interface():
    import auditor.speed as speed

    offenders = []
    for module in MODULES:
        if module.startswith("auditor.speed"):
            continue
        for base, name, line in imported(module):
            if base.startswith("auditor.speed."):
                offenders.append((module, base, line))
            elif base == "auditor.speed" and name not in speed.__all__:
                offenders.append((module, name, line))
    assert offenders == []


# `libcst._nodes`, `libcst._position`... and the private code generation methods.
_PRIVATE_LIBCST = re.compile(r"\blibcst\._|\._codegen\(|\._get_tokens?\(")


def test_only_auditor_speed_touches_libcst_internals():
    offenders = [f"{module}:{number}" for module, path in MODULES.items() if not module.startswith("auditor.speed")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if _PRIVATE_LIBCST.search(line.split("#", 1)[0])]
    assert offenders == []


@pytest.mark.parametrize("function", ["is_module_class", "is_torch_nn_class"])
def test_one_definition_of_a_model_class(function):
    definitions = [module for module, path in MODULES.items()
                   for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.FunctionDef) and node.name == function]
    assert definitions == ["auditor.analysis.roles"]


def test_the_speed_interface_resolves_every_name():
    import auditor.speed as speed

    for name in speed.__all__:
        assert getattr(speed, name) is not None, name
