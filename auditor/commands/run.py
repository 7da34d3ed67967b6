"""`auditor run SCRIPT [ARGS]...` / `auditor run -m MODULE [ARGS]...`: audit a script while it runs.

Only click is imported here; torch, scikit-learn and the hooks are imported inside the
command, so `auditor check` never pays for them.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import click

from auditor.commands import require_runtime_extra

from auditor.atomic import write_atomically

FORMATS = ("text", "json", "sarif", "github")
SEVERITIES = ("error", "warning", "info")


def _write(text: str, output: Optional[str]) -> None:
    if output is None:
        # Findings go to stderr: the script's stdout stays what the script printed.
        sys.stderr.write(text)
        sys.stderr.flush()
        return
    try:
        write_atomically(output, text)
    except OSError as exc:
        click.echo(f"auditor run: error: cannot write {output}: {exc.strerror or exc}", err=True)


def _rules() -> list:
    try:
        from rules import ALL_RULES
    except ImportError:  # pragma: no cover - the rule catalog ships with the package
        return []
    return list(ALL_RULES)


@click.command(name="run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                             "help_option_names": ["-h", "--help"]})
@click.option("-m", "module", metavar="MODULE", default=None,
              help="Run a library module as a script, like `python -m MODULE`.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Format of the findings.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the findings to FILE (default: standard error, after the script's output).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when the script succeeded but a finding of this severity or above was made "
                   "(default: the script's own exit status, always).")
@click.option("--color/--no-color", default=None, help="Force or disable colors (default: on a terminal).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(module: Optional[str], output_format: str, output: Optional[str], fail_on: Optional[str],
        color: Optional[bool], args: tuple) -> None:
    """Run SCRIPT (or -m MODULE) with ARGS unchanged and report what it really did.

    \b
      auditor run train.py -- --epochs 3
      auditor run -m mypkg.train --epochs 3
      auditor run --output-format sarif -o audit.sarif train.py

    The script's output and exit status pass through; the findings are printed when
    it ends (also when it raises or is interrupted).
    """
    require_runtime_extra("run")
    arguments = list(args)
    if module is None:
        if not arguments:
            raise click.UsageError("missing the script to run (or -m MODULE)")
        target = arguments.pop(0)
    else:
        target = module
    if arguments and arguments[0] == "--":
        arguments.pop(0)

    from reference_loop.script_audit import run_target

    outcome = run_target(target, arguments, is_module=module is not None)
    if not outcome.started and outcome.exit_code == 2:
        click.echo(f"auditor run: error: {outcome.note}", err=True)
        sys.exit(2)

    from auditor.findings import Severity
    from auditor.report import Report, render

    # Only SARIF describes the rules; importing the catalog costs startup time otherwise.
    report = Report(findings=outcome.findings, files_checked=1,
                    rules=_rules() if output_format == "sarif" else ())
    if outcome.note:
        tail = "no findings" if not outcome.findings else "findings gathered until then below"
        if output is not None:
            tail = f"findings gathered until then written to {output}"
        click.echo(f"auditor run: {outcome.note} (exit status {outcome.exit_code}); {tail}", err=True)
    use_color = color if color is not None else (output is None and sys.stderr.isatty()
                                                 and not os.environ.get("NO_COLOR"))
    _write(render(report, output_format, color=use_color), output)
    code = outcome.exit_code
    if code == 0 and fail_on is not None:
        threshold = Severity.parse(fail_on)
        if any(f.severity >= threshold for f in outcome.findings):
            code = 1
    sys.exit(code)
