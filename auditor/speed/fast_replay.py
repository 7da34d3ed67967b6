"""Replaying an unchanged `auditor check` before click, the checker or libcst is imported.

The run memo (auditor/speed/run_memo.py) replays an unchanged run, but only once click, the
configuration and the checker are imported, and on a warm tree those imports are most
of what the command costs. So both entry points come here first. What can be learnt
from the bare command line and its surroundings (the arguments, the working directory,
NO_COLOR and whether stdout is a terminal, the tool's own source files, the
configuration file found for the paths and its bytes) is the *probe*; the last full
run with the same probe left a *ticket* under it in the cache directory. The ticket
holds what proves the rest unchanged: what every directory that discovery walked held,
and the run key over the checked files' bytes, both recomputed here. Only then is the
recorded output replayed. Anything unusual, any mismatch and any error fall through to
the full run, which leaves a fresh ticket.

The command's entry point (auditor/__main__.py) calls `replay_or_continue` first and
hands the full run to `run_check_command`; this module never imports the CLI.

Only the standard library modules that Python loads at start-up anyway (plus marshal, gc
and _blake2, all built in) are imported here: this module is the whole warm run.
AUDITOR_DEBUG_REPLAY=1 prints one line to stderr: whether it replayed, and why not.
"""

from __future__ import annotations

import codecs
import gc
import marshal
import os
import sys

from auditor.config_search import find_config
from auditor.fingerprint import blake2b, content_key, listed_name, tool_digest

FORMAT = 2  # 2: the neighbours' project files (size, mtime) in "stats"
_PREFIX = f"ticket-v{FORMAT}-"
_KEEP = 8  # one ticket per command line in use; a few suffice, as for the run memos

# `check` options that take a value, and its flags. Every other option is left to click:
# those that write (--fix, -o, --write-baseline), read more than the tree (--baseline),
# print something else (--diff, --help, --version) or must not touch the cache (--no-cache).
_VALUE_OPTIONS = frozenset({"--select", "--extend-select", "--ignore", "--exclude", "--extend-exclude",
                            "--output-format", "--fail-on", "-j", "--jobs", "--config"})
_FLAGS = frozenset({"--exit-zero", "--statistics", "--show-source", "-q", "--quiet", "--color", "--no-color",
                    "--unsafe-fixes"})

# The probe of this process, taken before the full run could change anything, so that
# the full run records its ticket under what the next process will compute; None when
# the command line does not qualify.
_started: dict | None = None


def replay_or_continue(argv: list[str]) -> None:
    """Replay and exit the process when `argv` is an unchanged `check`; else return."""
    if argv[:1] == ["check"]:
        # A check makes no cyclic garbage worth collecting (the engine pauses the collector
        # while checking and collects every 1,000 files itself), but importing libcst and
        # the rules would trigger about 70 collections, about 1% of a small check.
        gc.disable()
    _replay_if_unchanged(argv)


def run_check_command(load) -> None:
    """Import the CLI (`load()` returns its entry) and run the full `check` command line with
    the speed settings a check allows; never returns.

    (`load` is unannotated: `typing` is not among the modules Python has loaded at start-up.)

    A check runs no code but ours: its classes' generated methods come compiled from the
    last run (auditor/speed/generated_code.py), about 7% of a check of one file, so the CLI
    and everything it imports must be imported inside that block; and it
    leaves without interpreter teardown (`_exit_now`).
    """
    from auditor.speed.generated_code import generated_code_cached, own_classes

    try:
        with generated_code_cached(own_classes()):
            load()()
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


