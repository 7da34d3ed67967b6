"""The `val-to-test` operator: the validation data of an epoch loop swapped for the test data.

The bug as authors write it: a script that builds train, validation and test data, and whose
per-epoch evaluation (the call that scores the model, the inner loop over the held-out batches,
the `if` that keeps the best epoch) reads the test data instead of the validation data. The
operator swaps, inside a loop that trains, every validation reference of one statement
(`evaluate(model, val_loader)`, `model(x_val)`, `loaders['val']`, `for x, y in val_loader:`,
`for phase in ['train', 'val']:`) for its test counterpart, and only where the module already
binds that counterpart (`test_loader`, `x_test`, `self.test_loader`, a `'test'` key): the
mutant reads data the script really has. Whether that counterpart is a real test split
(built from test files, `train=False`, the second result of `train_test_split`) is for the
reviewer of a survivor to confirm, as whether a decision reads the swapped score.
"""

from __future__ import annotations

import re
from typing import Optional

import libcst as cst

# Validation spellings, longest first so that `valid` is not read as `val` + `id`.
_VALIDATION = re.compile(r"validation|valid|val|dev", re.IGNORECASE)
_VALIDATION_KEYS = {"val", "valid", "validation", "dev"}
# What makes a loop one that trains (cheap, textual: the reviewer judges the rest).
_TRAINING_MARKS = re.compile(r"\.backward\(|\.step\(|\btrain\w*\(")


def _test_spelling(found: str) -> str:
    if found.isupper():
        return "TEST"
    return "Test" if found[0].isupper() else "test"


def test_counterparts(name: str) -> list:
    """The names `name` becomes with one of its validation spellings read as test."""
    return [name[:m.start()] + _test_spelling(m.group()) + name[m.end():] for m in _VALIDATION.finditer(name)]


