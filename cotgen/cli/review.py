"""``cotgen review``: write a run's static review page (thin: see cotgen.review)."""

from __future__ import annotations

from typing import Annotated

import typer

from cotgen.cli.app import app, console
from cotgen.cli.options import OUTPUT, AllowOutsideRootOption, ForceOption, OutOption, RunOption
from cotgen.core.inert import inert
from cotgen.core.paths import DEFAULT_RUN


@app.command()
def review(
    run_dir: RunOption = DEFAULT_RUN,
    out: OutOption = None,
    copy_audio: Annotated[
        bool,
        typer.Option(
            "--copy-audio", rich_help_panel=OUTPUT, help="Copy the clips beside the page instead of linking to them."
        ),
    ] = False,
    allow_outside_root: AllowOutsideRootOption = False,
    force: ForceOption = False,
) -> None:
    """Write a static page (open index.html from disk) to listen to, inspect and mark the run's traces."""
    # Imported here: `cotgen` imports every command module for every command, and this one loads pandas.
    from cotgen.review import write_review

    summary = write_review(run_dir, out, copy_audio=copy_audio, allow_outside_root=allow_outside_root, force=force)
    console.print(
        f"{summary.utterances} utterances, {summary.traces} traces, {summary.rejects} rejects, {summary.pairs} pairs"
    )
    if summary.audio_missing:
        console.print(f"[yellow]{summary.audio_missing} clips are not on disk: their players show the missing path")
    if summary.audio_outside:
        console.print(
            f"[yellow]{len(summary.audio_outside)} clips lie outside the corpus root and are not linked "
            f"(first {inert(summary.audio_outside[0])}); --allow-outside-root links them",
            highlight=False,
        )
    if summary.audio_unmeasured:
        console.print(
            f"[yellow]{summary.audio_unmeasured} clips did not decode as audio at the features stage: not linked"
        )
    if summary.faithfulness_changed:
        console.print(
            f"[yellow]{summary.faithfulness_changed} traces score a different faithfulness against today's "
            "features.parquet than when built (marked on the page)"
        )
    console.print(f"open {summary.index.resolve().as_uri()}")