def _exit_now(status: object) -> None:
    """End a finished `check` without tearing the interpreter down.

    Teardown frees every object left, one by one (the last trees, libcst's hundreds of
    classes): about a tenth of a check of a small repository. A check has nothing left
    to do by then (reports written, cache saved, worker processes joined), so the
    streams are flushed and the process leaves, with the status Python would give.
    Only the `check` command does this: `auditor run` must let the user's script's own
    exit handlers run.
    """
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:  # sys.exit("message"): Python prints it and exits 1
        sys.stderr.write(f"{status}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe, a closed file
            code = code or 120  # what Python reports when flushing at exit fails
    os._exit(code & 0xFF if code >= 0 else 1)


def _replay_if_unchanged(argv: list[str]) -> None:
    """Replay and exit when a ticket proves this run unchanged; else return."""
    global _started
    output = None
    try:
        probe = _probe(argv)
        if probe is None:
            reason = "not a plain check"
        else:
            _started = probe
            ticket, reason = _matching_ticket(probe)
            if ticket is not None:
                output, reason = _printable(ticket)
    except Exception as exc:  # a replay is only ever a shortcut: the full run will say what is wrong
        reason = f"{type(exc).__name__}: {exc}"
    if os.environ.get("AUDITOR_DEBUG_REPLAY"):
        sys.stderr.write(f"auditor: fast replay: {'hit' if output else 'miss'} ({reason})\n")
    if output is not None:
        _emit(*output)


def _parse_check(argv: list[str]) -> tuple[list[str], str | None, list[str]] | None:
    """(paths, --config value, the arguments that can change the output) of `check [options]
    [paths]` as click reads it; None for anything else."""
    if not argv or argv[0] != "check":
        return None
    paths: list[str] = []
    config_arg = None
    keyed = [argv[0]]
    rest = iter(argv[1:])
    for token in rest:
        if token == "--":
            tail = list(rest)
            paths.extend(tail)
            keyed += [token, *tail]
            break
        if not token.startswith("-") or token == "-":
            paths.append(token)
            keyed.append(token)
            continue
        if token.startswith("--"):
            name, equals, value = token.partition("=")
        elif token.startswith("-j") and len(token) > 2:  # -j2
            name, equals, value = "-j", "=", token[2:]
        else:
            name, equals, value = token, "", ""
        if name in _FLAGS and not equals:
            keyed.append(token)
            continue
        if name not in _VALUE_OPTIONS:
            return None
        consumed = [token]
        if not equals:
            following = next(rest, None)
            if following is None:
                return None
            value = following
            consumed.append(following)
        if name == "--config":
            config_arg = value
        # The job count never changes the output (the run memo leaves it out of its key
        # too): a valid one is left out, so that -j1 and -j4 share a ticket.
        if not (name in ("-j", "--jobs") and value.isascii() and value.isdigit() and int(value) >= 1):
            keyed.extend(consumed)
    return paths, config_arg, keyed


def _probe(argv: list[str]) -> dict | None:
    """Everything a ticket must match that is known before the run, or None when argv does not qualify."""
    parsed = _parse_check(argv)
    if parsed is None or sys.stdout is None or sys.stderr is None:
        return None
    paths = parsed[0] or ["."]
    config_arg, keyed = parsed[1], parsed[2]
    config_file = os.path.abspath(config_arg) if config_arg else find_config(paths)
    config_digest = None
    cache_dir = os.path.join(os.path.dirname(config_file) if config_file else os.getcwd(), ".auditor_cache")
    if config_file:
        with open(config_file, "rb") as handle:  # unreadable: the full run reports it
            data = handle.read()
        config_digest = blake2b(data, digest_size=16).hexdigest()
        configured = _configured_cache_dir(data)
        if configured:  # as auditor.cache.cache_directory; record() refuses any disagreement
            cache_dir = os.path.join(os.path.dirname(config_file), configured)
    return {
        "argv": tuple(keyed), "cwd": os.getcwd(), "tool": tool_digest(f"ticket {FORMAT}"),
        # what cli.check's default colour depends on (besides -o, which never replays)
        "no_color": bool(os.environ.get("NO_COLOR")), "tty": sys.stdout.isatty(),
        "paths": _path_kinds(paths), "config_arg": config_arg, "config_file": config_file,
        "config_digest": config_digest, "cache_dir": cache_dir,
    }


def _configured_cache_dir(data: bytes) -> str | None:
    """`cache-dir` from [tool.auditor], parsed only when the text names it (TOML costs more than a replay)."""
    if b"cache-dir" not in data:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - older interpreters
        import tomli as tomllib
    table = tomllib.loads(data.decode("utf-8")).get("tool", {}).get("auditor", {})
    value = table.get("cache-dir")
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("invalid cache-dir")  # the full run reports it
    return value


def _ticket_file(probe: dict) -> str:
    name = blake2b(repr(probe).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return os.path.join(probe["cache_dir"], f"{_PREFIX}{name}.marshal")


def _matching_ticket(probe: dict) -> tuple[dict | None, str]:
    """(the ticket, "") when everything it recorded still holds; else (None, why not)."""
    try:
        with open(_ticket_file(probe), "rb") as handle:
            ticket = marshal.load(handle)
    except OSError:
        return None, "no ticket for this command line and configuration"
    if not isinstance(ticket, dict) or ticket.get("probe") != probe:
        return None, "a ticket for another command line"
    suffixes = ticket["suffixes"]
    for directory, skipped, counted in ticket["dirs"]:
        if _counted_entries(directory, skipped or frozenset(), suffixes) != counted:
            return None, f"{directory} changed"
    for path, size, mtime in ticket["stats"]:  # the project files read for neighbours
        try:
            stat = os.stat(path)
        except OSError:
            return None, f"{path} vanished"
        if stat.st_size != size or stat.st_mtime_ns != mtime:
            return None, f"{path} changed"
    if content_key(ticket["header"], ticket["files"]) != ticket["key"]:
        return None, "a checked file changed"
    return ticket, "unchanged"


def _counted_entries(directory: str, skipped: frozenset[str], suffixes: tuple[str, ...]) -> frozenset[str] | None:
    """What auditor.files._walk counts in `directory` (its WalkedDirectory), or None when unlistable."""
    counted = set()
    try:
        entries = os.scandir(directory)
    except OSError:
        return None
    with entries:
        for entry in entries:
            if entry.name in skipped:  # excluded by name then, so excluded now
                continue
            listed = listed_name(entry, suffixes)
            if listed is not None:
                counted.add(listed)
    return frozenset(counted)


def _printable(ticket: dict) -> tuple[tuple[str, list[str], int] | None, str]:
    """((stdout, stderr lines, exit code), "unchanged") when they print here exactly as click.echo would."""
    stdout, stderr, exit_code = ticket["stdout"], ticket["stderr"], ticket["exit_code"]
    for stream, texts in ((sys.stdout, [stdout]), (sys.stderr, stderr)):
        encoding = getattr(stream, "encoding", None)
        if not encoding or codecs.lookup(encoding).name == "ascii":
            return None, "an ASCII stream (click re-wraps it)"
        for text in texts:
            text.encode(encoding, getattr(stream, "errors", None) or "strict")  # fails before printing anything
            # click strips colour codes off a stream that is not a terminal, and wraps Windows consoles
            if "\x1b" in text and (os.name == "nt" or not stream.isatty()):
                return None, "colour codes click would rewrite"
    return (stdout, stderr, exit_code), "unchanged"


def _emit(stdout: str, stderr: list[str], exit_code: int) -> None:
    """Print as cli._emit does and exit; a closed pipe ends the run as click ends it (status 1)."""
    try:
        for line in stderr:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        sys.stdout.write(stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so that flushing at exit cannot fail again
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError):
                pass
        sys.exit(1)
    sys.exit(exit_code)


def started() -> dict | None:
    """The probe this process started with; None when a ticket would never be looked up."""
    return _started


def record(directory: str, *, paths: list[str], config_arg: str | None, config_file: str | None,
           header: bytes, files: list[str], key: str, output: tuple[str, list[str], int],
           walked: list[tuple], files_now: list[str], suffixes: tuple[str, ...], stats: list = ()) -> None:
    """Leave a ticket for the next identical command line, after a full run or a memo replay.

    `header`, `files` and `key` are the run key's parts (`files` as discovered before the
    run); `stats`: (path, size, mtime_ns) of the project files listed for neighbours; `files_now` and `walked` (auditor.files' WalkedDirectory records) come from a
    discovery repeated after the run, just before this call.
    """
    probe = _started
    if probe is None:
        return  # not started through replay_or_continue(), or not a plain check
    if [kind[0] for kind in probe["paths"]] != list(paths) or probe["config_arg"] != config_arg \
            or probe["config_file"] != config_file or probe["cache_dir"] != directory:
        return  # this module read the command line or configuration differently from click: never guess
    if not os.path.isdir(directory):
        return  # the per-file cache creates (and tags) the directory; never create it here
    # The listing is the one after the run: a tree that now yields the files the run
    # checked is a tree this output belongs to (and the cache directory the run may have
    # created is in it, so the next run does not miss once for nothing).
    if files_now != files or _path_kinds(paths) != probe["paths"]:
        return  # the tree changed during the run
    stdout, stderr, exit_code = output
    ticket = {"probe": probe, "suffixes": tuple(suffixes), "dirs": walked, "header": header,
              "files": list(files), "key": key, "stdout": stdout, "stderr": list(stderr), "exit_code": exit_code,
              "stats": [tuple(s) for s in stats]}
    from auditor.atomic import keep_newest, write_atomically

    try:
        write_atomically(_ticket_file(probe), marshal.dumps(ticket))
        keep_newest(directory, _PREFIX, ".marshal", _KEEP)
    except (OSError, ValueError):
        pass  # a read-only tree costs speed, never the check


def _path_kinds(paths: list[str]) -> tuple[tuple[str, bool, bool], ...]:
    """What discovery decides by for each path given: does it exist, is it a directory."""
    return tuple((path, os.path.exists(path), os.path.isdir(path)) for path in paths)
