"""Errors shown to the user as one line, never as a traceback."""

from __future__ import annotations

from typing import IO, Optional

import click


class UsageProblem(click.ClickException):
    """Bad paths, configuration or selectors: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: Optional[IO] = None) -> None:
        click.echo(f"auditor: error: {self.format_message()}", err=True, file=file)
