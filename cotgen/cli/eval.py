"""``cotgen eval``: a model's predicted distributions against the human ones, with baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console, err_console
from cotgen.cli.options import INPUT, OUTPUT, SCORING, IdsOption, OutputOption, ReadoutOption, RunOption, SeedOption
from cotgen.core.errors import CotgenError
from cotgen.core.paths import DEFAULT_RUN


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise CotgenError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _names(text: str) -> tuple[str, str]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise CotgenError(f"--names {text!r}: expected two display names, A,B (e.g. sft,sft+dpo)")
    return parts[0], parts[1]


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
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            metavar="FILE|DIR",
            rich_help_panel=SCORING,
            help=(
                "A second system's predictions on the same utterances: paired differences, bootstrap interval and "
                "permutation p (Holm-adjusted). With --folds, a file or a folder of <fold>/predictions.jsonl."
            ),
        ),
    ] = None,
    names: Annotated[
        str,
        typer.Option(
            "--names",
            metavar="A,B",
            rich_help_panel=OUTPUT,
            help="Display names of the --pred and --compare systems in tables.",
        ),
    ] = "model,compared",
    resamples: Annotated[
        int | None,
        typer.Option(
            "--resamples",
            metavar="N",
            rich_help_panel=SCORING,
            help="Paired bootstrap resamples and permutations of --compare (default 1000).",
        ),
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option(
            "--table",
            metavar="PREFIX",
            rich_help_panel=OUTPUT,
            help="With --folds: write the systems × metrics table (mean ± std) as PREFIX.md, PREFIX.tex, PREFIX.csv.",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            rich_help_panel=OUTPUT,
            help="PNG: the model's class-wise reliability diagram and JS by agreement stratum (one --pred).",
        ),
    ] = None,
    seed: SeedOption = 0,
    readout: ReadoutOption = "text",
    output: OutputOption = None,
) -> None:
    """Score predictions: JS, BC, R², Brier (sum and mean), KL, WA/UA, F1, calibration, entropy correlation, by
    agreement stratum; uniform and prior baselines; --compare for a paired test; --folds for a paper's table."""
    # Imported here, not at the top: every command's --help loads this module, and scoring loads numpy.
    from cotgen.scoring.compare import DEFAULT_RESAMPLES
    from cotgen.scoring.evaluate import (
        FOLD_FIELDS,
        MISSING_POLICIES,
        READOUTS,
        SAMPLE_CHOICES,
        nothing_read_reason,
        render_comparison,
        render_readouts,
        render_report,
        run_evaluation,
        write_report,
    )

    labels = _names(names)
    if by is not None:
        _choice(by, FOLD_FIELDS, "--by")
    _choice(sample, SAMPLE_CHOICES, "--sample")
    _choice(missing, MISSING_POLICIES, "--missing")
    _choice(readout, (*READOUTS, "both"), "--readout")
    reference = ref or run / "utterances.jsonl"
    if folds is not None:
        if ids is not None or train_ids is not None or by is not None or bootstrap or plot is not None:
            raise CotgenError(
                "--folds takes each fold's ids from its folder; leave out --ids, --train-ids, --by, --bootstrap, --plot"
            )
        from cotgen.scoring.folds import render_fold_table, run_fold_evaluation, write_paper_tables

        if readout == "both":
            raise CotgenError(
                "--readout both compares one predictions file: give --pred (and --ids) instead of --folds"
            )
        result = run_fold_evaluation(
            folds,
            reference,
            pred,
            sample,  # type: ignore[arg-type]
            missing,  # type: ignore[arg-type]
            readout,  # type: ignore[arg-type]
            compare,
            {"model": labels[0], "compared": labels[1]},
        )
        render_fold_table(result, console)
        if table is not None:
            for path in write_paper_tables(result, table):
                console.print(f"wrote {path}")
    else:
        if pred is None:
            raise CotgenError("--pred FILE is required (or --folds DIR whose folds hold predictions.jsonl)")
        if table is not None:
            raise CotgenError("--table writes the mean ± std over folds: give --folds DIR")
        if compare is not None and (readout == "both" or not compare.is_file()):
            raise CotgenError(f"--compare {compare}: expected one predictions file (and one --readout) without --folds")
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
                compare,
                DEFAULT_RESAMPLES if resamples is None else resamples,
            )
            for name in (READOUTS if readout == "both" else (readout,))
        }
        for name, report in reports.items():
            if len(reports) > 1:
                console.rule(f"readout: {name}")
            render_report(report, console)
            render_comparison(report, console, labels)
        if len(reports) > 1:
            render_readouts(reports, console)
        result = reports[readout] if readout != "both" else {"readouts": reports}
        if plot is not None:
            if readout == "both":
                raise CotgenError("--plot draws one readout: give --readout text or logprobs")
            from cotgen.report.plots import plot_evaluation

            console.print(f"wrote {plot_evaluation(result, plot, names={'model': labels[0]})}")
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
