"""Placeholder: replaced by the train command's implementation."""

import click


@click.command(name="train", context_settings={"ignore_unknown_options": True})
def train() -> None:
    """Not implemented yet."""
    raise click.UsageError("'auditor train' is not implemented yet")
