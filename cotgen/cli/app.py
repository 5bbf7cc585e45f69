"""The Typer application every command module registers on, and its shared options."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

app = typer.Typer(
    name="cotgen",
    help="Chain-of-thought datasets for ambiguous speech-emotion reasoning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=False)
err_console = Console(stderr=True)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details (to cotgen.log and stderr)."),
) -> None:
    logging.getLogger("cotgen").setLevel(logging.DEBUG if verbose else logging.INFO)
