"""Entry point of the ``cotgen`` console script.

Every module in ``cotgen.cli`` other than ``app`` and ``main`` holds commands and registers them on
the shared app when imported, so adding a command means adding a module. User errors
(:class:`~cotgen.core.errors.CotgenError`) become one line on stderr and exit status 2, never a traceback;
so do operating-system errors on the user's paths (an output folder under a file, no permission, a full disk),
which can surface from any command's writes and say enough on their own (the path and the system's reason).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import cotgen.cli
from cotgen.cli.app import app, err_console
from cotgen.core.errors import CotgenError

_INFRASTRUCTURE = {"app", "main"}


def get_app() -> typer.Typer:
    """The app with every command module imported (also what tests drive with ``CliRunner``)."""
    for module in pkgutil.iter_modules(cotgen.cli.__path__):
        if module.name not in _INFRASTRUCTURE:
            importlib.import_module(f"cotgen.cli.{module.name}")
    return app


def main() -> None:
    """Run the CLI; print user errors as one line."""
    cli = get_app()
    try:
        cli()
    except CotgenError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:
        where = f"cannot use {exc.filename}" if exc.filename else "input/output error"
        err_console.print(f"[bold red]error:[/] {where} ({exc.strerror or exc})", highlight=False, soft_wrap=True)
        sys.exit(2)
