"""What a rule sees of one file, and how it reports."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

import libcst as cst

from auditor.files import SourceFile
from auditor.findings import Finding, Fix

if TYPE_CHECKING:
    from auditor.analysis import FileModel
    from auditor.rule import Rule

_NEWLINE = re.compile(r"\r\n?|\n")


def _statement_classes() -> frozenset:
    found, todo = set(), [cst.SimpleStatementLine, cst.BaseCompoundStatement]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return frozenset(found)


# Where `# noqa` may sit: exact classes, so the scan needs no ABC isinstance per node.
_STATEMENTS = _statement_classes()


class _Computed:
    """Stands in for libcst's position provider: the codegen state writes ranges here."""

    __slots__ = ("_computed",)

    def __init__(self) -> None:
        self._computed: dict = {}


class FileContext:
    """One parsed file: its source, its tree, the lazily built model, and `report`.

    Positions are resolved only when a file reports a finding (most files report
    none), and then only for the top-level statement that holds the reported node:
    that statement alone is generated with libcst's position-recording codegen (the
    same code as its PositionProvider), and its first line is where its text occurs,
    once, in the source (libcst reproduces the source exactly). When that cannot be
    decided (the same text twice, a node outside any statement), the whole file's
    positions are resolved as libcst's PositionProvider does.
    """

    def __init__(self, source: SourceFile, module: cst.Module, project: Any = None) -> None:
        self.source = source
        self.module = module
        self.project = project  # cross-file summaries, when the engine has them
        self.findings: list[Finding] = []
        self.rule: Optional["Rule"] = None
        self._model: Optional["FileModel"] = None
        self._positions: Any = None  # the whole file's, once resolved
        # top-level statement -> (its nodes' ranges counted from line 1, lines to add), or None
        self._statements: dict = {}

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def model(self) -> "FileModel":
        if self._model is None:
            from auditor.analysis import build_file_model

            self._model = build_file_model(self.module)
        return self._model

    def position(self, node: cst.CSTNode):
        if self._positions is None:
            local = self._local(node)
            if local is not None:
                ranges, offset = local
                found = ranges.get(node)
                if found is not None:
                    return _shifted(found, offset)
            self._resolve_all()
        return self._positions[node]

    def _resolve_all(self) -> None:
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    def _top_statement(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        parents = self.model.parents
        module = self.module
        current = node
        while True:
            parent = parents.get(current)
            if parent is None:
                return None
            if parent is module:
                return current
            current = parent

    def _local(self, node: cst.CSTNode) -> Optional[tuple]:
        """(ranges, line offset) for the top-level statement holding `node`, or None."""
        top = self._top_statement(node)
        if top is None:
            return None
        if top in self._statements:
            return self._statements[top]
        from libcst.metadata.position_provider import PositionProvidingCodegenState

        holder = _Computed()
        state = PositionProvidingCodegenState(default_indent=self.module.default_indent,
                                              default_newline=self.module.default_newline,
                                              provider=holder)  # type: ignore[arg-type]
        top._codegen(state)
        code = "".join(state.tokens)
        text = self.source.text
        result = None
        start = text.find(code) if code else -1
        if start >= 0 and (start == 0 or text[start - 1] in "\r\n") and text.find(code, start + 1) < 0:
            prefix = text[:start]
            lines = len(_NEWLINE.findall(prefix)) if "\r" in prefix else prefix.count("\n")
            result = (holder._computed, lines)
        self._statements[top] = result
        return result

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def report(self, node: cst.CSTNode, message: str, *, fix: Optional[Fix] = None,
               end_node: Optional[cst.CSTNode] = None, rule: Optional["Rule"] = None) -> None:
        """Record a finding spanning `node` (to `end_node` when given) for the running rule."""
        rule = rule or self.rule
        assert rule is not None, "report() called outside a rule"
        start = self.position(node).start
        end = self.position(end_node or node).end
        self.findings.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity, path=self.path,
            line=start.line, column=start.column + 1, end_line=end.line, end_column=end.column + 1,
            message=message, fix=fix, statement_line=self._statement_line(node),
        ))

    def _statement_line(self, node: cst.CSTNode) -> int:
        """First line of the innermost statement holding `node` (where `# noqa` may also sit)."""
        target = self.position(node).start
        if self._positions is None:
            # Only the statements of `node`'s top-level statement can hold it.
            ranges, offset = self._local(node)
            spans = ranges.items()
            key = (target.line - offset, target.column)
        else:
            spans, offset = self._positions.items(), 0
            key = (target.line, target.column)
        best = None
        statements = _STATEMENTS
        for candidate, span in spans:
            if type(candidate) not in statements:
                continue
            start, end = span.start, span.end
            if (start.line, start.column) <= key <= (end.line, end.column):
                if best is None or (start.line, start.column) >= (best.line, best.column):
                    best = start
        return best.line + offset if best else target.line


def _shifted(span, lines: int):
    if not lines:
        return span
    from libcst._position import CodePosition, CodeRange

    return CodeRange(CodePosition(span.start.line + lines, span.start.column),
                     CodePosition(span.end.line + lines, span.end.column))
