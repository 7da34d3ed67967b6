"""Run a script or module the way `python train.py ARGS` / `python -m pkg.mod ARGS` would.

The script gets `__name__ == "__main__"`, its own `sys.argv`, the working directory it
was started in and `sys.path[0]` set to its directory (the current directory for -m).
Its exit status passes through; an exception is printed as Python prints it, without
our frames, and still lets the findings gathered until then be reported.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Optional

from auditor.findings import Finding
from reference_loop.script_audit.frames import add_user_root, is_user_file
from reference_loop.script_audit.session import AuditSession


@dataclass
class RunOutcome:
    exit_code: int
    findings: list[Finding] = field(default_factory=list)
    # One line for the tool's part, when the script could not start or did not finish.
    note: Optional[str] = None
    started: bool = True


class ScriptNotFound(Exception):
    """The script or module does not exist: nothing was run."""


def _check_target(target: str, is_module: bool) -> str:
    if is_module:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError) as exc:
            raise ScriptNotFound(f"cannot run module {target!r}: {exc}") from None
        if spec is None:
            raise ScriptNotFound(f"cannot run module {target!r}: no module named {target!r}")
        return target
    if not os.path.exists(target):
        raise ScriptNotFound(f"cannot run {target!r}: no such file")
    if os.path.isdir(target) and not os.path.exists(os.path.join(target, "__main__.py")):
        raise ScriptNotFound(f"cannot run {target!r}: a directory without __main__.py")
    return target


def _module_root(name: str) -> str:
    spec = importlib.util.find_spec(name)
    origin = getattr(spec, "origin", None) if spec is not None else None
    return os.path.dirname(origin) if origin else os.getcwd()


def _strip(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """Drop the leading frames that are ours or runpy's: the traceback starts in the script."""
    first = tb
    while tb is not None and not is_user_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb if tb is not None else first


def _print_exception(exc: BaseException, compiling: bool = False) -> None:
    sys.stdout.flush()
    if compiling:
        # Python prints no traceback for a script that does not compile, only the error.
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    else:
        traceback.print_exception(type(exc), exc, _strip(exc.__traceback__))
    sys.stderr.flush()


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    # sys.exit("message"): Python prints the message and exits with status 1.
    sys.stdout.flush()
    print(code, file=sys.stderr)
    return 1


def run_target(target: str, args: list[str], is_module: bool = False) -> RunOutcome:
    """Run the script under the audit and return its exit status and the findings."""
    try:
        _check_target(target, is_module)
    except ScriptNotFound as exc:
        return RunOutcome(2, note=str(exc), started=False)
    script = None
    if not is_module:
        script = os.path.join(target, "__main__.py") if os.path.isdir(target) else target
        try:
            with open(script, "rb") as handle:
                compile(handle.read(), script, "exec")
        except SyntaxError as exc:
            _print_exception(exc, compiling=True)
            return RunOutcome(1, note=f"{target} has a syntax error: it did not run", started=False)
        except (OSError, ValueError) as exc:
            return RunOutcome(2, note=f"cannot run {target!r}: {exc}", started=False)

    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [target] + list(args)
    if is_module:
        path0 = os.getcwd()
    elif os.path.isdir(target):
        path0 = os.path.abspath(target)  # python DIR puts the directory itself first
    else:
        path0 = os.path.dirname(os.path.abspath(target))
    if sys.path:
        sys.path[0] = path0
    else:
        sys.path.insert(0, path0)
    add_user_root(path0 if not is_module else _module_root(target))
    session = AuditSession()
    session.install()
    code, note = 0, None
    try:
        if is_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt as exc:
        _print_exception(exc)
        code, note = 130, f"{target} was interrupted"
    except BaseException as exc:  # the script's own failure: report it like Python, then audit
        _print_exception(exc)
        code, note = 1, f"{target} raised {type(exc).__name__}"
    finally:
        session.uninstall()
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0
    sys.stdout.flush()
    try:
        findings = session.findings()
    except Exception as exc:  # a bug of ours must not hide the script's own result
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        return RunOutcome(code, [], f"internal error while judging the run: {type(exc).__name__}: {exc}")
    return RunOutcome(code, findings, note)
