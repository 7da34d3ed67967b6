"""Click commands that live outside cli.py because they belong to the runtime half.

Each module imports only click at import time; torch and scikit-learn are imported
inside the command body so that `auditor check` never pays for them.
"""

import importlib.util

import click

RUNTIME_PACKAGES = ("torch", "numpy", "sklearn")


def require_runtime_extra(command: str) -> None:
    """One clear line, not an ImportError, when the runtime extra is not installed."""
    missing = [name for name in RUNTIME_PACKAGES if not _installed(name)]
    if missing:
        error = click.ClickException(
            f"`auditor {command}` needs the runtime extra ({', '.join(missing)} not installed): "
            f"pip install \"training-auditor[runtime]\"")
        error.exit_code = 2
        raise error


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
