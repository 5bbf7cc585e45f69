"""Fold-wise evaluation (``cotgen eval --folds DIR``): one report per fold and the table a paper reports.

The folder contract (docs/pairs-grpo-eval.md, "Folds"), which ``cotgen export --split loso:all``
writes: ``DIR/<fold>/`` per fold, sorted by name, each holding its test ids as ``test.ids`` (one id
per line) or, failing that, an export's ``*_test.jsonl`` split files (the union of their ``id``s).
``train.ids`` beside them, when present, names the training utterances the prior baseline is taken
from; otherwise the reference utterances outside the fold's test ids are. A fold's predictions are
``DIR/<fold>/predictions.jsonl`` when it exists (one student per fold), else the ``--pred`` file.

The table is a pure function of the per-fold reports (:func:`fold_table`): each fold's overall row
per system, then the mean and the standard deviation over folds (each fold weighs the same, as
leave-one-session-out results are reported).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cotgen.core.errors import CotgenError
from cotgen.scoring.evaluate import (
    HEADERS,
    ORACLE,
    ORACLE_NOTE,
    OVERALL,
    MissingPolicy,
    Readout,
    SampleChoice,
    evaluate_split,
    read_ids,
    read_predictions,
    read_reference,
    render_counts,
)

TEST_IDS = "test.ids"
TRAIN_IDS = "train.ids"
PREDICTIONS = "predictions.jsonl"
TABLE_METRICS: tuple[str, ...] = ("js", "bc", "r2", "brier", "wa_ref", "ua_ref")
SUMMARY_ROWS: tuple[str, ...] = ("mean", "std")


def fold_dirs(folds_dir: Path) -> list[Path]:
    """The fold folders of ``folds_dir`` in name order; an error when there is none."""
    if not folds_dir.is_dir():
        raise CotgenError(f"--folds {folds_dir}: no such folder")
    folds = sorted(p for p in folds_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folds:
        raise CotgenError(f"--folds {folds_dir}: no fold folders (expected {folds_dir}/<fold>/{TEST_IDS})")
    return folds


def fold_test_ids(fold: Path) -> set[str]:
    """A fold's test ids: ``test.ids``, else the ids of its ``*_test.jsonl`` files."""
    listed = fold / TEST_IDS
    files = [listed] if listed.exists() else sorted(fold.glob("*_test.jsonl"))
    if not files:
        raise CotgenError(f"{fold}: neither {TEST_IDS} nor an export's *_test.jsonl; a fold folder needs its test ids")
    ids: set[str] = set()
    for path in files:
        ids |= read_ids(path)
    if not ids:
        raise CotgenError(f"{fold}: its test ids are empty")
    return ids


def fold_table(
    reports: Mapping[str, Mapping[str, Any]], metrics: Sequence[str] = TABLE_METRICS
) -> list[dict[str, Any]]:
    """Rows ``{row, system, n, oracle, metrics}``: each fold's overall figures, then mean and std over folds.

    ``std`` is the sample standard deviation (ddof 1; None with one fold); an undefined metric of a
    fold (None) is left out of that metric's mean and std.
    """
    rows: list[dict[str, Any]] = []
    per_system: dict[str, list[Mapping[str, Any]]] = {}
    for fold, report in reports.items():
        for result in report["results"]:
            if result["fold"] != OVERALL:
                continue
            picked = {m: result["metrics"][m] for m in metrics}
            rows.append(
                {
                    "row": fold,
                    "system": result["system"],
                    "n": result["n"],
                    "oracle": result["oracle"],
                    "metrics": picked,
                }
            )
            per_system.setdefault(result["system"], []).append(picked)
    for summary in SUMMARY_ROWS:
        for system, figures in per_system.items():
            out: dict[str, float | None] = {}
            for m in metrics:
                values = np.array([f[m] for f in figures if f[m] is not None], dtype=np.float64)
                if summary == "mean":
                    value = float(values.mean()) if values.size else math.nan
                else:
                    value = float(values.std(ddof=1)) if values.size > 1 else math.nan
                out[m] = None if math.isnan(value) else value
            rows.append({"row": summary, "system": system, "n": None, "oracle": system == ORACLE, "metrics": out})
    return rows


def run_fold_evaluation(
    folds_dir: Path,
    ref_path: Path,
    pred_path: Path | None,
    sample: SampleChoice = "first",
    missing: MissingPolicy = "uniform",
    readout: Readout = "text",
) -> dict[str, Any]:
    """One report per fold (see the module docstring) and the table over them, under one readout."""
    reference = read_reference(ref_path)
    classes = reference[0].classes
    known = {u.id for u in reference}
    shared = read_predictions(pred_path, classes, readout) if pred_path is not None else None
    reports: dict[str, dict[str, Any]] = {}
    for fold in fold_dirs(folds_dir):
        test = fold_test_ids(fold)
        if not test & known:
            raise CotgenError(f"{fold}: none of its test ids is in {ref_path}")
        train = read_ids(fold / TRAIN_IDS) & known if (fold / TRAIN_IDS).exists() else None
        if train is not None and not train:
            # The prior baseline comes from the training utterances; a fold without any would silently lose it.
            raise CotgenError(
                f"{fold / TRAIN_IDS}: none of the fold's training ids is in {ref_path}; the prior baseline "
                "needs them (re-export the folds with this run's cotgen export --split loso:all or folds:N)"
            )
        own = fold / PREDICTIONS
        if own.exists():
            predictions = read_predictions(own, classes, readout)
        elif shared is not None:
            predictions = shared
        else:
            raise CotgenError(f"{fold}: no {PREDICTIONS} in the fold and no --pred file")
        report = evaluate_split(reference, predictions, test, train, None, sample, missing)
        report["pred"] = str(own if own.exists() else pred_path)
        reports[fold.name] = report
    return {
        "folds_dir": str(folds_dir),
        "readout": readout,
        "ref": str(ref_path),
        "sample": sample,
        "missing": missing,
        "folds": reports,
        "table_metrics": list(TABLE_METRICS),
        "table": fold_table(reports),
    }


def render_fold_table(result: Mapping[str, Any], console: Console) -> None:
    """Each fold's counts, then one table: a row per fold and system, mean and std over folds last."""
    for fold, report in result["folds"].items():
        console.print(f"[bold]fold {fold}[/bold]")
        render_counts(report, console)
    table = Table(title=f"{len(result['folds'])} folds of {result['folds_dir']}", caption=ORACLE_NOTE)
    table.add_column("fold")
    table.add_column("system")
    table.add_column("n", justify="right")
    for metric in result["table_metrics"]:
        table.add_column(HEADERS.get(metric, metric), justify="right")
    for row in result["table"]:
        system = f"{row['system']}†" if row["oracle"] else row["system"]
        cells = ["-" if row["metrics"][m] is None else f"{row['metrics'][m]:.3f}" for m in result["table_metrics"]]
        style = "bold" if row["row"] in SUMMARY_ROWS and row["system"] == "model" else "dim" if row["oracle"] else None
        table.add_row(row["row"], system, "" if row["n"] is None else str(row["n"]), *cells, style=style)
    console.print(table)
