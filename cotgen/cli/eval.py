"""``cotgen eval``: a model's predicted distributions against the human ones, with baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console, out_path
from cotgen.core.errors import CotgenError
from cotgen.core.paths import DEFAULT_RUN
from cotgen.scoring.evaluate import FOLD_FIELDS, render_report, run_evaluation, write_report


@app.command("eval")
def eval_command(
    pred: Annotated[Path, typer.Option("--pred", help="JSONL of id + distribution, or id + generated text.")],
    ref: Annotated[
        Path | None, typer.Option("--ref", help="utterances.jsonl with the human distributions (default RUN's).")
    ] = None,
    run: Annotated[
        Path, typer.Option("--in", help="Run folder whose utterances.jsonl is the reference.")
    ] = DEFAULT_RUN,
    ids: Annotated[
        Path | None, typer.Option("--ids", help="Restrict to these ids (JSONL with 'id', e.g. an export's test file).")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Report per fold of this field: session, speaker, gender or corpus.")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Resamples for 95 % bootstrap intervals (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    out_option: Annotated[
        str | None, typer.Option("--out", help="Also write the report as JSON here (a folder DIR/: DIR/eval.json).")
    ] = None,
) -> None:
    """Score predictions with JS, BC, R², Brier, KL, accuracy, macro-F1, ECE and entropy correlation."""
    if by is not None and by not in FOLD_FIELDS:
        raise CotgenError(f"--by {by!r}: expected one of {', '.join(FOLD_FIELDS)}")
    report = run_evaluation(pred, ref or run / "utterances.jsonl", ids, by, bootstrap, seed)  # type: ignore[arg-type]
    render_report(report, console)
    out = out_path(out_option, "eval.json")
    if out is not None:
        write_report(report, out)
        console.print(f"wrote {out}")
