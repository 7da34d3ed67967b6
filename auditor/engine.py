"""files -> parse once -> model -> rules -> suppressions -> findings.

Two phases so that rules can see across files without parsing any file twice:
phase 1 reads and parses each file and summarizes it; the summaries are merged into
one project index; phase 2 runs the rules on the already parsed trees. With several
jobs, each worker process keeps its own files' trees between the two phases.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import libcst as cst

from auditor.analysis.project import ProjectIndex, module_name_for, summarize_file
from auditor.context import FileContext
from auditor.files import SourceError, SourceFile, read_source
from auditor.findings import FileError, Finding
from auditor.kernel_rules import InternalErrorRule, SyntaxErrorRule
from auditor.rule import Rule
from auditor.suppression import is_suppressed, skips_file

SYNTAX_ERROR = SyntaxErrorRule()
INTERNAL_ERROR = InternalErrorRule()
# Below this many files per job, starting processes costs more than it saves.
MIN_FILES_PER_JOB = 8


@dataclass
class EngineOptions:
    rules: Sequence[Rule]
    # Picklable (spawned workers receive it): anything with `ignored_codes(path) -> set`.
    per_file_ignores: Any = None
    jobs: int = 1

    def ignored_codes_for(self, path: str) -> set:
        return self.per_file_ignores.ignored_codes(path) if self.per_file_ignores else set()


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    error: Optional[FileError] = None
    checked: bool = True
    source: Optional[SourceFile] = None


@dataclass
class _Prepared:
    source: Optional[SourceFile]
    module: Optional[cst.Module]
    result: FileResult
    summary: Any = None


def _syntax_error_finding(source: SourceFile, exc: cst.ParserSyntaxError) -> Finding:
    """TRN000 at the parser's position; CPython's own parser gives the sharper location."""
    line, column, message = exc.raw_line, exc.raw_column + 1, exc.message
    try:
        ast.parse(source.text)
    except SyntaxError as py_exc:
        line, column = py_exc.lineno or line, py_exc.offset or column
        message = py_exc.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    cell, cell_line = source.location(line)
    return Finding(
        code=SYNTAX_ERROR.code, name=SYNTAX_ERROR.name, severity=SYNTAX_ERROR.severity,
        path=source.path, line=cell_line, column=max(column, 1), end_line=cell_line,
        end_column=max(column, 1) + 1, message=f"cannot parse: {message}", cell=cell,
    )


def _mentions_any(text: str, modules: tuple[str, ...]) -> bool:
    return not modules or any(m in text for m in modules)


def prepare(path: str) -> _Prepared:
    """Phase 1: read, parse and summarize one file."""
    result = FileResult(path=path)
    try:
        source = read_source(path)
    except SourceError as exc:
        result.error, result.checked = FileError(path, str(exc)), False
        return _Prepared(None, None, result)
    result.source = source
    if skips_file(source.text):
        return _Prepared(source, None, result)
    try:
        module = cst.parse_module(source.text)
    except cst.ParserSyntaxError as exc:
        result.findings.append(_syntax_error_finding(source, exc))
        return _Prepared(source, None, result)
    except (RecursionError, MemoryError) as exc:
        result.error = FileError(path, f"too deeply nested to parse ({type(exc).__name__})")
        result.checked = False
        return _Prepared(source, None, result)
    prepared = _Prepared(source, module, result)
    try:
        prepared.summary = summarize_file(FileContext(source, module))
    except Exception:  # a broken summary only costs cross-file knowledge
        prepared.summary = None
    return prepared


def run_rules(prepared: _Prepared, options: EngineOptions, project: Optional[ProjectIndex]) -> FileResult:
    """Phase 2: every selected rule over the one shared model, then suppressions."""
    result = prepared.result
    if prepared.module is None or prepared.source is None:
        result.findings = _filter(result.findings, prepared.source, options)
        return result
    source = prepared.source
    ctx = FileContext(source, prepared.module, project)
    for rule in options.rules:
        if not rule.is_static or not _mentions_any(source.text, rule.needs_imports):
            continue
        ctx.rule = rule
        before = len(ctx.findings)
        try:
            rule.check(ctx)
        except Exception as exc:  # one rule's crash must not cost the others' findings
            del ctx.findings[before:]
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            ctx.findings.append(Finding(
                code=INTERNAL_ERROR.code, name=INTERNAL_ERROR.name, severity=INTERNAL_ERROR.severity,
                path=source.path, line=1, column=1, end_line=1, end_column=1,
                message=f"rule {rule.code} {rule.name} crashed: {type(exc).__name__}: {exc} "
                        f"({os.path.basename(frame.filename)}:{frame.lineno})",
            ))
    ctx.rule = None
    findings = result.findings + ctx.findings
    result.findings = _filter(findings, source, options)
    return result


def _filter(findings: list[Finding], source: Optional[SourceFile], options: EngineOptions) -> list[Finding]:
    """Drop suppressed and per-file-ignored findings; map notebook lines to cells."""
    if not findings or source is None:
        return findings
    ignored = options.ignored_codes_for(source.path)
    selected = {r.code for r in options.rules}
    lines = source.text.splitlines()
    kept = []
    for f in findings:
        if f.code in ignored or f.code not in selected:
            continue
        if f.cell is None and is_suppressed(lines, f.line, f.statement_line, f.code, f.name):
            continue
        if source.is_notebook and f.cell is None:
            f.cell, cell_line = source.location(f.line)
            _, end_cell_line = source.location(f.end_line)
            f.line, f.end_line = cell_line, max(end_cell_line, cell_line)
        kept.append(f)
    return kept


def _index(prepared: Sequence[_Prepared]) -> ProjectIndex:
    return ProjectIndex({module_name_for(p.result.path): p.summary for p in prepared if p.summary is not None})


def check_files(paths: Sequence[str], options: EngineOptions) -> list[FileResult]:
    """Check every path; results come back in the order of `paths`."""
    jobs = max(1, min(options.jobs, len(paths) // MIN_FILES_PER_JOB))
    if jobs == 1:
        prepared = [prepare(p) for p in paths]
        project = _index(prepared)
        return [run_rules(p, options, project) for p in prepared]
    return _check_parallel(paths, options, jobs)


def _worker(connection, paths: list[str], options: EngineOptions) -> None:
    try:
        prepared = [prepare(p) for p in paths]
        connection.send({module_name_for(p.result.path): p.summary for p in prepared if p.summary is not None})
        project = ProjectIndex(connection.recv())
        results = [run_rules(p, options, project) for p in prepared]
        for r in results:
            r.source = None  # the parent has no use for the text; keep the pipe light
        connection.send(results)
    except BaseException as exc:  # report instead of leaving the parent waiting
        connection.send(exc)
    finally:
        connection.close()


def _check_parallel(paths: Sequence[str], options: EngineOptions, jobs: int) -> list[FileResult]:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    # Interleaved chunks balance big and small files that sit together in a tree.
    chunks = [list(paths[i::jobs]) for i in range(jobs)]
    workers = []
    for chunk in chunks:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, args=(child_end, chunk, options), daemon=True)
        process.start()
        child_end.close()
        workers.append((process, parent_end, chunk))
    summaries: dict[str, Any] = {}
    for _, conn, _ in workers:
        message = conn.recv()
        if isinstance(message, BaseException):
            raise message
        summaries.update(message)
    for _, conn, _ in workers:
        conn.send(summaries)
    by_path: dict[str, FileResult] = {}
    for process, conn, chunk in workers:
        message = conn.recv()
        if isinstance(message, BaseException):
            raise message
        by_path.update({r.path: r for r in message})
        process.join()
    return [by_path[p] for p in paths]
