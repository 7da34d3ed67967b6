"""The command line: `auditor check`, `auditor rules`, `auditor rule`, `auditor run`, `auditor train`."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import click

from auditor import __version__
from auditor.atomic import write_atomically
from auditor.errors import UsageProblem
from auditor.findings import Severity

DEFAULT_FAIL_ON = "info"
# Commands imported only when invoked or listed (`--help`): building their options costs
# `auditor check` about 2 ms otherwise.
LAZY_COMMANDS = {"run": ("auditor.commands.run", "run"), "train": ("auditor.commands.train", "train")}


def _all_rules():
    from rules import ALL_RULES

    return ALL_RULES


def _split_selectors(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def write_output(text: str, output: Optional[str]) -> None:
    """Print, or write the file atomically (a reader never sees half a report)."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomically(output, text)
    except OSError as exc:
        raise UsageProblem(f"cannot write {output}: {exc.strerror or exc}") from None


def check_output_path(output: Optional[str]) -> None:
    """Refuse an -o that can never be written before spending a check on it (exit 2)."""
    if output is None:
        return
    if os.path.isdir(output):
        raise UsageProblem(f"cannot write {output}: Is a directory")
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise UsageProblem(f"cannot write {output}: No such directory {parent}")
    if not os.access(parent, os.W_OK):
        raise UsageProblem(f"cannot write {output}: Permission denied")


class AuditorGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in self.commands:
            # An unknown name loads them all: click's "Did you mean" draws on self.commands.
            for name in [cmd_name] if cmd_name in LAZY_COMMANDS else list(LAZY_COMMANDS):
                if name not in self.commands:
                    module, attribute = LAZY_COMMANDS[name]
                    self.add_command(getattr(importlib.import_module(module), attribute))
        return super().get_command(ctx, cmd_name)

    def main(self, *args, **kwargs):  # one line instead of a traceback for unexpected errors
        try:
            return super().main(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # pragma: no cover - a bug; still no traceback for users
            if os.environ.get("AUDITOR_DEBUG"):
                raise
            click.echo(f"auditor: internal error: {type(exc).__name__}: {exc} "
                       f"(set AUDITOR_DEBUG=1 for the traceback)", err=True)
            sys.exit(2)


def _version_line() -> str:
    """The version, and whether the optional C accelerator (auditor/speed/speedups.py) is in use."""
    from auditor.speed import accelerator_available

    return f"training-auditor {__version__} (C accelerator: {'on' if accelerator_available() else 'off'})"


def _print_version(ctx, _param, value):
    if value and not ctx.resilient_parsing:
        click.echo(_version_line())
        ctx.exit(0)


def _size_option(ctx, _param, value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    from auditor.config import parse_size

    try:
        return parse_size(value.strip() if not value.strip().isdigit() else int(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """training-auditor: finds the silent bugs of PyTorch training code."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rules to run: codes, prefixes (TRN2) or names; comma-separated.")
@click.option("--extend-select", multiple=True, help="Rules to add to the selection.")
@click.option("--ignore", multiple=True, help="Rules to leave out.")
@click.option("--exclude", multiple=True, help="Globs to exclude, replacing the defaults.")
@click.option("--extend-exclude", multiple=True, help="Globs to exclude on top of the defaults.")
@click.option("--output-format", type=click.Choice(["text", "json", "sarif", "github"]), default=None,
              help="Output format (default: text).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the report to FILE.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit status 1 (default: error).")
@click.option("--statistics", is_flag=True, help="Count findings per rule.")
@click.option("--show-source", is_flag=True, help="Show the flagged source line.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Processes (default: CPU count).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="pyproject.toml to read instead of the nearest one.")
@click.option("--color/--no-color", default=None, help="Force or disable colors (default: on a terminal).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache (.auditor_cache/).")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also apply fixes that change behaviour.")
@click.option("--diff", is_flag=True,
              help="Print the fixes as a unified diff (apply with `patch -p0` here) and write nothing; "
                   "exit 1 if there is anything to fix.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), default=None,
              help="Report only findings not recorded in this baseline file.")
@click.option("--write-baseline", "write_baseline_path", type=click.Path(dir_okay=False), default=None,
              help="Record the current findings in FILE as the baseline and exit 0.")
@click.option("--max-file-size", "max_file_size", default=None, metavar="SIZE", callback=_size_option,
              help="Skip files over SIZE of source (notebooks: of code) with a notice: bytes, or 500kB, 2MB; "
                   "0 checks every file (default: 500kB, or max-file-size in [tool.auditor]).")
@click.option("--include-markdown/--no-include-markdown", default=None,
              help="Also check fenced Python blocks of .md files found in directories "
                   "(a .md file named is always checked; default: include-markdown in [tool.auditor], else no).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def check(paths, select, extend_select, ignore, exclude, extend_exclude, output_format, output, exit_zero,
          fail_on, statistics, show_source, quiet, jobs, config_path, color, fix, unsafe_fixes, diff,
          baseline_path, write_baseline_path, no_cache, max_file_size, include_markdown) -> None:
    """Check PATHS (default: the current directory) for training bugs."""
    from auditor.checker import CheckRequest, load_request_config
    from auditor.report import FORMATS_WITH_FIXES

    fmt = output_format or "text"
    check_output_path(output)
    request = CheckRequest(
        paths=list(paths) or ["."],
        select=_split_selectors(select) or None,
        extend_select=_split_selectors(extend_select),
        ignore=_split_selectors(ignore),
        exclude=_split_selectors(exclude) or None,
        extend_exclude=_split_selectors(extend_exclude),
        fail_on=fail_on,
        jobs=jobs,
        config_path=config_path,
        fix=fix, diff=diff, unsafe_fixes=unsafe_fixes, baseline=baseline_path, write_baseline=write_baseline_path,
        no_cache=no_cache, show_fixes=fmt in FORMATS_WITH_FIXES,
        max_file_size=max_file_size, include_markdown=include_markdown,
    )
    use_color = color if color is not None else (output is None and sys.stdout is not None and sys.stdout.isatty()
                                                 and not os.environ.get("NO_COLOR"))
    config = load_request_config(request)
    view = {"format": fmt, "color": use_color, "statistics": statistics, "show_source": show_source,
            "quiet": quiet, "exit_zero": exit_zero}
    memo = _run_memo(request, config, view)
    if memo is not None and memo.recorded is not None:
        _leave_ticket(memo, request, config)
        _emit(memo.recorded, output)
        return
    # The memo's key was computed over the files it discovered: check exactly those.
    recorded = _check_and_render(request, config, view, output, memo.files if memo is not None else None,
                                 memo.scope if memo is not None else None)
    if recorded is None:
        return  # --diff / --write-baseline printed their own output
    if memo is not None and _unchanged_since_keyed(memo):
        from auditor.speed import run_memo

        run_memo.store(memo.directory, memo.key, recorded)
        memo.recorded = recorded
        _leave_ticket(memo, request, config)
    _emit(recorded, output)


def _unchanged_since_keyed(memo: "_Memo") -> bool:
    """Whether the checked files still hold the bytes the memo's key was computed from.

    A file saved while the check ran may have been read in its new state: recording
    that report under the old bytes' key would replay it for the old bytes later.
    """
    from auditor.fingerprint import content_key

    if memo.scope is not None:
        memo.listing = memo.scope.fresh_listing()
        if memo.scope.state(memo.listing) != memo.scope.state():
            return False  # a neighbour changed: its summary may be the old one's or the new one's
    return content_key(memo.header, memo.files) == memo.key


@dataclass
class _Memo:
    directory: str
    key: str
    header: bytes  # the key's part besides the files' bytes
    files: list[str]
    recorded: Optional[object]  # a RecordedRun: replayed when loaded, else recorded after the check
    # Where the run looks for neighbours (auditor/neighbours.py); its listing is in the key.
    scope: Optional[object] = None
    listing: Optional[tuple] = None  # the scope listed again after the run


def _run_memo(request, config, view: dict) -> Optional[_Memo]:
    """The memo of this run when it may replay or record; else None."""
    if request.no_cache or config.get("cache", True) is False or request.fix or request.diff \
            or request.baseline or request.write_baseline or config.get("baseline"):
        return None
    from dataclasses import asdict

    from auditor.speed import run_memo
    from auditor.cache import cache_directory
    from auditor.checker import discover_paths, neighbour_scope_for
    from auditor.files import path_problem
    from auditor.fingerprint import content_key

    options = {k: v for k, v in asdict(request).items() if k != "jobs"}
    options.update(view)
    # A path missing (or a FIFO...) now and a directory later discovers the same files: not the same output.
    options["given"] = [(path, path_problem(path)) for path in request.paths]
    files = discover_paths(request, config)
    # The neighbours' findings-changing state: every project file's size and modification
    # time (a file that starts importing a checked one changes the findings too).
    scope = neighbour_scope_for(request, config, files)
    options["project"] = scope.state() if scope is not None else None
    header = run_memo.run_header(options, config.path, config.values)
    key = content_key(header, files)
    if key is None:
        return None
    directory = cache_directory(config.root, config.get("cache-dir"))
    return _Memo(directory, key, header, files, run_memo.load(directory, key), scope)


def _leave_ticket(memo: _Memo, request, config) -> None:
    """Let the next identical command line replay before importing this module (auditor/speed/fast_replay.py)."""
    from auditor.speed import fast_replay
    from auditor.checker import discover_paths, suffixes_for

    if fast_replay.started() is None:
        return  # not started through fast_replay.main, or not a command line it replays
    recorded = memo.recorded
    walked: list = []
    try:
        files_now = discover_paths(request, config, walked)
    except OSError:
        return  # a path vanished during the run: nothing worth recording
    stats: list = []
    if memo.scope is not None:  # the project around the checked files, listed again as for discovery
        listing = memo.listing or memo.scope.fresh_listing()
        if memo.scope.state(listing) != memo.scope.state():
            return  # a project file changed since the key was computed
        walked = walked + listing[1]
        stats = list(listing[0])
    fast_replay.record(memo.directory, paths=request.paths, config_arg=request.config_path, config_file=config.path,
                       header=memo.header, files=memo.files, key=memo.key,
                       output=(recorded.stdout, recorded.stderr, recorded.exit_code),
                       walked=walked, files_now=files_now, suffixes=suffixes_for(request, config), stats=stats)


def _check_and_render(request, config, view: dict, output: Optional[str], paths: Optional[list] = None,
                      scope=None):
    """Run the check; return what it prints and its exit status (None after --diff/--write-baseline)."""
    from auditor.checker import run_check
    from auditor.report import render
    from auditor.speed import run_memo

    outcome = run_check(request, _all_rules(), config, paths, scope)
    if request.diff or request.write_baseline:
        _finish_diff_or_baseline(outcome, request.diff, output, request.write_baseline)
        return None
    stderr = [f"{notice.path}: notice: {notice.message}" for notice in outcome.report.notices]
    stderr += [str(error) for error in outcome.report.file_errors]
    text = render(outcome.report, view["format"], color=view["color"], show_source=view["show_source"],
                  statistics=view["statistics"], quiet=view["quiet"], sources=outcome.source_lines)
    if outcome.baseline_matched and not view["quiet"]:
        stderr.append(f"auditor: {outcome.baseline_matched} finding(s) accepted by the baseline not shown")
    failing = Severity.parse(outcome.fail_on)
    has_failures = any(f.severity >= failing for f in outcome.report.findings)
    failed = (has_failures and not view["exit_zero"]) or bool(outcome.report.file_errors)
    return run_memo.RecordedRun(stdout=text, stderr=stderr, exit_code=1 if failed else 0)


def _emit(recorded, output: Optional[str]) -> None:
    for line in recorded.stderr:
        click.echo(line, err=True)
    write_output(recorded.stdout, output)
    if recorded.exit_code:
        sys.exit(recorded.exit_code)


def _finish_diff_or_baseline(outcome, diff: bool, output: Optional[str], baseline: Optional[str]) -> None:
    """--diff prints the fixes instead of the report; --write-baseline only records."""
    if baseline:
        count = outcome.baseline_written or 0
        click.echo(f"auditor: recorded {count} finding{'s' if count != 1 else ''} in {baseline}", err=True)
        return
    from auditor.fixer import unified_diff

    for notice in outcome.report.notices:
        click.echo(f"{notice.path}: notice: {notice.message}", err=True)
    write_output("".join(unified_diff(f) for f in outcome.fixes), output)
    count = sum(f.applied for f in outcome.fixes)
    click.echo(f"auditor: would fix {count} finding{'s' if count != 1 else ''} in {len(outcome.fixes)} "
               f"file{'s' if len(outcome.fixes) != 1 else ''}", err=True)
    if outcome.fixes:
        sys.exit(1)


@cli.command(name="rules")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text")
def rules_command(output_format: str) -> None:
    """List every rule."""
    rules = _all_rules()
    if output_format == "json":
        import json

        click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity.label,
                                "kind": r.kind, "default": r.default, "summary": r.summary} for r in rules],
                              indent=2))
        return
    width = max(len(r.name) for r in rules)
    click.echo(f"{'code':7} {'name':{width}} {'severity':8} {'found by':8} {'default':7} summary")
    for r in rules:
        click.echo(f"{r.code:7} {r.name:{width}} {r.severity.label:8} {r.kind:8} {'on' if r.default else 'opt-in':7} "
                   f"{r.summary}")


@cli.command(name="rule")
@click.argument("identity")
def rule_command(identity: str) -> None:
    """Print the documentation of one rule, by code or name."""
    wanted = identity.strip()
    for r in _all_rules():
        if r.code == wanted.upper() or r.name == wanted.lower():
            click.echo(r.docs(), nl=False)
            return
    raise click.UsageError(f"unknown rule {identity!r}; `auditor rules` lists them")


@cli.command(name="clean")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="pyproject.toml to read instead of the nearest one.")
def clean_command(paths, config_path) -> None:
    """Remove the cache of the project holding PATHS (default: the current directory)."""
    from auditor.cache import cache_directory, clean
    from auditor.config import ConfigError, load_config

    try:
        config = load_config(list(paths) or ["."], config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    directory = cache_directory(config.root, config.get("cache-dir"))
    removed = clean(directory)
    click.echo(f"auditor: {'removed' if removed else 'no cache at'} {directory}", err=True)


def main() -> None:
    cli(prog_name="auditor")


if __name__ == "__main__":
    main()
