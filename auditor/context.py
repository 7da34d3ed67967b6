"""What a rule sees of one file, and how it reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import libcst as cst

from auditor.files import SourceFile
from auditor.findings import Finding, Fix

if TYPE_CHECKING:
    from auditor.analysis import FileModel
    from auditor.rule import Rule


class FileContext:
    """One parsed file: its source, its tree, the lazily built model, and `report`.

    Positions come from libcst's PositionProvider, resolved only when a file
    first reports a finding (most files report none, and it costs about a parse).
    """

    def __init__(self, source: SourceFile, module: cst.Module, project: Any = None) -> None:
        self.source = source
        self.module = module
        self.project = project  # cross-file summaries, when the engine has them
        self.findings: list[Finding] = []
        self.rule: Optional["Rule"] = None
        self._model: Optional["FileModel"] = None
        self._positions: Any = None

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
            from libcst.metadata import MetadataWrapper, PositionProvider

            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self._positions[node]

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
        """First line of the statement holding `node` (where `# noqa` may also sit)."""
        target = self.position(node).start
        best = None
        for candidate, span in self._positions.items():
            if not isinstance(candidate, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                continue
            if (span.start.line, span.start.column) <= (target.line, target.column) <= (span.end.line, span.end.column):
                if best is None or (span.start.line, span.start.column) >= (best.line, best.column):
                    best = span.start
        return best.line if best else target.line
