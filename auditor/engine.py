"""files -> parse once -> model -> rules -> suppressions -> findings.

Two phases so that rules can see across files without parsing any file twice:
phase 1 reads and parses each file and summarizes it; the summaries are merged into
one project index; phase 2 runs the rules on the already parsed trees.

What keeps it fast and bounded at scale:
- a cheap first look (auditor/speed/prefilter.py): files that cannot hold training code are
  only compiled by CPython, never parsed by libcst;
- a file that imports no other checked file, and that none imports, needs no cross-file
  knowledge (auditor/speed/dependencies.py): its
  rules run right after its parse and its tree is dropped, so only files that import
  project helpers wait for phase 2 holding a tree (and only up to a budget: past it
  they are parsed again, which keeps memory flat on huge trees);
- the cache (auditor/cache.py): a warm run reads and hashes each file and parses none
  that did not change, nor any whose helpers' summaries did not change;
- worker processes pull chunks of files, keep their own trees between the phases, and
  the results come back in the order of the paths given.
"""

from __future__ import annotations

import ast
import gc
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from auditor.speed import import_libcst

# Before anything below imports libcst, as `rules` does for the command: a program that
# uses the engine directly gets the same cached class code, node identity in C and
# constructors (a no-op when libcst is imported already).
import_libcst()

import libcst as cst

from auditor.analysis.project import ProjectIndex, import_only_summary, module_name_for, summarize_file
from auditor.cache import Cache, Entry, digest_bytes, stable_digest, with_path
from auditor.context import FileContext
from auditor.debugging import debugging
from auditor.files import SourceError, SourceFile, read_bytes, source_from_bytes, tabs_as_spaces
from auditor.findings import FileError, Finding
from auditor.kernel_rules import InternalErrorRule, SyntaxErrorRule
from auditor.legacy_syntax import async_as_name
from auditor.neighbours import base_directory
from auditor.python2 import as_python3
from auditor.speed import (DependencyGraph, compile_check, may_be_a_part, may_hold_training_code, mentions_any,
                           parse_module, relevance_pattern, scan_imports)
from auditor.rule import Rule
from auditor.suppression import is_suppressed, skips_file

SYNTAX_ERROR = SyntaxErrorRule()
INTERNAL_ERROR = InternalErrorRule()
# Below this many files to parse per extra process, starting it costs more than it saves.
MIN_FILES_PER_JOB = 6
# Files a worker asks for at a time: small enough to balance, large enough that the
# pipe round trips stay negligible.
MAX_CHUNK = 16
# Source lines whose trees one process keeps for phase 2; past it, trees are dropped
# and parsed again (a libcst tree costs about a kilobyte per line).
MAX_HELD_LINES = 400_000
# Files (phase 1 and phase 2 each count) between two explicit garbage collections of a
# worker: the automatic collector is paused during a check (see _collector_paused).
COLLECT_EVERY = 1000
# Bytes of the files read by the first pass that a one-process run keeps for phase 1,
# which would otherwise open and read each file a second time.
MAX_KEPT_BYTES = 64 * 1024 * 1024
# Memory follows tokens, not bytes: code as dense as `1,1,1,...` costs libcst about 2 KB a
# token (500 kB of it: 1.1 GB). So the size limit also allows one token per this many bytes
# (the default 500 kB: 125,000 tokens, under 600 MB at that density; docs/performance.md).
BYTES_PER_TOKEN = 4
# Words and numbers count one each, any other visible character one (an over-estimate
# inside strings and comments, which is on the safe side).
_TOKEN = re.compile(r"\w+|[^\w\s]")
# A notebook's raw JSON may be this many times the size limit (outputs, images) before its
# code is measured; past it, the file is skipped without parsing the JSON.
NOTEBOOK_RAW_FACTOR = 64


