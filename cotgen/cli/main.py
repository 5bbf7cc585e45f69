"""Entry point of the ``cotgen`` console script.

Every module in ``cotgen.cli`` other than ``app`` and ``main`` holds commands and registers them on
the shared app when imported, so adding a command means adding a module. Every error the user can fix
looks the same: one ``error: ...`` line on stderr and exit status 2, never a traceback. That covers
:class:`~cotgen.core.errors.CotgenError`, usage errors (an unknown option, a bad value; the line names the
command's ``--help``), and operating-system errors on the user's paths (an output folder under a file, no
permission, a full disk), which can surface from any command's writes and say enough on their own. Ctrl-C
exits with status 130 and says how to resume.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import cotgen.cli
from cotgen.cli.app import app, err_console
from cotgen.cli.help_format import use_cotgen_help
from cotgen.core.errors import CotgenError, Interrupted
from cotgen.core.inert import inert
from cotgen.core.redact import redact

_INFRASTRUCTURE = {"app", "main"}
INTERRUPTED_STATUS = 130
# Recent typer vendors its own copy of click (typer._click), older typer uses click itself: take the exception
# classes from the copy typer raises, through the BadParameter it exports.
_CLICK_ERRORS = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]
UsageError: type[Exception] = _CLICK_ERRORS["UsageError"]


def get_app() -> typer.Typer:
    """The app with every command module imported (also what tests drive with ``CliRunner``)."""
    for module in pkgutil.iter_modules(cotgen.cli.__path__):
        if module.name not in _INFRASTRUCTURE:
            importlib.import_module(f"cotgen.cli.{module.name}")
    use_cotgen_help(app)
    return app


def _shown(message: str) -> str:
    """A message as printed: no credential (:mod:`cotgen.core.redact`), no markup or control acting (inert)."""
    return inert(redact(message), keep="\n")


def _error(message: str, status: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {_shown(message)}", highlight=False, soft_wrap=True)
    sys.exit(status)


def main() -> None:
    """Run the CLI; print user errors as one line."""
    cli = get_app()
    try:
        # Not standalone: click would print usage errors in its own boxed style and swallow Ctrl-C.
        status = cli(standalone_mode=False)
    except Interrupted as exc:
        err_console.print(_shown(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(INTERRUPTED_STATUS)
    except CotgenError as exc:
        _error(str(exc))
    except UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `cotgen`: its message is the help page
            err_console.print(exc.format_message(), highlight=False)  # type: ignore[attr-defined]
            sys.exit(2)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        _error(f"{exc.format_message()}{hint}", exc.exit_code)  # type: ignore[attr-defined]
    except ClickException as exc:
        _error(exc.format_message(), exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        _error("aborted", 1)
    except OSError as exc:
        where = f"cannot use {exc.filename}" if exc.filename else "input/output error"
        _error(f"{where} ({exc.strerror or exc})")
    if status == INTERRUPTED_STATUS:  # Ctrl-C in a command that has nothing to say about resuming
        err_console.print("interrupted; rerun the same command to resume", highlight=False)
    sys.exit(status if isinstance(status, int) else 0)
