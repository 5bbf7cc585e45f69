"""``cotgen batch status|cancel --in RUN``: the batches ``build --batch`` (or ``predict --batch``) recorded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cotgen.cli.app import app, console
from cotgen.cli.options import INPUT, ApiKeyEnvOption, BaseUrlOption, RunOption
from cotgen.core.paths import DEFAULT_RUN

if TYPE_CHECKING:
    from cotgen.teachers.batch.journal import BatchEntry

batch_app = typer.Typer(help="Show or cancel the Batch API batches of a run folder.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")

RecordsOption = Annotated[
    Path | None,
    typer.Option(
        "--records",
        metavar="DIR",
        rich_help_panel=INPUT,
        help="Batch records folder (default RUN/batches/; predict's: predictions.batches/).",
    ),
]


def _table(entries: list[BatchEntry]) -> Table:
    table = Table("batch", "state", "status", "requests", "completed", "failed")
    for entry in entries:
        counts = entry.request_counts
        table.add_row(
            entry.batch_id or f"({entry.input_file})",
            entry.state,
            entry.status or "-",
            str(len(entry.custom_ids)),
            str(counts.get("completed", "-")),
            str(counts.get("failed", "-")),
        )
    return table


@batch_app.command("status")
def status_command(
    run_dir: RunOption = DEFAULT_RUN,
    base_url: BaseUrlOption = None,
    api_key_env: ApiKeyEnvOption = None,
    records: RecordsOption = None,
) -> None:
    """Every recorded batch, unfinished ones with the server's current status and counts."""
    from cotgen.teachers.batch.engine import engine_for_run  # here: the engine loads the OpenAI client

    entries = engine_for_run(run_dir, base_url, api_key_env, records).refresh()
    console.print(_table(entries))
    unfinished = sum(1 for e in entries if e.unfinished)
    console.print(f"{unfinished} unfinished; a rerun of cotgen build --batch collects the rest", highlight=False)


@batch_app.command("cancel")
def cancel_command(
    run_dir: RunOption = DEFAULT_RUN,
    base_url: BaseUrlOption = None,
    api_key_env: ApiKeyEnvOption = None,
    records: RecordsOption = None,
) -> None:
    """Cancel every unfinished batch; what they finished is still collected by the next build --batch."""
    from cotgen.teachers.batch.engine import engine_for_run  # here: the engine loads the OpenAI client

    touched = engine_for_run(run_dir, base_url, api_key_env, records).cancel()
    console.print(_table(touched))
    console.print(f"{len(touched)} batch(es) cancelled or abandoned", highlight=False)
