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
from cotgen.scoring.compare import compare_folds
from cotgen.scoring.evaluate import (
    BRIER_NOTE,
    HEADERS,
    NAMES,
    ORACLE,
    OVERALL,
    MissingPolicy,
    Predictions,
    Readout,
    SampleChoice,
    evaluate_split,
    read_ids,
    read_predictions,
    read_reference,
    render_counts,
    run_order,
)
from cotgen.scoring.paper_table import ORACLE_FOOTNOTE, PaperRow, cell_text, paper_rows, to_csv, to_latex, to_markdown

TEST_IDS = "test.ids"
TRAIN_IDS = "train.ids"
PREDICTIONS = "predictions.jsonl"
TABLE_METRICS: tuple[str, ...] = ("js", "bc", "r2", "brier_sum", "brier_mean", "classwise_ece", "wa_ref", "ua_ref")
SUMMARY_ROWS: tuple[str, ...] = ("mean", "std")
COMPARED = "compared"


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


def _compared_predictions(
    compare_path: Path | None,
    fold: Path,
    shared: Predictions | None,
    classes: Sequence[str],
    readout: Readout,
    order: Sequence[str],
) -> tuple[Predictions, Path] | None:
    """The second system's predictions for a fold: ``COMPARE/<fold>/predictions.jsonl`` when ``--compare`` is a
    folder of folds, else the one ``--compare`` file."""
    if compare_path is None:
        return None
    if compare_path.is_dir():
        path = compare_path / fold.name / PREDICTIONS
        if not path.is_file():
            raise CotgenError(f"--compare {compare_path}: no {fold.name}/{PREDICTIONS} for fold {fold.name}")
        return read_predictions(path, classes, readout, order), path
    assert shared is not None
    return shared, compare_path


