"""``--help`` reads at 80 columns, and every option shared by commands is declared once (cotgen/cli/options.py).

What a new user met before: ``cotgen build --help`` was 207 lines at 80 columns with descriptions squeezed to ~19
characters, names and environment variables cut with "…", plain flags shown as ``<bool>``; and the option blocks
were spelt again in every command, each copy free to drift.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer
import typer.main

from cotgen.cli.main import get_app

NBSP = "\u00a0"
BUILD_HELP_LINES_BEFORE = 207  # `cotgen build --help` at 80 columns before the help was laid out by purpose


def _commands() -> Iterator[tuple[str, Any]]:
    """(command path, click command) of every command and group, walked from the assembled app."""

    def walk(path: str, command: Any) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(f"{path} {name}".strip(), sub)

    yield from walk("", typer.main.get_command(get_app()))


COMMANDS = [path for path, _ in _commands()]


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if getattr(p, "param_type_name", "") == "option"]


def _help(cotgen, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    shown = cotgen(*args)
    assert shown.code == 0, shown.err
    return shown.out.replace(NBSP, " ")


@pytest.mark.parametrize("path", COMMANDS)
def test_help_fits_80_columns_and_cuts_nothing(cotgen, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    command = dict(_commands())[path]
    args = path.split()
    full = _help(cotgen, monkeypatch, *args, "--help-all")
    short = _help(cotgen, monkeypatch, *args, "--help")
    for text in (full, short):
        assert max(len(line) for line in text.splitlines()) <= 80
        assert "…" not in text and "<bool>" not in text
    flat = " ".join(full.replace("│", " ").split())  # the help as words, wrapped lines joined again
    for option in _options(command):
        shorts = [o for o in option.opts if not o.startswith("--")]
        spellings = ", ".join([*shorts, *(o for o in option.opts if o not in shorts)])
        names = "/".join([spellings, *option.secondary_opts])
        assert names in flat, f"{path}: {names} missing from --help-all"
        if option.is_flag:  # a flag takes no value, so no metavar follows its names
            assert re.search(rf"│ {re.escape(names)}  ", full), f"{path}: {names} shown with a value"
        elif option.default not in (None, ()) and not option.required:
            assert f"[default: {option.default}]" in flat, f"{path}: default of {names} cut or missing"
    help_text = " ".join(inspect.cleandoc(command.help or "").split())
    assert help_text.split(". ")[0] in flat


def test_build_help_is_half_as_long_and_help_all_shows_the_rest(cotgen, monkeypatch: pytest.MonkeyPatch) -> None:
    short = _help(cotgen, monkeypatch, "build", "--help")
    full = _help(cotgen, monkeypatch, "build", "--help-all")
    assert len(short.splitlines()) <= BUILD_HELP_LINES_BEFORE // 2
    build = dict(_commands())["build"]
    hidden = [o for o in _options(build) if o.opts[0] not in short]
    assert len(hidden) >= 10  # the rarely used options moved out of --help ...
    assert f"Show also the {len(hidden)} rarely used options" in " ".join(short.replace("│", " ").split())
    for option in hidden:  # ... and --help-all shows every one of them
        assert option.opts[0] in full
    for common in ("--corpus", "--root", "--out", "--teacher", "--base-url", "--samples", "--dry-run", "--batch"):
        assert f"│ {common} " in short


def test_help_all_after_options_and_in_groups(cotgen, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--help-all`` is a word anywhere before ``--``, like ``--help``; a command without rare options shows all."""
    after = _help(cotgen, monkeypatch, "build", "--corpus", "demo", "--help-all")
    assert "--batch-poll" in after
    assert "--records" in _help(cotgen, monkeypatch, "batch", "status", "--help-all")
    assert "--help-all" not in _help(cotgen, monkeypatch, "stats", "--help")  # nothing more to show


def _declarations() -> dict[str, list[tuple[str, object]]]:
    """Option name -> (command, the typer.Option object its annotation carries), over every command function."""
    found: dict[str, list[tuple[str, object]]] = {}

    def visit(app: typer.Typer, prefix: str) -> None:
        for info in app.registered_commands:
            name = f"{prefix}{info.name or info.callback.__name__}"
            hints = typing.get_type_hints(info.callback, include_extras=True)
            for hint in hints.values():
                for meta in getattr(hint, "__metadata__", ()):
                    if isinstance(meta, typer.models.OptionInfo):
                        # In an Annotated alias the first name is typer.Option's first argument (its "default").
                        decls = [meta.default, *meta.param_decls] if isinstance(meta.default, str) else []
                        for decl in decls:
                            found.setdefault(decl.split("/")[0], []).append((name, meta))
        for group in app.registered_groups:
            visit(group.typer_instance, f"{prefix}{group.name} ")

    visit(get_app(), "")
    return found


def test_an_option_of_several_commands_is_one_declaration() -> None:
    """Two commands taking ``--base-url`` (or any option) take the same alias: one help, one type, one check."""
    shared = {name: uses for name, uses in _declarations().items() if len({c for c, _ in uses}) > 1}
    assert {"--in", "--out", "--output", "--corpus", "--base-url", "--samples", "--batch"} <= set(shared)
    # `--split` is two options: the split protocol of `export` and which split of an export `predict` asks about.
    two_meanings = {"--split"}
    spelt_twice = {
        name: sorted({c for c, _ in uses})
        for name, uses in shared.items()
        if name not in two_meanings and len({id(meta) for _, meta in uses}) > 1
    }
    assert spelt_twice == {}
