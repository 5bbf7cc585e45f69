"""The Typer application every command module registers on, and its shared options.

Three things every command gets here rather than in each module: ``-v/--verbose`` wherever it stands on the
command line (people add it at the end after a failure), warnings of the ``cotgen`` logger on stderr for the
command's duration (a misspelt manifest column must be seen without ``-v``), and ``--version``.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from cotgen.cli.help_format import CotgenHelpGroup
from cotgen.core.inert import inert
from cotgen.core.run_log import LOGGER_NAME, SecretFilter

VERBOSE_FLAGS = frozenset({"-v", "--verbose"})


def hoist_flags(args: list[str], flags: frozenset[str] = VERBOSE_FLAGS) -> list[str]:
    """``args`` with every ``flags`` token moved to the front, where the group's own options are parsed.

    Tokens after ``--`` are arguments, never options, so they stay where they are.
    """
    end = args.index("--") if "--" in args else len(args)
    head = args[:end]
    return [a for a in head if a in flags] + [a for a in head if a not in flags] + args[end:]


class CotgenGroup(CotgenHelpGroup):
    """The command group: global flags are accepted after the command name too (``cotgen build -v``)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_flags(args))


app = typer.Typer(
    name="cotgen",
    cls=CotgenGroup,
    help="Chain-of-thought datasets for ambiguous speech-emotion reasoning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=False)
err_console = Console(stderr=True)


class WarningLine(logging.Handler):
    """Prints each warning of the cotgen logger as one ``warning: ...`` line on stderr.

    Warnings only: an error that stops a command reaches the user once, as the exception the CLI prints; its log
    record goes to ``cotgen.log`` (and to stderr with ``-v``).
    """

    def __init__(self, target: Console) -> None:
        super().__init__(level=logging.WARNING)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR:
            self.target.print(f"[yellow]warning:[/] {inert(self.format(record))}", highlight=False, soft_wrap=True)


def _stderr_handler(verbose: bool) -> logging.Handler:
    """-v: every record with time and level (RichHandler); otherwise warnings only, one plain line each."""
    if verbose:
        return RichHandler(console=err_console, show_path=False)
    return WarningLine(err_console)


def _version(value: bool) -> None:
    if value:
        console.print(f"cotgen {metadata.version('cotgen')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details (to cotgen.log and stderr); also after the command.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print cotgen's version and exit.")
    ] = False,
) -> None:
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    # On stderr for this command only: a later command in the same process (a notebook, a test) neither prints
    # lines it did not ask for nor prints each line twice. Secrets are blanked on it, in and out of a run log.
    handler = _stderr_handler(verbose)
    handler.addFilter(SecretFilter(()))
    log.addHandler(handler)
    ctx.call_on_close(lambda: log.removeHandler(handler))