@dataclass
class EngineOptions:
    rules: Sequence[Rule]
    # Picklable (spawned workers receive it): anything with `ignored_codes(path) -> set`.
    per_file_ignores: Any = None
    jobs: int = 1
    cache: Optional[Cache] = None  # None: compute everything, store nothing
    prefilter: bool = True  # False: libcst-parse every file (tests and benchmarks compare)
    # False when nothing will show a fix (text output, SARIF): findings then carry none,
    # and the statement rendering that builds one (a few percent of a check) is skipped.
    fixes: bool = True
    # Bytes of source (a notebook's code cells) past which a file is skipped with a notice; 0: no limit.
    max_file_size: int = 0
    # Where to look for the named files' neighbours (auditor/neighbours.py): project
    # modules they import or that import them, summarized but never reported on. None: none.
    neighbours: Any = None

    def ignored_codes_for(self, path: str) -> set:
        return self.per_file_ignores.ignored_codes(path) if self.per_file_ignores else set()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_keyed"] = self.keyed
        state["cache"] = None  # the parent alone reads and writes the cache
        state["neighbours"] = None  # and alone looks for neighbours
        state.pop("_relevance", None)
        state.pop("_static", None)
        return state

    @property
    def keyed(self) -> bool:
        """Whether results go to a cache, whose keys need digests of the summaries (a
        worker's copy of the options knows it without having the cache)."""
        return self.__dict__.get("_keyed", self.cache is not None)

    @property
    def static_rules(self) -> list[Rule]:
        """The selected rules that `auditor check` runs, in order (asked once per file)."""
        rules = self.__dict__.get("_static")
        if rules is None:
            rules = self.__dict__["_static"] = [rule for rule in self.rules if rule.is_static]
        return rules

    @property
    def relevance(self):
        pattern = self.__dict__.get("_relevance")
        if pattern is None:
            pattern = relevance_pattern(w for r in self.rules for w in r.needs_imports)
            self.__dict__["_relevance"] = pattern
        return pattern


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    error: Optional[FileError] = None
    checked: bool = True
    source: Optional[SourceFile] = None
    notice: Optional[str] = None  # why it was skipped without being an error (over the size limit)


@dataclass
class _Prepared:
    source: Optional[SourceFile]
    module: Optional[cst.Module]
    result: FileResult
    summary: Any = None
    digest: str = ""
    # The context phase 1 summarized with: phase 2 reuses it, so the model is built once.
    context: Optional[FileContext] = None
    module_name: Optional[str] = None  # when the caller knew it (the run computes each once)
    # True when phase 1 already decided everything (unreadable, syntax error,
    # skip-file, or a file that cannot hold training code).
    final: bool = False


@dataclass
class _Info:
    """What phase 1 tells the parent about one file (small: it crosses the pipe)."""

    path: str
    digest: str
    summary: Any
    summary_digest: str
    result: Optional[FileResult]  # set when the file needs no phase 2
    final: bool


def _syntax_error_finding(source: SourceFile, exc: SyntaxError) -> Finding:
    """TRN000 at the parser's position; CPython's own parser gives the sharper location."""
    if isinstance(exc, cst.ParserSyntaxError):
        line, column, message = exc.raw_line, exc.raw_column + 1, exc.message
    else:  # a node libcst's validation refused: no position of its own
        line, column, message = 1, 1, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        with warnings.catch_warnings():  # `1if x`: CPython warns before it refuses; not ours to print
            warnings.simplefilter("ignore")
            ast.parse(source.text)
    except SyntaxError as py_exc:
        line, column = py_exc.lineno or line, py_exc.offset or column
        message = py_exc.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    return _trn000(source, line, column, message)


def _trn000(source: SourceFile, line: int, column: int, message: str) -> Finding:
    cell, cell_line = source.location(line)
    return Finding(
        code=SYNTAX_ERROR.code, name=SYNTAX_ERROR.name, severity=SYNTAX_ERROR.severity,
        path=source.path, line=cell_line, column=max(column, 1), end_line=cell_line,
        end_column=max(column, 1) + 1, message=f"cannot parse: {message}", cell=cell,
    )


def _parse_retabbed(text: str) -> Optional[cst.Module]:
    """A file CPython accepts whose tabs libcst's tokenizer refuses: parsed with each
    indenting tab as one space (same nesting, same positions: files.tabs_as_spaces)."""
    retabbed = tabs_as_spaces(text)
    if retabbed is None:
        return None
    try:
        return parse_module(retabbed)
    except (cst.ParserSyntaxError, cst.CSTValidationError):
        return None


