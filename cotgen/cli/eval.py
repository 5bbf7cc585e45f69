"""``cotgen eval``: a model's predicted distributions against the human ones, with baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console, err_console
from cotgen.cli.options import INPUT, SCORING, IdsOption, OutputOption, ReadoutOption, RunOption, SeedOption
from cotgen.core.errors import CotgenError
from cotgen.core.paths import DEFAULT_RUN


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise CotgenError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


@app.command("eval")
def eval_command(
    pred: Annotated[
        Path | None,
        typer.Option(
            "--pred",
            metavar="FILE",
            rich_help_panel=INPUT,
            help="predictions.jsonl of `cotgen predict`, or JSONL of id + distribution or text.",
        ),
    ] = None,
    run: RunOption = DEFAULT_RUN,
    ref: Annotated[
        Path | None,
        typer.Option(
            "--ref",
            metavar="FILE",
            rich_help_panel=INPUT,
            help="utterances.jsonl with the human distributions (default RUN's).",
        ),
    ] = None,
    ids: IdsOption = None,
    train_ids: Annotated[
        Path | None,
        typer.Option(
            "--train-ids",
            metavar="FILE",
            rich_help_panel=INPUT,
            help="Training ids for the prior baseline (default: the complement of --ids).",
        ),
    ] = None,
    folds: Annotated[
        Path | None,
        typer.Option(
            "--folds",
            metavar="DIR",
            rich_help_panel=INPUT,
            help="Folder of fold folders (each with test.ids): per-fold and mean table.",
        ),
    ] = None,
    sample: Annotated[
        str,
        typer.Option(
            "--sample",
            metavar="RULE",
            rich_help_panel=SCORING,
            help="With several samples per id: first (lowest number) or mean.",
        ),
    ] = "first",
    missing: Annotated[
        str,
        typer.Option(
            "--missing",
            metavar="RULE",
            rich_help_panel=SCORING,
            help="Missing or unreadable predictions: uniform (scored as 1/k) or drop.",
        ),
    ] = "uniform",
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="FIELD",
            rich_help_panel=SCORING,
            help="Report per fold of this field: session, speaker, gender or corpus.",
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            metavar="N",
            rich_help_panel=SCORING,
            help="Resamples for 95 % bootstrap intervals (0: none).",
        ),
    ] = 0,
    seed: SeedOption = 0,
    readout: ReadoutOption = "text",
    output: OutputOption = None,
) -> None:
    """Score predictions: JS, BC, R², Brier, KL, WA/UA, F1, ECE, entropy correlation; uniform and prior baselines."""
    # Imported here, not at the top: every command's --help loads this module, and scoring loads numpy.
    from cotgen.scoring.evaluate import (
        FOLD_FIELDS,
        MISSING_POLICIES,
        READOUTS,
        SAMPLE_CHOICES,
        nothing_read_reason,
        render_readouts,
        render_report,
        run_evaluation,
        write_report,
    )

    if by is not None:
        _choice(by, FOLD_FIELDS, "--by")
    _choice(sample, SAMPLE_CHOICES, "--sample")
    _choice(missing, MISSING_POLICIES, "--missing")
    _choice(readout, (*READOUTS, "both"), "--readout")
    reference = ref or run / "utterances.jsonl"
    if folds is not None:
        if ids is not None or train_ids is not None or by is not None or bootstrap:
            raise CotgenError(
                "--folds takes each fold's ids from its folder; leave out --ids, --train-ids, --by, --bootstrap"
            )
        from cotgen.scoring.folds import render_fold_table, run_fold_evaluation

        if readout == "both":
            raise CotgenError(
                "--readout both compares one predictions file: give --pred (and --ids) instead of --folds"
            )
        result = run_fold_evaluation(folds, reference, pred, sample, missing, readout)  # type: ignore[arg-type]
        render_fold_table(result, console)
    else:
        if pred is None:
            raise CotgenError("--pred FILE is required (or --folds DIR whose folds hold predictions.jsonl)")
        reports = {
            name: run_evaluation(
                pred,
                reference,
                ids,
                by,
                bootstrap,
                seed,
                train_ids,
                sample,  # type: ignore[arg-type]
                missing,  # type: ignore[arg-type]
                name,  # type: ignore[arg-type]
            )
            for name in (READOUTS if readout == "both" else (readout,))
        }
        for name, report in reports.items():
            if len(reports) > 1:
                console.rule(f"readout: {name}")
            render_report(report, console)
        if len(reports) > 1:
            render_readouts(reports, console)
        result = reports[readout] if readout != "both" else {"readouts": reports}
    if output is not None:
        write_report(result, output)
        console.print(f"wrote {output}")
    readable = [r for r in result.get("readouts", {"one": result}).values() if "counts" in r]
    if readable and all(r["counts"]["with_prediction"] == 0 for r in readable):
        # Every figure above is the uniform stand-in: a pipeline must not take that for a model's score.
        err_console.print(
            "[bold red]error:[/] no prediction could be read, so nothing of the model was scored: "
            f"{nothing_read_reason(readable[0]['counts'])}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
