"""The per-file model that rules query, built in one traversal of the libcst tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

import libcst as cst

from auditor.analysis.names import ImportTable, dotted_name

Scope = Optional[Union[cst.FunctionDef, cst.ClassDef]]


@dataclass
class CallSite:
    node: cst.Call
    qualname: Optional[str]  # resolved through imports; None for local/unknown callees
    callee: Optional[str]  # the callee as written (`self.criterion`, `F.softmax`)
    function: Optional[cst.FunctionDef]  # innermost enclosing function


@dataclass
class Binding:
    target: str  # dotted target as written: `x`, `self.loader`
    value: cst.BaseExpression
    function: Optional[cst.FunctionDef]
    statement: cst.CSTNode


@dataclass
class FileModel:
    module: cst.Module
    imports: ImportTable = field(default_factory=ImportTable)
    calls: list[CallSite] = field(default_factory=list)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    functions: list[cst.FunctionDef] = field(default_factory=list)
    classes: list[cst.ClassDef] = field(default_factory=list)
    parents: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode):
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def values_of(self, target: str, function: Optional[cst.FunctionDef] = None) -> list[cst.BaseExpression]:
        """Values assigned to `target`, preferring the same function, then module level."""
        found = self.bindings.get(target, [])
        local = [b.value for b in found if b.function is function]
        if local or function is None:
            return local
        if target.startswith("self."):
            return [b.value for b in found]
        return [b.value for b in found if b.function is None]

    def qualify_call(self, call: cst.Call) -> Optional[str]:
        return self.imports.qualify(call.func)


class _Builder(cst.CSTVisitor):
    def __init__(self, model: FileModel) -> None:
        self.model = model
        self.stack: list[cst.CSTNode] = []
        self.functions: list[cst.FunctionDef] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.model.parents[node] = self.stack[-1]
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self.stack.pop()

    def visit_Import(self, node: cst.Import) -> None:
        self.model.imports.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.model.imports.add_import_from(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.model.functions.append(node)
        self.functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.model.classes.append(node)

    def _current_function(self) -> Optional[cst.FunctionDef]:
        return self.functions[-1] if self.functions else None

    def visit_Call(self, node: cst.Call) -> None:
        self.model.calls.append(CallSite(
            node=node,
            qualname=self.model.imports.qualify(node.func),
            callee=dotted_name(node.func),
            function=self._current_function(),
        ))

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression, statement: cst.CSTNode) -> None:
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
                and len(target.elements) == len(value.elements):
            for t, v in zip(target.elements, value.elements):
                self._bind(t.value, v.value, statement)
            return
        name = dotted_name(target)
        if name is not None:
            self.model.bindings.setdefault(name, []).append(
                Binding(target=name, value=value, function=self._current_function(), statement=statement))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value, node)


def build_file_model(module: cst.Module) -> FileModel:
    model = FileModel(module=module)
    module.visit(_Builder(model))
    return model