def _parse_python2(text: str) -> Optional[cst.Module]:
    """A Python 2 file whose print statements and `except E, e:` are all that stops the
    parse, read with those written the Python 3 way (lines keep their numbers)."""
    rewritten = as_python3(text)
    if rewritten is None:
        return None
    try:
        return cst.parse_module(rewritten)
    except (cst.ParserSyntaxError, cst.CSTValidationError, RecursionError):
        return None


def _parse_async_named(text: str) -> Optional[cst.Module]:
    """Python 3.6 code using `async` as an argument name (`x.cuda(async=True)`), parsed with
    that name respelled at the same length (legacy_syntax.async_as_name)."""
    renamed = async_as_name(text)
    if renamed is None:
        return None
    try:
        return parse_module(renamed)
    except (cst.ParserSyntaxError, cst.CSTValidationError):
        return None


def _skipped(result: FileResult, size: int, limit: int, what: str) -> _Prepared:
    result.checked = False
    result.notice = (f"skipped: {_megabytes(size)}{what}, over the size limit of {_megabytes(limit)} "
                     f"(max-file-size; 0 checks every file)")
    return _Prepared(None, None, result, final=True)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def prepare(path: str, data: Optional[bytes] = None, options: Optional[EngineOptions] = None,
            module_name: Optional[str] = None) -> _Prepared:
    """Phase 1: read, take a first look, parse and summarize one file.

    `module_name`: the file's dotted module name when the caller knows it already.
    """
    result = FileResult(path=path)
    limit = options.max_file_size if options is not None else 0
    try:
        if data is None:
            data = read_bytes(path)
        if limit and len(data) > limit * (NOTEBOOK_RAW_FACTOR if path.endswith(".ipynb") else 1):
            return _skipped(result, len(data), limit, "")
        source = source_from_bytes(path, data)
    except SourceError as exc:
        result.error, result.checked = FileError(path, str(exc)), False
        return _Prepared(None, None, result, final=True)
    if limit and source.is_notebook and len(source.text) > limit \
            and len(source.text.encode("utf-8", "surrogatepass")) > limit:
        return _skipped(result, len(source.text.encode("utf-8", "surrogatepass")), limit, " of code")
    if limit and len(source.text) > limit // BYTES_PER_TOKEN:
        tokens = len(_TOKEN.findall(source.text))
        if tokens > limit // BYTES_PER_TOKEN:
            result.checked = False
            result.notice = (f"skipped: about {tokens:,} tokens, over the limit of {limit // BYTES_PER_TOKEN:,} "
                             f"that the size limit of {_megabytes(limit)} allows (max-file-size; 0 checks every file)")
            return _Prepared(None, None, result, final=True)
    result.source = source
    prepared = _Prepared(source, None, result, digest=digest_bytes(data), module_name=module_name)
    prepared.final = True
    if skips_file(source.text):
        return prepared
    for error in source.piece_errors:  # cells that do not parse: the others are still checked
        result.findings.append(_trn000(source, error.line, error.column, error.message))
    relevant = options is None or not options.prefilter or may_hold_training_code(source.text, options.relevance)
    verdict = compile_check(source.text, path)
    if verdict.too_deep:
        result.error = FileError(path, "too deeply nested to parse (CPython refuses it too)")
        result.checked = False
        return prepared
    if verdict.syntax_error is not None:  # a nesting limit: libcst would take minutes
        exc = verdict.syntax_error
        result.findings.append(_trn000(source, exc.lineno or 1, exc.offset or 1, exc.msg))
        return prepared
    if verdict.ok and not relevant:
        # Nothing to check, but a package's `__init__.py` may re-export a model class.
        prepared.summary = import_only_summary(source.text, module_name or module_name_for(path),
                                               os.path.basename(path) == "__init__.py")
        return prepared
    # CPython and libcst disagree at the edges (`return` outside a function, newer
    # syntax): libcst has the last word on what is a syntax error. A file CPython
    # refused gets libcst's validating parse, whose node checks refuse what its grammar
    # lets through (`b"a" "b"` mixes bytes and text); the others skip those checks.
    rewritten = False  # parsed as respelled (legacy_syntax, python2): no fixes (they would carry the rewrite)
    try:
        module = parse_module(source.text) if verdict.ok else cst.parse_module(source.text)
    except (cst.ParserSyntaxError, cst.CSTValidationError) as exc:
        module = _parse_retabbed(source.text) if verdict.ok else None
        if module is None and not verdict.ok:
            # `x.cuda(async=True)`: refused for that word alone; reported, and still checked.
            module = _parse_async_named(source.text)
            rewritten = module is not None
            if rewritten:
                result.findings.append(_syntax_error_finding(source, exc))
        if module is None and not source.is_notebook:
            module = _parse_python2(source.text)
            rewritten = module is not None
        if module is None:
            result.findings.append(_syntax_error_finding(source, exc))
            return prepared
    except (RecursionError, MemoryError) as exc:
        result.error = FileError(path, f"too deeply nested to parse ({type(exc).__name__})")
        result.checked = False
        return prepared
    except (UnicodeError, ValueError) as exc:  # text libcst cannot take (files.py screens most)
        result.error = FileError(path, f"cannot parse: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        result.checked = False
        return prepared
    if not relevant:
        return prepared
    prepared.module, prepared.final = module, False
    prepared.context = FileContext(source, module, module_name=module_name,
                                   wants_fixes=(options is None or options.fixes) and not rewritten)
    try:
        prepared.summary = summarize_file(prepared.context)
    except Exception:  # a broken summary only costs cross-file knowledge
        if debugging():
            raise
        prepared.summary = None
    return prepared


def run_rules(prepared: _Prepared, options: EngineOptions, project: Optional[ProjectIndex]) -> FileResult:
    """Phase 2: every selected rule over the one shared model, then suppressions."""
    result = prepared.result
    if prepared.module is None or prepared.source is None:
        result.findings = _filter(result.findings, prepared.source, options)
        return result
    source = prepared.source
    ctx = prepared.context
    if ctx is None or ctx.module is not prepared.module or ctx.findings:
        ctx = FileContext(source, prepared.module, project, module_name=prepared.module_name,
                          wants_fixes=options.fixes)
    ctx.project = project
    mentioned: dict[tuple, bool] = {}  # most rules need the same word ("torch"): one search each
    for rule in options.static_rules:
        needs = rule.needs_imports
        if needs:
            found = mentioned.get(needs)
            if found is None:
                found = mentioned[needs] = mentions_any(source.text, needs)
            if not found:
                continue
        ctx.rule = rule
        before = len(ctx.findings)
        try:
            rule.check(ctx)
        except Exception as exc:  # one rule's crash must not cost the others' findings
            if debugging():
                raise
            del ctx.findings[before:]
            import traceback

            frame = traceback.extract_tb(exc.__traceback__)[-1]
            ctx.findings.append(Finding(
                code=INTERNAL_ERROR.code, name=INTERNAL_ERROR.name, severity=INTERNAL_ERROR.severity,
                path=source.path, line=1, column=1, end_line=1, end_column=1,
                message=f"rule {rule.code} {rule.name} crashed: {type(exc).__name__}: {exc} "
                        f"({os.path.basename(frame.filename)}:{frame.lineno})",
            ))
    ctx.rule = None
    ctx.release()
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
        elif source.column_offsets and (f.line in source.column_offsets or f.end_line in source.column_offsets):
            # A Markdown block indented under a list item: columns of the file, and no fix
            # (its edits would land off by the indentation).
            f.column += source.column_offsets.get(f.line, 0)
            f.end_column += source.column_offsets.get(f.end_line, 0)
            f.fix = None
        kept.append(f)
    return kept


# --- the work of one process ---------------------------------------------------------

class _Worker:
    """Phase 1 and phase 2 for the files given to one process (or to the parent)."""

    def __init__(self, options: EngineOptions, modules: dict[str, str], connected: set[str],
                 jobs: int = 1) -> None:
        self.options = options
        self.modules = modules
        self.connected = connected  # files sharing cross-file knowledge (DependencyGraph)
        self.held: dict[str, _Prepared] = {}
        self.held_lines = 0
        # One budget for the whole run: N processes hold at most what one would.
        self.max_held_lines = MAX_HELD_LINES // max(1, jobs)
        self.handled = 0

    def _collect_now_and_then(self) -> None:
        self.handled += 1
        if self.handled % COLLECT_EVERY == 0:
            gc.collect()

    def phase1(self, path: str, data: Optional[bytes] = None) -> _Info:
        """`data`: the file's bytes when the caller has read them already."""
        self._collect_now_and_then()
        prepared = prepare(path, data, self.options, self.modules.get(path))
        result = None
        if prepared.final:
            result = run_rules(prepared, self.options, None)
        elif path not in self.connected:
            # No other checked file imports it or is imported by it: no cross-file
            # knowledge can reach it, so its rules run now and its tree is dropped.
            result = run_rules(prepared, self.options, self._own_index(prepared))
        else:
            self._hold(prepared)
        summary_digest = "-"
        if prepared.summary is not None and self.options.keyed:
            summary_digest = stable_digest(prepared.summary) or prepared.digest
        return _Info(path, prepared.digest, prepared.summary, summary_digest, result, prepared.final)

    def _hold(self, prepared: _Prepared) -> None:
        lines = prepared.source.text.count("\n") if prepared.source else 0
        if self.held_lines + lines > self.max_held_lines:
            prepared.module = prepared.context = None  # parsed again in phase 2: memory stays bounded
        else:
            self.held_lines += lines
        self.held[prepared.result.path] = prepared

    def _own_index(self, prepared: _Prepared) -> ProjectIndex:
        if prepared.summary is None:
            return ProjectIndex({})
        return ProjectIndex({self.modules[prepared.result.path]: prepared.summary})

    def phase2(self, path: str, project: ProjectIndex) -> FileResult:
        self._collect_now_and_then()
        prepared = self.held.pop(path, None)
        if prepared is None or prepared.module is None:
            prepared = prepare(path, None, self.options, self.modules.get(path))
        if prepared.final:
            return run_rules(prepared, self.options, None)
        if path not in self.connected:
            return run_rules(prepared, self.options, self._own_index(prepared))
        if project.bases:  # a module name held twice: this file's view of it
            module = self.modules.get(path) or module_name_for(path)
            project = project.for_base(base_directory(path, module))
        return run_rules(prepared, self.options, project)


# --- the run -------------------------------------------------------------------------

@contextmanager
def _collector_paused():
    """Pause Python's automatic cyclic garbage collection while checking.

    A check leaves no cyclic garbage behind (each file's tree is freed by reference
    counting: see FileModel.release), but the collector cannot know that: it runs
    every few thousand allocations and rescans every tree still alive, above all the
    trees of interconnected files held between the phases. On pytorch-image-models
    that was an eighth of a check. `_Worker` collects explicitly every COLLECT_EVERY
    files, which bounds whatever a future change might leak.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_files(paths: Sequence[str], options: EngineOptions) -> list[FileResult]:
    """Check every distinct path; results come back in the order of `paths`."""
    with _collector_paused():
        return _check_files(paths, options)


def _check_files(paths: Sequence[str], options: EngineOptions) -> list[FileResult]:
    paths = list(dict.fromkeys(paths))
    packages: dict[str, bool] = {}  # directory -> holds __init__.py, asked once per run
    modules = _module_names(paths, packages)
    cache = options.cache
    # A first pass over the bytes: cache look-ups, and which files share knowledge.
    names: dict[str, tuple] = {}
    parts: set[str] = set()  # files that may run in the namespace of their directory's others
    results: dict[str, FileResult] = {}
    infos: dict[str, _Info] = {}
    entries: dict[str, Entry] = {}
    todo: list[str] = []
    # One process for sure: phase 1 then takes the bytes read here instead of reading again.
    keep = _jobs_for(options, len(paths)) == 1
    kept: dict[str, bytes] = {}
    kept_size = 0
    for path in paths:
        try:
            data = read_bytes(path)
        except SourceError:
            todo.append(path)  # phase 1 reports it
            continue
        if options.max_file_size and len(data) > options.max_file_size:
            todo.append(path)  # phase 1 measures it (a notebook by its code) and may skip it
            continue
        names[path] = scan_imports(path, data)
        if may_be_a_part(names[path], data):
            parts.add(path)
        if cache is not None:
            digest = digest_bytes(data)
            entry = cache.get(path)
            if entry is not None and entry.digest == digest:
                entries[path] = entry
                infos[path] = _Info(path, digest, entry.summary, entry.summary_digest, None,
                                    entry.result_key == _FINAL)
                continue
        todo.append(path)
        if keep and kept_size + len(data) <= MAX_KEPT_BYTES:
            kept[path] = data
            kept_size += len(data)
    # Project files around the named ones: read through their summaries, never reported on.
    neighbours, scans = _neighbour_summaries(paths, modules, packages, options, infos, names, parts)
    graph = DependencyGraph(modules)
    for path, found in names.items():
        graph.add(path, found)
        if path in parts:  # perhaps a lesson's part, run after the other files of its directory
            graph.add_peers(path)
    graph.finish()
    connected = graph.connected()

    runner = _runner(options, modules, connected, len(todo), kept)
    try:
        for info in runner.phase1(todo):
            infos[info.path] = info
            if info.result is not None:
                results[info.path] = info.result
        dependency = graph.dependency_digests({p: i.summary_digest for p, i in infos.items()}) \
            if cache is not None else {}

        second: list[str] = []
        reused: set[str] = set()  # served from their cache entries
        for path in paths:
            if path in results:
                continue
            info = infos[path]
            entry = entries.get(path)
            if entry is not None and entry.result_key == _result_key(info, dependency[path]) \
                    and (entry.fixes or not options.fixes):
                reused.add(path)
                results[path] = FileResult(path=path, findings=with_path(entry.findings, path),
                                           error=FileError(path, entry.error) if entry.error else None,
                                           checked=entry.checked)
            else:
                second.append(path)
        if second:
            # Neighbours first: a named file wins a module name that both hold.
            project = ProjectIndex.from_files([(modules[p], base_directory(p, modules[p]), infos[p].summary)
                                               for p in [*neighbours, *paths]
                                               if p in infos and infos[p].summary is not None])
            for result in runner.phase2(second, project):
                results[result.path] = result
    finally:
        runner.close()

    if cache is not None:
        for path in paths:
            info, result = infos.get(path), results[path]
            if info is None or not info.digest:
                continue
            if path in reused or result.notice:
                continue  # a skipped file is measured again next time, and its notice shown again
            cache.put(path, Entry(
                digest=info.digest, summary=info.summary, summary_digest=info.summary_digest,
                result_key=_result_key(info, dependency[path]), findings=list(result.findings),
                fixes=options.fixes or info.final,  # phase 1 settles only files no rule ran on
                error=result.error.message if result.error else None, checked=result.checked,
            ))
        cache.save()
        if scans is not None:
            scans.save({path for path, _, _ in options.neighbours.listing()[0]} | {os.path.abspath(p) for p in paths})
    ordered = [results[p] for p in paths]
    for result in ordered:
        if result.findings and result.source is None:
            result.source = _reread(result.path)
    return ordered


def _reread(path: str) -> Optional[SourceFile]:
    """The text of a file with findings (for --show-source) when a worker or the cache had it."""
    try:
        return source_from_bytes(path, read_bytes(path))
    except SourceError:
        return None


_FINAL = "final"


def _result_key(info: _Info, dependency: str) -> str:
    """Findings depend on the file's bytes and, unless phase 1 settled them, on its helpers."""
    return _FINAL if info.final else f"{info.digest}:{dependency}"


def _module_names(paths: Sequence[str], packages: Optional[dict[str, bool]] = None) -> dict[str, str]:
    packages = packages if packages is not None else {}  # directory -> holds __init__.py
    return {path: module_name_for(path, packages) for path in paths}


def _neighbour_summaries(paths: list[str], modules: dict[str, str], packages: dict[str, bool],
                         options: EngineOptions, infos: dict[str, "_Info"],
                         names: dict[str, tuple], parts: set[str]) -> tuple[list[str], Any]:
    """Summarize the project modules the named files import and those importing them.

    Each neighbour joins `modules`, `infos` and `names` (so the dependency digests cover
    its summary), never the results; one that may be a lesson's part joins `parts`. A cached summary is used while the file's bytes are
    unchanged; one computed here is cached with no findings (a later run naming the file
    checks it). Returns the neighbours' paths and the import scans (saved with the cache).
    """
    scope = options.neighbours
    if scope is None:
        return [], None
    from auditor.neighbours import ImportScans, find_neighbours

    cache = options.cache
    named = {os.path.abspath(p): modules[p] for p in paths}
    scans = ImportScans(cache.directory if cache is not None else None)
    found = find_neighbours(named, scope, lambda p: module_name_for(p, packages), scans, _read_or_none,
                            options.max_file_size)
    summarized = []
    for path in found:
        data = _read_or_none(path)
        if data is None:
            continue
        module = modules[path] = module_name_for(path, packages)
        names[path] = scan_imports(path, data)
        if may_be_a_part(names[path], data):
            parts.add(path)
        digest = digest_bytes(data)
        entry = cache.get(path) if cache is not None else None
        if entry is not None and entry.digest == digest:
            infos[path] = _Info(path, digest, entry.summary, entry.summary_digest, None, False)
        else:
            prepared = prepare(path, data, options, module)
            if prepared.context is not None:
                prepared.context.release()  # only the summary is kept (no tree in a cycle)
            summary = prepared.summary
            summary_digest = (stable_digest(summary) or prepared.digest) \
                if summary is not None and options.keyed else "-"
            infos[path] = _Info(path, prepared.digest or digest, summary, summary_digest, None, False)
            if cache is not None and prepared.digest:
                cache.put(path, Entry(digest=prepared.digest, summary=summary, summary_digest=summary_digest))
        summarized.append(path)
    return summarized, scans


def _read_or_none(path: str) -> Optional[bytes]:
    try:
        return read_bytes(path)
    except SourceError:
        return None


def _jobs_for(options: EngineOptions, files: int) -> int:
    return max(1, min(options.jobs, files // MIN_FILES_PER_JOB))


def _runner(options: EngineOptions, modules: dict[str, str], connected: set[str], files: int,
            read: dict[str, bytes]) -> "_Serial":
    """`read`: bytes of some of the files, already read (used by a one-process runner)."""
    jobs = _jobs_for(options, files)
    if jobs > 1:
        try:
            return _Parallel(options, modules, connected, jobs)
        except OSError:  # no processes to be had (sandbox, limits): one is enough
            pass
    return _Serial(options, modules, connected, read)


class _Serial:
    def __init__(self, options: EngineOptions, modules: dict[str, str], connected: set[str],
                 read: dict[str, bytes]) -> None:
        self.worker = _Worker(options, modules, connected)
        self.read = read  # path -> bytes already read, handed to phase 1 once

    def phase1(self, paths: list[str]):
        for path in paths:
            yield self.worker.phase1(path, self.read.pop(path, None))

    def phase2(self, paths: list[str], project: ProjectIndex):
        for path in paths:
            yield self.worker.phase2(path, project)

    def close(self) -> None:
        pass


def _serve(connection, options: EngineOptions, modules: dict[str, str], connected: set[str], jobs: int = 1) -> None:
    """A worker process: answers ("phase1", paths) and ("phase2", summaries, paths)."""
    worker = _Worker(options, modules, connected, jobs)
    gc.disable()  # as _collector_paused: the worker collects every COLLECT_EVERY files
    try:
        while True:
            message = connection.recv()
            if message[0] == "phase1":
                infos = [worker.phase1(p) for p in message[1]]
                for info in infos:
                    if info.result is not None:
                        _detach(info.result)
                connection.send(infos)
            elif message[0] == "phase2":
                project = ProjectIndex(*message[1])
                connection.send([_detach(worker.phase2(p, project)) for p in message[2]])
            else:
                return
    except (EOFError, KeyboardInterrupt):
        return
    except BaseException as exc:  # report instead of leaving the parent waiting
        try:
            connection.send(exc)
        except Exception:
            pass
    finally:
        connection.close()


def _detach(result: FileResult) -> FileResult:
    result.source = None  # the parent re-reads the few files with findings it shows
    return result


class _Parallel:
    """Persistent workers pulling chunks; each keeps its own trees between the phases."""

    def __init__(self, options: EngineOptions, modules: dict[str, str], connected: set[str], jobs: int) -> None:
        # Imported only when more than one process runs: multiprocessing costs ~7 ms to import.
        import multiprocessing

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        self.options, self.modules, self.connected = options, modules, connected
        self.workers = []
        for _ in range(jobs):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_serve, args=(child_end, options, modules, connected, jobs),
                                      daemon=True)
            process.start()
            child_end.close()
            self.workers.append((process, parent_end))
        self.owner: dict[str, int] = {}  # path -> worker holding its phase-1 state (-1: the parent)
        self.dead: set[int] = set()
        self.fallback: Optional[_Worker] = None  # the parent takes over a dead worker's files

    def _fallback(self) -> _Worker:
        if self.fallback is None:
            self.fallback = _Worker(self.options, self.modules, self.connected, len(self.workers) + 1)
        return self.fallback

    def phase1(self, paths: list[str]):
        from multiprocessing.connection import wait

        chunk = max(1, min(MAX_CHUNK, len(paths) // (len(self.workers) * 4)))
        pending = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
        pending.reverse()
        busy: dict[int, list[str]] = {}
        idle = list(range(len(self.workers)))
        while pending or busy:
            while idle and pending:  # hand a chunk to every idle live worker
                number, work = idle.pop(), pending.pop()
                if self._send(number, ("phase1", work)):
                    busy[number] = work
                else:
                    pending.append(work)
            if not busy:  # every worker is dead: the parent finishes alone
                for work in reversed(pending):
                    for path in work:
                        yield self._phase1_here(path)
                return
            connections = {self.workers[n][1]: n for n in busy}
            for conn in wait(list(connections)):
                number = connections[conn]
                work = busy.pop(number)
                answer = self._receive(number)
                if answer is None:  # the worker died on this chunk: the parent does it
                    for path in work:
                        yield self._phase1_here(path)
                    continue
                for info in answer:
                    self.owner[info.path] = number
                    yield info
                idle.append(number)

    def _phase1_here(self, path: str) -> _Info:
        self.owner[path] = -1
        return self._fallback().phase1(path)

    def _send(self, number: int, message) -> bool:
        if number in self.dead:
            return False
        try:
            self.workers[number][1].send(message)
            return True
        except (OSError, ValueError):
            self.dead.add(number)
            return False

    def _receive(self, number: int):
        try:
            answer = self.workers[number][1].recv()
        except (EOFError, OSError):
            self.dead.add(number)
            return None
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def phase2(self, paths: list[str], project: ProjectIndex):
        """Each file where its tree is; files parsed nowhere yet to the least loaded worker."""
        live = [n for n in range(len(self.workers)) if n not in self.dead]
        per_worker: dict[int, list[str]] = {n: [] for n in live}
        here: list[str] = []
        unowned: list[str] = []
        for path in paths:
            number = self.owner.get(path)
            if number is None:
                unowned.append(path)
            elif number in per_worker:
                per_worker[number].append(path)
            else:
                here.append(path)  # parsed by the parent, or its worker died
        for path in unowned:
            if not per_worker:
                here.append(path)
                continue
            number = min(per_worker, key=lambda n: len(per_worker[n]))
            per_worker[number].append(path)
        sent = {}
        for number, work in per_worker.items():
            if work and self._send(number, ("phase2", project.state(), work)):
                sent[number] = work
            else:
                here.extend(work)
        for path in here:
            yield self._fallback().phase2(path, project)
        for number, work in sent.items():
            answer = self._receive(number)
            if answer is None:
                for path in work:
                    yield self._fallback().phase2(path, project)
                continue
            yield from answer

    def close(self) -> None:
        for process, conn in self.workers:
            try:
                conn.send(("stop",))
            except (OSError, ValueError):
                pass
            conn.close()
        for process, _ in self.workers:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
