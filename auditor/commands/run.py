"""Placeholder: replaced by the run command's implementation."""

import click


@click.command(name="run", context_settings={"ignore_unknown_options": True})
def run() -> None:
    """Not implemented yet."""
    raise click.UsageError("'auditor run' is not implemented yet")
