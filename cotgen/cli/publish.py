"""``cotgen publish``: stage a run (or export) and upload it to a Hub dataset repo (thin: see cotgen.publish)."""

from __future__ import annotations

from typing import Annotated

import typer

from cotgen.cli.app import app, console
from cotgen.cli.options import (
    INPUT,
    OUTPUT,
    AllowOutsideRootOption,
    AllowStaleOption,
    DryRunOption,
    ForceOption,
    RunOption,
)
from cotgen.core.inert import inert
from cotgen.core.paths import DEFAULT_RUN


@app.command()
def publish(
    repo: Annotated[
        str, typer.Option("--repo", metavar="USER/NAME", rich_help_panel=OUTPUT, help="Dataset repo on the Hub.")
    ],
    run_dir: RunOption = DEFAULT_RUN,
    private: Annotated[
        bool, typer.Option("--private", rich_help_panel=OUTPUT, help="Create the repo private.")
    ] = False,
    include_audio: Annotated[
        bool,
        typer.Option(
            "--include-audio",
            rich_help_panel=OUTPUT,
            help="Upload the clips too (default: ids and relative paths only).",
        ),
    ] = False,
    create_pr: Annotated[
        bool, typer.Option("--create-pr", rich_help_panel=OUTPUT, help="Open a pull request instead of committing.")
    ] = False,
    dry_run: DryRunOption = False,
    confirm_license: Annotated[
        bool,
        typer.Option("--confirm-license", rich_help_panel=INPUT, help="Confirm you may publish this corpus's data."),
    ] = False,
    allow_stale: AllowStaleOption = False,
    allow_outside_root: AllowOutsideRootOption = False,
    force: ForceOption = False,
) -> None:
    """Validate, stage and upload a run folder to a Hugging Face dataset repo."""
    # Imported here, not at the top: `cotgen` imports every command module for every command, and huggingface_hub
    # (about 40 MB) is needed by this one only.
    from cotgen.publish import listing, resolve_token, stage, upload

    plan = stage(
        run_dir,
        repo,
        private,
        include_audio,
        create_pr,
        confirm_license,
        allow_stale=allow_stale,
        allow_outside_root=allow_outside_root,
        force=force,
    )
    console.print(f"staged {len(plan.files)} files in {inert(str(plan.stage_dir))}", highlight=False)
    for line in listing(plan):
        console.print(f"  {inert(line)}", highlight=False)
    if dry_run:
        typer.echo(plan.card)
        return
    url = upload(plan, resolve_token())
    console.print(f"uploaded to {plan.repo_id} ({'private' if private else 'public'}): {url}", highlight=False)
