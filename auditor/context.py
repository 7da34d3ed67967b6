"""What a rule sees of one file, and how it reports."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

import libcst as cst

from auditor.files import SourceFile
from auditor.findings import Finding, Fix, Severity
from auditor.speed import shifted_range, statement_code_and_ranges

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


class FileContext:
    """One parsed file: its source, its tree, the lazily built model, and `report`.

    Positions are resolved only when a file reports a finding (most files report
    none), and then only for the innermost statement that holds the reported node:
    that statement alone is generated with libcst's position-recording codegen (the
    code of its PositionProvider), and its first line is where its text occurs, once,
    at a line start in the source (libcst reproduces the source exactly). When the
    text occurs twice, the next enclosing statement is tried; a node outside any
    statement gets the whole file's positions, resolved as PositionProvider does.
    """

    def __init__(self, source: SourceFile, module: cst.Module, project: Any = None,
                 module_name: Optional[str] = None, wants_fixes: bool = True) -> None:
        self.source = source
        self.module = module
        self.project = project  # cross-file summaries, when the engine has them
        self.findings: list[Finding] = []
        self.rule: Optional["Rule"] = None
        self._model: Optional["FileModel"] = None
        self._module_name = module_name
        self._positions: Any = None  # the whole file's, once resolved
        # statement -> (its nodes' ranges counted from line 1, lines to add), or None
        self._statements: dict = {}
        # What several rules compute alike for this file, computed by the first that asks
        # (keys name the rule module: "mode.eval_forwards").
        self.shared: dict = {}
        # False when the run shows no fix (text output): `make_fix` then builds none.
        self.wants_fixes = wants_fixes

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def module_name(self) -> str:
        """The file's dotted module name, computed once (a stat per enclosing package)."""
        if self._module_name is None:
            from auditor.analysis.project import module_name_for

            self._module_name = module_name_for(self.path)
        return self._module_name

    @property
    def model(self) -> "FileModel":
        if self._model is None:
            from auditor.analysis import build_file_model

            self._model = build_file_model(self.module)
            # The text as read: word searches need no rendering of the tree (a respelled
            # parse, tabs or Python 2 prints, keeps every identifier as written).
            self._model.cache["source_text"] = self.source.text
            self._model.cache["source_path"] = self.source.path  # where the file's own imports live
        return self._model

    def release(self) -> None:
        """The file is done: free its analyses now rather than at the next collection."""
        self.shared.clear()
        if self._model is not None:
            self._model.release()

    def position(self, node: cst.CSTNode):
        if self._positions is None:
            for statement in self._enclosing_statements(node):
                local = self._local(statement)
                if local is not None:
                    found = local[0].get(node)
                    if found is not None:
                        return shifted_range(found, local[1])
                    break
            self._resolve_all()
        return self._positions[node]

    def _resolve_all(self) -> None:
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    def _enclosing_statements(self, node: cst.CSTNode) -> list:
        """`node` (when a statement) and the statements holding it, innermost first."""
        parents = self.model.parents
        if node is not self.module and node not in parents:
            return []  # not part of the model's tree (a token, another tree)
        statements = _STATEMENTS
        found = []
        current = node
        while current is not None:
            if type(current) in statements:
                found.append(current)
            current = parents.get(current)
        return found

    def _local(self, statement: cst.CSTNode) -> Optional[tuple]:
        """(ranges counted from line 1, lines to add) for the nodes of `statement`, or None.

        The statement alone goes through libcst's position-recording codegen, with the
        indentation of the blocks around it; its first line is where that text occurs
        at a line start in the source, provided it occurs there exactly once.
        """
        if statement in self._statements:
            return self._statements[statement]
        module = self.module
        parents = self.model.parents
        indents = []
        current = parents.get(statement)
        while current is not None:
            if type(current) is cst.IndentedBlock:
                indents.append(module.default_indent if current.indent is None else current.indent)
            current = parents.get(current)
        indents.reverse()
        code, ranges = statement_code_and_ranges(module, statement, indents)
        result = None
        start = _only_line_start_occurrence(self.source.text, code)
        if start is not None:
            prefix = self.source.text[:start]
            lines = len(_NEWLINE.findall(prefix)) if "\r" in prefix else prefix.count("\n")
            result = (ranges, lines)
        self._statements[statement] = result
        return result

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def report(self, node: cst.CSTNode, message: str, *, fix: Optional[Fix] = None,
               end_node: Optional[cst.CSTNode] = None, rule: Optional["Rule"] = None,
               severity: Optional[Severity] = None) -> None:
        """Record a finding spanning `node` (to `end_node` when given) for the running rule;
        `severity` lowers (or raises) the rule's own for this finding when the rule knows why."""
        rule = rule or self.rule
        assert rule is not None, "report() called outside a rule"
        start = self.position(node).start
        end = self.position(end_node or node).end
        self.findings.append(Finding(
            code=rule.code, name=rule.name, severity=severity or rule.severity, path=self.path,
            line=start.line, column=start.column + 1, end_line=end.line, end_column=end.column + 1,
            message=message, fix=fix, statement_line=self._statement_line(node),
        ))

    def _statement_line(self, node: cst.CSTNode) -> int:
        """First line of the innermost statement holding `node` (where `# noqa` may also sit)."""
        target = self.position(node).start
        if self._positions is None:
            # A statement that holds `node` starts no earlier than the statements around
            # it: scan the innermost statement's nodes first, then wider ones.
            for statement in self._enclosing_statements(node):
                local = self._local(statement)
                if local is None:
                    continue
                ranges, offset = local
                best = _innermost(ranges.items(), (target.line - offset, target.column))
                if best is not None:
                    return best.line + offset
            self._resolve_all()
        best = _innermost(self._positions.items(), (target.line, target.column))
        return best.line if best else target.line


def _innermost(spans, key: tuple):
    """Start of the latest-starting statement whose span holds `key` (line, column)."""
    best = None
    statements = _STATEMENTS
    for candidate, span in spans:
        if type(candidate) not in statements:
            continue
        start, end = span.start, span.end
        if (start.line, start.column) <= key <= (end.line, end.column):
            if best is None or (start.line, start.column) >= (best.line, best.column):
                best = start
    return best


def _only_line_start_occurrence(text: str, code: str) -> Optional[int]:
    """Offset of `code` in `text` when it occurs at the start of a line exactly once."""
    found = None
    position = text.find(code) if code else -1
    while position >= 0:
        if position == 0 or text[position - 1] in "\r\n":
            if found is not None:
                return None
            found = position
        position = text.find(code, position + 1)
    return found
