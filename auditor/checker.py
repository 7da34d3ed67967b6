"""`auditor check` as a function: configuration + selection + discovery + engine -> Report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional, Sequence

from auditor.cache import open_cache
from auditor.config import DEFAULT_MAX_FILE_SIZE, Config, ConfigError, load_config
from auditor.errors import UsageProblem
from auditor.findings import FileError
from auditor.files import (
    DEFAULT_EXCLUDES, MARKDOWN_SUFFIXES, MISSING, SUFFIXES, WalkedDirectory, discover, path_problem,
)
from auditor.report import Report
from auditor.rule import Rule
from auditor.selection import PerFileIgnores, SelectionError, select_rules

# Error means the numbers are wrong: with no configuration, only that fails a run (a CI
# job, a pre-commit hook); warnings and infos are reported without failing it.
DEFAULT_FAIL_ON = "error"


@dataclass
class CheckRequest:
    paths: list[str]
    select: Optional[list[str]] = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: Optional[list[str]] = None
    extend_exclude: list[str] = field(default_factory=list)
    fail_on: Optional[str] = None
    jobs: Optional[int] = None
    config_path: Optional[str] = None
    no_cache: bool = False  # --no-cache: neither read nor write .auditor_cache/
    fix: bool = False  # apply fixes (auditor/fixer.py)
    diff: bool = False  # compute fixes, write nothing
    unsafe_fixes: bool = False
    show_fixes: bool = True  # the output prints each finding's fix (False: none is built)
    baseline: Optional[str] = None
    write_baseline: Optional[str] = None
    max_file_size: Optional[int] = None  # --max-file-size (bytes, 0: none); else the config's or the default
    include_markdown: Optional[bool] = None  # --include-markdown: .md files in directory walks too


@dataclass
class CheckOutcome:
    report: Report
    fail_on: str
    config: Config
    source_lines: dict[str, list[str]] = field(default_factory=dict)
    fixes: list = field(default_factory=list)  # FileFix per changed file (--fix, --diff)
    baseline_matched: int = 0
    baseline_written: Optional[int] = None


def load_request_config(request: CheckRequest) -> Config:
    """The configuration for these paths; UsageProblem for a bad config, or when no path
    given exists (one missing among others is a file error: see path_errors)."""
    missing = [path for path in request.paths if path_problem(path) == MISSING]
    if missing and len(missing) == len(request.paths):
        raise UsageProblem(f"path does not exist: {missing[0]}" if len(missing) == 1
                           else f"paths do not exist: {', '.join(missing)}")
    try:
        return load_config(request.paths, request.config_path)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None


def discover_paths(request: CheckRequest, config: Config, walked: Optional[list[WalkedDirectory]] = None) -> list[str]:
    """The files this request checks, in a stable order (`walked`: see files.discover)."""
    excludes = request.exclude if request.exclude is not None else list(DEFAULT_EXCLUDES)
    user_excludes = list(config.get("exclude", [])) + list(config.get("extend-exclude", [])) \
        + request.extend_exclude + (request.exclude or [])
    return list(discover(request.paths, excludes=excludes, user_excludes=user_excludes, walked=walked,
                         suffixes=suffixes_for(request, config)))


def neighbour_scope_for(request: CheckRequest, config: Config, paths: Sequence[str]):
    """Where the run looks for the named files' neighbours (auditor/neighbours.py):
    their project roots, unless a directory named on the command line holds one whole;
    None when there is nothing to list."""
    from auditor.neighbours import neighbour_scope

    excludes = request.exclude if request.exclude is not None else list(DEFAULT_EXCLUDES)
    user_excludes = list(config.get("exclude", [])) + list(config.get("extend-exclude", [])) \
        + request.extend_exclude + (request.exclude or [])
    directories = [p for p in request.paths if os.path.isdir(p)]
    return neighbour_scope(paths, directories, [*excludes, *user_excludes], suffixes_for(request, config))


def suffixes_for(request: CheckRequest, config: Config) -> tuple[str, ...]:
    """What a directory walk checks: Python files and notebooks, and Markdown when asked."""
    include = request.include_markdown if request.include_markdown is not None else config.get("include-markdown")
    return SUFFIXES + MARKDOWN_SUFFIXES if include else SUFFIXES


def run_check(request: CheckRequest, all_rules: Sequence[Rule], config: Optional[Config] = None,
              paths: Optional[list[str]] = None, scope=None) -> CheckOutcome:
    """Raise UsageProblem for bad paths, configuration or selectors (exit 2).

    `config`: the one `load_request_config` already returned for this request, if any;
    `paths`: the files `discover_paths` already found for it (the run memo's), if any;
    `scope`: the `neighbour_scope_for` them that the run memo listed, if any.
    """
    from auditor.engine import EngineOptions, check_files  # libcst: only when files are really checked

    config = config if config is not None else load_request_config(request)
    try:
        rules = select_rules(
            all_rules,
            select=request.select if request.select is not None else config.get("select"),
            extend_select=list(config.get("extend-select", [])) + request.extend_select,
            ignore=list(config.get("ignore", [])) + request.ignore,
        )
        per_file = PerFileIgnores(config.get("per-file-ignores", {}), all_rules, config.root)
    except SelectionError as exc:
        raise UsageProblem(str(exc)) from None
    if paths is None:
        paths = discover_paths(request, config)
        scope = None
    if scope is None:
        scope = neighbour_scope_for(request, config, paths)
    jobs = request.jobs or config.get("jobs") or os.cpu_count() or 1
    limit = max_file_size(request, config)
    # The limit decides which files are skipped: the cache keys on it like on the configuration.
    keyed = Config(values={**config.values, "max-file-size": limit}, path=config.path)
    options = EngineOptions(rules=rules, per_file_ignores=per_file, jobs=jobs,
                            cache=None if request.no_cache else open_cache(keyed, rules),
                            fixes=request.show_fixes or request.fix or request.diff, max_file_size=limit,
                            neighbours=scope)
    results = check_files(paths, options)
    fixes: list = []
    unfixed: list[FileError] = []
    if request.fix or request.diff:
        from auditor.fixer import markdown_notices, run_fixes

        unfixed = [FileError(path, notice) for path, notice in markdown_notices(results, request.unsafe_fixes)]
        fixes = run_fixes(results, options, request.unsafe_fixes, write=request.fix and not request.diff)
        if fixes and not request.diff:
            results = check_files(paths, options)  # report what the fixes left
    findings = sorted((f for r in results for f in r.findings), key=lambda f: f.sort_key())
    findings, matched, written = _baseline(findings, request, config)
    report = Report(
        findings=findings,
        file_errors=path_errors(request.paths) + [r.error for r in results if r.error is not None]
        + [FileError(f.path, f.error) for f in fixes if f.error],
        files_checked=sum(1 for r in results if r.checked),
        rules=list(all_rules),
        fixed=sum(f.applied for f in fixes if not f.error) if not request.diff else 0,
        notices=[FileError(r.path, r.notice) for r in results if r.notice] + unfixed,
    )
    fail_on = request.fail_on or config.get("fail-on") or DEFAULT_FAIL_ON
    return CheckOutcome(report=report, fail_on=fail_on, config=config, source_lines=_lines_of(results, findings),
                        fixes=fixes, baseline_matched=matched, baseline_written=written)


def max_file_size(request: CheckRequest, config: Config) -> int:
    """The size limit in force: the flag, else `max-file-size`, else DEFAULT_MAX_FILE_SIZE."""
    if request.max_file_size is not None:
        return request.max_file_size
    return config.get("max-file-size", DEFAULT_MAX_FILE_SIZE)


def path_errors(paths: Sequence[str]) -> list[FileError]:
    """One error per path given that is not checked: missing, unreadable, a FIFO or a device."""
    errors = []
    for path in dict.fromkeys(paths):
        problem = path_problem(path)
        if problem is not None:
            errors.append(FileError(path, problem))
    return errors


def _baseline(findings: list, request: CheckRequest, config: Config) -> tuple[list, int, Optional[int]]:
    """--write-baseline records every finding; --baseline or the config's one filters them."""
    path = request.baseline
    if path is None and config.get("baseline"):
        path = os.path.join(config.root, config.get("baseline"))
    if path is None and not request.write_baseline:
        return findings, 0, None
    from auditor.baseline import BaselineError, filter_baseline, write_baseline  # hashlib: ~2.5 ms

    try:
        if request.write_baseline:
            return findings, 0, write_baseline(request.write_baseline, findings)
        kept, matched = filter_baseline(path, findings)
        return kept, matched, None
    except BaselineError as exc:
        raise UsageProblem(str(exc)) from None


def _lines_of(results, findings) -> dict[str, list[str]]:
    wanted = {f.path for f in findings}
    return {r.path: r.source.text.splitlines() for r in results
            if r.path in wanted and r.source is not None and not r.source.is_notebook}