class _Bindings(cst.CSTVisitor):
    """What a scope binds before its loops run (data is built before the epoch loop; a name
    bound inside a loop is a result, `loss_test`): its names (not those of nested functions),
    and, over the whole module, the attribute names it assigns and the string constants it holds."""

    def __init__(self, scope: cst.CSTNode) -> None:
        self.scope = scope
        self.names: set = set()
        self.attributes: set = set()
        self.strings: set = set()
        self._loops = 0
        self._nested = 0  # inside a function or class nested in the scope

    def _target(self, target: cst.BaseExpression) -> None:
        if self._loops:
            return
        if isinstance(target, cst.Name):
            if not self._nested:
                self.names.add(target.value)
        elif isinstance(target, cst.Attribute):
            self.attributes.add(target.attr.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.For, cst.While)):
            self._target(node.target) if isinstance(node, cst.For) else None
            self._loops += 1
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) and node is not self.scope:
            self._nested += 1
        return super().on_visit(node)

    def on_leave(self, node: cst.CSTNode) -> None:
        if isinstance(node, (cst.For, cst.While)):
            self._loops -= 1
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) and node is not self.scope:
            self._nested -= 1
        super().on_leave(node)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._target(node.asname.name)

    def visit_Param(self, node: cst.Param) -> None:
        if self._nested == 0:
            self.names.add(node.name.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if not self._nested and not self._loops:
            bound = node.asname.name if node.asname is not None else node.name
            if isinstance(bound, cst.Name):
                self.names.add(bound.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        try:
            value = node.evaluated_value
        except Exception:  # an odd literal: not a key
            return
        if isinstance(value, str):
            self.strings.add(value)


class _Scoped:
    """The bindings a statement can read: its module's and those of the functions around it."""

    def __init__(self, names: set, attributes: set, strings: set) -> None:
        self.names, self.attributes, self.strings = names, attributes, strings


class _Swap(cst.CSTTransformer):
    """Every validation reference read in the visited code, swapped for its bound test counterpart.
    What is not data stays: assignment and loop targets (`val_loss = evaluate(model, test_loader)`
    keeps its name, so the decision that reads `val_loss` reads the test score), callee names
    (`validate(...)`), keyword names, attribute names other than the data's own."""

    def __init__(self, bindings: "_Scoped") -> None:
        self.bindings = bindings
        self.swapped = 0
        self.kept: set = set()  # original nodes that are no data
        self.kept_attr: set = set()  # attributes whose own name is no data (`self.validate`)

    def _keep_all(self, tree: cst.CSTNode) -> None:
        kept = self.kept

        class Mark(cst.CSTVisitor):
            def on_visit(self, node: cst.CSTNode) -> bool:
                kept.add(node)
                return True

        tree.visit(Mark())

    def _counterpart(self, name: str, bound: set) -> Optional[str]:
        return next((c for c in test_counterparts(name) if c in bound and c != name), None)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._keep_all(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._keep_all(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._keep_all(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._keep_all(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._keep_all(node.target)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._keep_all(node.params)

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.kept.add(node.keyword)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name):
            self.kept.add(node.func)
        elif isinstance(node.func, cst.Attribute):
            self.kept_attr.add(node.func)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.kept.add(node.attr)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        if original in self.kept:
            return updated
        new = self._counterpart(updated.value, self.bindings.names)
        if new is None:
            return updated
        self.swapped += 1
        return updated.with_changes(value=new)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        if original in self.kept or original in self.kept_attr:
            return updated
        new = self._counterpart(updated.attr.value, self.bindings.attributes)
        if new is None:
            return updated
        self.swapped += 1
        return updated.with_changes(attr=cst.Name(new))

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
        if original in self.kept:
            return updated
        try:
            value = updated.evaluated_value
        except Exception:
            return updated
        if not isinstance(value, str) or value.lower() not in _VALIDATION_KEYS:
            return updated
        new = _test_spelling(value)
        if new not in self.bindings.strings:
            return updated
        self.swapped += 1
        return updated.with_changes(value=f"{updated.prefix}{updated.quote}{new}{updated.quote}")


def _swapped(node: cst.CSTNode, part: str, bindings: "_Scoped") -> Optional[cst.CSTNode]:
    """`node` with the validation references of its `part` swapped, or None when it has none."""
    swap = _Swap(bindings)
    if part == "whole":
        new = node.visit(swap)
    else:
        new = node.with_changes(**{part: getattr(node, part).visit(swap)})
    return new if swap.swapped else None


def may_have_val_to_test_sites(text: str) -> bool:
    """Whether a file can hold a site at all (parsing every file of a repository is the slow part)."""
    return "test" in text.lower() and _VALIDATION.search(text) is not None and _TRAINING_MARKS.search(text) is not None


def val_to_test_sites(module: cst.Module) -> list:
    """(statement, its mutant) for each statement inside a loop that trains whose validation
    data has a test counterpart in the module."""
    outer = _Bindings(module)
    module.visit(outer)
    sites = []
    scopes = [outer.names]  # the names of the module and of the functions around the visited node

    trains: dict = {}  # loop -> whether its text trains
    seen: dict = {}  # id of the innermost scope's names -> the statement's bindings

    def bindings() -> _Scoped:
        key = (len(scopes), id(scopes[-1]))
        if key not in seen:
            seen[key] = _Scoped(set().union(*scopes), outer.attributes, outer.strings)
        return seen[key]

    class Find(cst.CSTVisitor):
        def __init__(self) -> None:
            self.loops: list = []  # the loops around the visited node, in its function

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            own = _Bindings(node)
            node.visit(own)
            saved, self.loops = self.loops, []
            scopes.append(own.names)
            for statement in node.body.body:
                statement.visit(self)
            scopes.pop()
            self.loops = saved
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            saved, self.loops = self.loops, []
            for statement in node.body.body:
                statement.visit(self)
            self.loops = saved
            return False

        def _inside_training_loop(self) -> bool:
            if not self.loops:
                return False
            outermost = self.loops[0]
            if outermost not in trains:  # the loop's text, once per loop (not once per node in it)
                trains[outermost] = _TRAINING_MARKS.search(module.code_for_node(outermost)) is not None
            return trains[outermost]

        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                return super().on_visit(node)
            if self._inside_training_loop():
                mutant = self._mutant(node)
                if mutant is not None:
                    sites.append((node, mutant))
                    if not isinstance(node, (cst.If, cst.While)):
                        return False  # one mutant for an inner loop, not one per line of it
            if isinstance(node, (cst.For, cst.While)):
                self.loops.append(node)
            return True

        @staticmethod
        def _mutant(node: cst.CSTNode) -> Optional[cst.CSTNode]:
            if isinstance(node, cst.SimpleStatementLine):
                return _swapped(node, "whole", bindings())
            if isinstance(node, cst.For):
                # The inner loop over held-out batches, swapped whole (`len(val_loader)` too);
                # a loop that itself trains is the training loop, not an evaluation.
                # `for phase in ['train', 'val']:` trains and evaluates by phase: its list is the swap.
                if _swapped(node, "iter", bindings()) is None:
                    return None
                phases = isinstance(node.iter, (cst.List, cst.Tuple))
                if not phases and _TRAINING_MARKS.search(module.code_for_node(node)):
                    return None
                return _swapped(node, "whole", bindings())
            if isinstance(node, (cst.If, cst.While)):
                return _swapped(node, "test", bindings())
            return None

        def on_leave(self, node: cst.CSTNode) -> None:
            if self.loops and node is self.loops[-1]:
                self.loops.pop()

    module.visit(Find())
    return sites
