"""How cotgen prints ``--help``: panels by purpose, nothing cut at 80 columns, flags as flags, ``--help-all``.

Typer's own Rich help lays an option out over six table columns (names, short names, negative names, their short
forms, type, help) that Rich shrinks in proportion at 80 columns: names, defaults and environment variables were cut
with "…" and descriptions squeezed to ~19 characters. Here an option is one row of two columns: its names with a
short metavar, never wrapped (the column is as wide as the command's longest), and its help with the default,
wrapped in the rest of the line. A boolean flag shows no metavar: it takes no value.

An option whose panel is a :class:`MorePanel` (rarely used: limits, retries, batch details, …) is listed only by
``COMMAND --help-all``; ``--help`` ends with one line naming those panels, so nothing is out of sight unannounced.

Every command and group gets this formatting from :func:`use_cotgen_help`, called once on the assembled app, so a
new command needs nothing for it.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

MAIN_PANEL = "Options"
HELP_PANEL = "Help"
HELP_ALL = "--help-all"
NBSP = "\u00a0"
_HELP_ALL_KEY = "cotgen.help_all"
# A metavar says what kind of value goes there, in a word; options may set their own (NAME, DIR, URL, ...).
_METAVARS: dict[type, str] = {int: "N", float: "X", Path: "PATH", str: "TEXT"}


class MorePanel(str):
    """A panel title whose options are rarely needed: listed by ``--help-all`` only (``--help`` names the panel)."""


def _metavar(param: Any) -> str:
    if param.metavar:
        return param.metavar
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return _METAVARS.get(annotation, "VALUE")


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _names(param: Any) -> Text:
    """``-v, --verbose``, ``--progress/--no-progress``, ``--out DIR``: every spelling in full, the value's kind."""
    shorts = [o for o in param.opts if not o.startswith("--")]
    longs = [o for o in param.opts if o.startswith("--")]
    text = Text(", ".join([*shorts, *longs]), style="bold cyan")
    if param.secondary_opts:
        text.append("/" + "/".join(param.secondary_opts), style="bold magenta")
    if not param.is_flag:
        text.append(f" {_metavar(param)}", style="yellow")
    return text


def _default(param: Any) -> str | None:
    if param.is_flag:
        # A plain flag is off unless given; a --x/--no-x pair says which of the two is the default.
        return (param.opts[0] if param.default else param.secondary_opts[0]) if param.secondary_opts else None
    if param.default is None or param.default == () or callable(param.default):
        return None
    return str(param.default)


def _option_help(param: Any) -> Text:
    text = Text(inspect.cleandoc(param.help or ""))
    default = _default(param)
    if default is not None:
        text.append(f" [default:{NBSP}{default}]", style="dim")  # never split from its value
    if param.envvar and getattr(param, "show_envvar", False):
        text.append(f" [env:{NBSP}{param.envvar}]", style="dim yellow")
    if param.required:
        text.append(" [required]", style="dim red")
    return text


def _panel(title: str, rows: list[tuple[Text, Text]], name_width: int) -> Panel:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(no_wrap=True, min_width=name_width, max_width=name_width)
    table.add_column(ratio=1, overflow="fold")
    for names, help_text in rows:
        table.add_row(names, help_text)
    return Panel(table, title=title, title_align="left", border_style="dim")


def _panels(params: Iterable[Any], show_more: bool) -> tuple[dict[str, list[Any]], list[str]]:
    """Visible options by panel (in the order they are declared), and the titles of the panels left out."""
    panels: dict[str, list[Any]] = {}
    hidden: list[str] = []
    for param in params:
        if not _is_option(param) or param.hidden:
            continue
        title = HELP_PANEL if param.name == "help" else getattr(param, "rich_help_panel", None) or MAIN_PANEL
        if isinstance(title, MorePanel) and not show_more:
            if title not in hidden:
                hidden.append(title)
            continue
        panels.setdefault(title, []).append(param)
    return panels, hidden


def _description(command: Any) -> Group:
    paragraphs = inspect.cleandoc(command.help or "").partition("\f")[0].split("\n\n")
    first, rest = paragraphs[0].replace("\n", " "), [p.replace("\n", " ") for p in paragraphs[1:]]
    return Group(Text(first), *(Group(Text(""), Text(p, style="dim")) for p in rest))


def render_help(command: Any, ctx: Any, commands: dict[str, Any] | None = None) -> None:
    """Print ``command``'s help: usage, description, option panels, subcommands, and what ``--help-all`` adds."""
    console = Console(highlight=False)
    show_more = bool(ctx.meta.get(_HELP_ALL_KEY))
    panels, hidden = _panels(command.get_params(ctx), show_more)
    console.print(Padding(Text(command.get_usage(ctx), style="bold"), (1, 1, 0, 1)))
    if command.help:
        console.print(Padding(_description(command), (1, 1, 1, 1)))
    help_rows = [(_names(p), _option_help(p)) for p in panels.pop(HELP_PANEL, [])]
    if hidden:
        count = sum(1 for p in command.get_params(ctx) if getattr(p, "rich_help_panel", None) in hidden)
        help_rows.append(
            (
                Text(HELP_ALL, style="bold cyan"),
                Text(f"Show also the {count} rarely used options: {', '.join(hidden)}."),
            )
        )
    width = max((len(names) for names, _ in help_rows), default=0)
    width = max([width, *(len(_names(p)) for params in panels.values() for p in params)])
    for title, params in panels.items():
        console.print(_panel(title, [(_names(p), _option_help(p)) for p in params], width))
    if commands:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="bold cyan")
        table.add_column(ratio=1, overflow="fold")
        for name, sub in commands.items():
            table.add_row(name, Text(inspect.cleandoc(sub.help or "").split("\n\n")[0].replace("\n", " ")))
        console.print(Panel(table, title="Commands", title_align="left", border_style="dim"))
    if help_rows:
        console.print(_panel(HELP_PANEL, help_rows, width))


class CotgenCommand(TyperCommand):
    """A command printing cotgen's help."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        render_help(self, ctx)


class CotgenHelpGroup(TyperGroup):
    """A command group printing cotgen's help (its options and its commands, nothing cut).

    ``--help-all`` is read here, before any command parses its options: it is ``--help`` with a mark in the
    context's ``meta`` (shared by every nested context) that lets the command's help show the rarely used panels.
    Handled as a word on the command line rather than as an option of every command, so it needs no declaration.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if HELP_ALL in args[:end]:
            ctx.meta[_HELP_ALL_KEY] = True
            args = [("--help" if a == HELP_ALL else a) for a in args[:end]] + args[end:]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        commands = {name: self.get_command(ctx, name) for name in self.list_commands(ctx)}
        render_help(self, ctx, {name: cmd for name, cmd in commands.items() if cmd is not None and not cmd.hidden})


def use_cotgen_help(app: typer.Typer) -> None:
    """Give every command and group of ``app`` (and of its sub-apps) cotgen's help formatting."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # a command asking for a class of its own keeps it
            info.cls = CotgenCommand
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            # Unset classes are typer's DefaultPlaceholder objects, holding the default in ``value``.
            if all(getattr(cls, "value", cls) in (None, TyperGroup) for cls in (group.cls, sub.info.cls)):
                group.cls = CotgenHelpGroup
            use_cotgen_help(sub)