def run_fold_evaluation(
    folds_dir: Path,
    ref_path: Path,
    pred_path: Path | None,
    sample: SampleChoice = "first",
    missing: MissingPolicy = "uniform",
    readout: Readout = "text",
    compare_path: Path | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One report per fold (see the module docstring) and the table over them, under one readout.

    With ``compare_path`` (a predictions file, or a folder holding ``<fold>/predictions.jsonl`` like
    ``folds_dir``) a second system, ``compared``, is scored on every fold too: its overall row joins each
    fold's results and the table, and ``comparison`` holds the per-fold differences, their mean and std and a
    t-test over the folds (:func:`cotgen.scoring.compare.compare_folds`).
    """
    reference = read_reference(ref_path)
    classes = reference[0].classes
    order = run_order(ref_path.parent)
    known = {u.id for u in reference}
    shared = read_predictions(pred_path, classes, readout, order) if pred_path is not None else None
    if compare_path is not None and not compare_path.exists():
        raise CotgenError(f"--compare {compare_path}: no such file or folder")
    shared_compared = (
        read_predictions(compare_path, classes, readout, order)
        if compare_path is not None and compare_path.is_file()
        else None
    )
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
            predictions = read_predictions(own, classes, readout, order)
        elif shared is not None:
            predictions = shared
        else:
            raise CotgenError(f"{fold}: no {PREDICTIONS} in the fold and no --pred file")
        report = evaluate_split(reference, predictions, test, train, None, sample, missing)
        report["pred"] = str(own if own.exists() else pred_path)
        second = _compared_predictions(compare_path, fold, shared_compared, classes, readout, order)
        if second is not None:
            other = evaluate_split(reference, second[0], test, train, None, sample, missing)
            row = next(r for r in other["results"] if r["fold"] == OVERALL and r["system"] == "model")
            report["results"].append({**row, "system": COMPARED})
            report["compared"] = {"pred": str(second[1]), "counts": other["counts"]}
        reports[fold.name] = report
    table = fold_table(reports)
    result: dict[str, Any] = {
        "folds_dir": str(folds_dir),
        "readout": readout,
        "ref": str(ref_path),
        "sample": sample,
        "missing": missing,
        "labels": {"model": "model", COMPARED: COMPARED, **(labels or {})},
        "folds": reports,
        "table_metrics": list(TABLE_METRICS),
        "table": table,
    }
    if compare_path is not None:
        per_fold = {
            system: {r["row"]: r["metrics"] for r in table if r["system"] == system and r["row"] not in SUMMARY_ROWS}
            for system in ("model", COMPARED)
        }
        result["comparison"] = {
            "first": "model",
            "second": COMPARED,
            "test": "two-sided one-sample t-test of the per-fold differences (first - second) against 0, "
            "Holm-adjusted over the metrics",
            "metrics": compare_folds(per_fold["model"], per_fold[COMPARED], TABLE_METRICS),
        }
    return result


def paper_table(result: Mapping[str, Any]) -> list[PaperRow]:
    """The systems × metrics rows of a fold evaluation (:mod:`cotgen.scoring.paper_table`)."""
    return paper_rows(result["table"], result["table_metrics"], result.get("labels"))


def write_paper_tables(result: Mapping[str, Any], prefix: Path) -> list[Path]:
    """``PREFIX.md``, ``PREFIX.tex`` and ``PREFIX.csv`` of the paper table; returns the paths written."""
    rows = paper_table(result)
    metrics = result["table_metrics"]
    folds = len(result["folds"])
    prefix.parent.mkdir(parents=True, exist_ok=True)
    texts = {
        ".md": to_markdown(rows, metrics, NAMES, folds),
        ".tex": to_latex(rows, metrics, NAMES, folds),
        ".csv": to_csv(rows, metrics),
    }
    written = []
    for suffix, text in texts.items():
        path = prefix.with_name(prefix.name + suffix)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render_fold_table(result: Mapping[str, Any], console: Console) -> None:
    """Each fold's counts; the model's figures per fold; the paper table (metrics as rows, so it fits a
    terminal: the written Markdown/LaTeX/CSV have systems as rows); the comparison over folds if any."""
    for fold, report in result["folds"].items():
        console.print(f"[bold]fold {fold}[/bold]")
        render_counts(report, console)
    metrics = result["table_metrics"]
    per_fold = [r for r in result["table"] if r["system"] == "model"]
    table = Table(title=f"model per fold ({len(result['folds'])} folds of {result['folds_dir']})")
    table.add_column("metric")
    for row in per_fold:
        table.add_column(row["row"] if row["n"] is None else f"{row['row']}\n(n = {row['n']})", justify="right")
    for metric in metrics:
        cells = ["-" if r["metrics"][metric] is None else f"{r['metrics'][metric]:.3f}" for r in per_fold]
        table.add_row(HEADERS.get(metric, metric), *cells)
    console.print(table)
    rows = paper_table(result)
    summary = Table(title="mean ± std over folds", caption=f"{ORACLE_FOOTNOTE}\n{BRIER_NOTE}")
    summary.add_column("metric")
    for row in rows:
        summary.add_column(
            row.label, justify="right", style="bold" if row.role == "model" else "dim" if row.role == "oracle" else None
        )
    for metric in metrics:
        summary.add_row(HEADERS.get(metric, metric), *(cell_text(*row.cells[metric]) for row in rows))
    console.print(summary)
    if "comparison" in result:
        render_fold_comparison(result, console)


def render_fold_comparison(result: Mapping[str, Any], console: Console) -> None:
    """The per-fold differences first − second, their mean ± std and the t-test over folds."""
    labels = result["labels"]
    comparison = result["comparison"]
    first, second = labels[comparison["first"]], labels[comparison["second"]]
    table = Table(title=f"{first} − {second}, per fold", caption=comparison["test"])
    table.add_column("metric")
    folds = list(result["folds"])
    for fold in folds:
        table.add_column(fold, justify="right")
    for column in ("mean ± std", "p", "p Holm"):
        table.add_column(column, justify="right")
    for metric, row in comparison["metrics"].items():
        diffs = [row["differences"].get(f) for f in folds]
        table.add_row(
            HEADERS.get(metric, metric),
            *("-" if d is None else f"{d:+.3f}" for d in diffs),
            cell_text(row["mean"], row["std"]),
            _p_text(row["p"]),
            _p_text(row["p_holm"]),
        )
    console.print(table)


def _p_text(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"
