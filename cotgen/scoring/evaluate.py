"""``cotgen eval`` as a library call: a model's predicted distributions against the human ones.

Predictions are JSONL lines with ``id`` and either ``distribution`` or a generated ``text``
(read with the trace parser). Every metric of :mod:`cotgen.scoring.metrics` is reported per fold and
overall beside three baselines computed on the same utterances, so a number can be read at once
against "knows nothing" (uniform), "knows the label frequencies" (corpus prior; in
leave-one-fold-out evaluation, the prior of the other folds) and "knows the majority label but not
the disagreement" (one-hot majority).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from cotgen.core.divergence import as_vector
from cotgen.core.errors import CotgenError
from cotgen.records.trace import TraceParseError, parse_sections
from cotgen.records.utterance import Utterance, read_utterances
from cotgen.scoring.metrics import METRICS, bootstrap_intervals, evaluate
from cotgen.scoring.rewards import DistributionValueError, read_distribution

FoldField = Literal["session", "speaker", "gender", "corpus"]
FOLD_FIELDS: tuple[FoldField, ...] = ("session", "speaker", "gender", "corpus")
SYSTEMS: tuple[str, ...] = ("model", "uniform", "prior", "majority")
OVERALL = "overall"
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Predictions:
    """Readable predictions by id, and why the others could not be read (id -> reason)."""

    distributions: dict[str, dict[str, float]]
    failures: dict[str, str]
    lines: int


def _prediction(record: Mapping[str, Any], classes: Sequence[str]) -> dict[str, float]:
    """The distribution of one prediction line over ``classes``; raises ValueError saying why not."""
    if record.get("distribution") is not None:
        found = read_distribution(record["distribution"])
        if set(found) != set(classes):
            raise DistributionValueError(f"distribution keys {sorted(found)} are not the classes {list(classes)}")
        values = np.array([found[c] for c in classes])
        if (values < 0).any() or values.sum() <= 0:
            raise DistributionValueError("distribution has negative values or no mass")
        return {c: float(v) for c, v in zip(classes, values / values.sum())}
    if isinstance(record.get("text"), str):
        return parse_sections(record["text"], classes).distribution
    raise DistributionValueError("neither a 'distribution' nor a generated 'text'")


def _utf8_line(path: Path, lineno: int, raw: bytes) -> str:
    """One line as text; a file that is not UTF-8 is the user's to fix, so say where instead of a traceback."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CotgenError(f"{path}:{lineno}: not UTF-8 text; save the file as UTF-8") from None


def read_predictions(path: Path, classes: Sequence[str]) -> Predictions:
    """Read a predictions file; unreadable predictions are recorded with their reason, malformed lines are errors."""
    if not path.exists():
        raise CotgenError(f"{path}: no such predictions file")
    readable: dict[str, dict[str, float]] = {}
    failures: dict[str, str] = {}
    lines = 0
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = _utf8_line(path, lineno, raw)
            if not line.strip():
                continue
            lines += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CotgenError(
                    f"{path}:{lineno}: not JSON ({exc.msg}); expected {{id, distribution | text}}"
                ) from None
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise CotgenError(f"{path}:{lineno}: expected a JSON object with a string 'id'")
            uid = record["id"]
            if uid in readable or uid in failures:
                raise CotgenError(f"{path}:{lineno}: second prediction for id {uid!r}")
            try:
                readable[uid] = _prediction(record, classes)
            except (TraceParseError, DistributionValueError) as exc:
                failures[uid] = str(exc)
    return Predictions(readable, failures, lines)


def read_ids(path: Path) -> set[str]:
    """Ids of a split: JSONL records with an ``id`` (e.g. an export's test file) or plain lines of ids."""
    if not path.exists():
        raise CotgenError(f"{path}: no such ids file")
    ids: set[str] = set()
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            text = _utf8_line(path, lineno, raw).strip()
            if not text:
                continue
            if text.startswith("{"):
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise CotgenError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
                if not isinstance(record.get("id"), str):
                    raise CotgenError(f"{path}:{lineno}: JSON record without a string 'id'")
                ids.add(record["id"])
            else:
                ids.add(text)
    return ids


def uniform_baseline(n: int, k: int) -> Matrix:
    """Every utterance predicted as 1/k per class."""
    return np.full((n, k), 1.0 / k)


def prior_baseline(reference: Matrix, n: int) -> Matrix:
    """Every utterance predicted as the mean human distribution of ``reference``."""
    return np.tile(reference.mean(axis=0), (n, 1))


def majority_baseline(human: Matrix, tol: float = 1e-9) -> Matrix:
    """A hard-label classifier that is always right: one-hot on the majority, split evenly over tied top classes."""
    top = human.max(axis=1, keepdims=True)
    winners = (human >= top - tol).astype(np.float64)
    return winners / winners.sum(axis=1, keepdims=True)


def _fold_of(utterance: Utterance, by: FoldField | None) -> str:
    if by is None:
        return OVERALL
    value = getattr(utterance, by)
    return "none" if value is None else str(value)


def _matrix(rows: Iterable[Mapping[str, float]], classes: Sequence[str]) -> Matrix:
    vectors = [as_vector(row, classes) for row in rows]
    return np.stack(vectors) if vectors else np.empty((0, len(classes)))


def _systems(human: Matrix, model: Matrix, prior: Matrix) -> dict[str, Matrix]:
    n, k = human.shape
    return {"model": model, "uniform": uniform_baseline(n, k), "prior": prior, "majority": majority_baseline(human)}


def _rows(fold: str, human: Matrix, systems: Mapping[str, Matrix], bootstrap: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for name, predicted in systems.items():
        row: dict[str, Any] = {"fold": fold, "system": name, "n": int(human.shape[0])}
        row["metrics"] = {m: _clean(v) for m, v in evaluate(human, predicted).items()}
        if bootstrap and human.shape[0]:
            intervals = bootstrap_intervals(human, predicted, bootstrap, seed)
            row["ci95"] = {m: [_clean(lo), _clean(hi)] for m, (lo, hi) in intervals.items()}
        rows.append(row)
    return rows


def _clean(value: float) -> float | None:
    """NaN (undefined metric) as None, so the report is valid JSON."""
    return None if value != value else float(value)


def run_evaluation(
    pred_path: Path,
    ref_path: Path,
    ids_path: Path | None = None,
    by: FoldField | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """The full report: counts, and one row per (fold, system) with every metric (and 95 % CIs when asked)."""
    if by is not None and by not in FOLD_FIELDS:
        raise CotgenError(f"--by {by!r}: expected one of {', '.join(FOLD_FIELDS)}")
    if bootstrap < 0:
        raise CotgenError(f"--bootstrap must be 0 or more, got {bootstrap}")
    reference = read_utterances(ref_path)
    if not reference:
        raise CotgenError(f"{ref_path}: no utterances to evaluate against")
    classes = reference[0].classes
    for utterance in reference:
        if utterance.classes != classes:
            raise CotgenError(f"{ref_path}: utterance {utterance.id!r} has classes {utterance.classes}, not {classes}")
    split = read_ids(ids_path) if ids_path else None
    predictions = read_predictions(pred_path, classes)
    known = {u.id for u in reference}
    in_split = [u for u in reference if split is None or u.id in split]
    evaluated = [u for u in in_split if u.id in predictions.distributions]
    counts = {
        "reference": len(in_split),
        "prediction_lines": predictions.lines,
        "evaluated": len(evaluated),
        "parse_failures": sum(1 for u in in_split if u.id in predictions.failures),
        "missing": sum(
            1 for u in in_split if u.id not in predictions.distributions and u.id not in predictions.failures
        ),
        "unknown_ids": sum(1 for uid in [*predictions.distributions, *predictions.failures] if uid not in known),
        "outside_ids": sum(
            1
            for uid in [*predictions.distributions, *predictions.failures]
            if uid in known and split is not None and uid not in split
        ),
    }
    if split is not None and not in_split:
        raise CotgenError(f"{ids_path}: none of its ids is in {ref_path}")
    all_human = _matrix((u.distribution for u in reference), classes)
    all_folds = np.array([_fold_of(u, by) for u in reference])
    folds = sorted({_fold_of(u, by) for u in evaluated})
    rows: list[dict[str, Any]] = []
    pooled_human, pooled_model, pooled_prior = [], [], []
    for fold in folds:
        members = [u for u in evaluated if _fold_of(u, by) == fold]
        human = _matrix((u.distribution for u in members), classes)
        model = _matrix((predictions.distributions[u.id] for u in members), classes)
        others = all_human[all_folds != fold] if by is not None else all_human
        if others.shape[0] == 0:
            others = all_human  # a single fold has no "other" folds; fall back to the whole reference
        prior = prior_baseline(others, human.shape[0])
        if by is not None:
            rows.extend(_rows(fold, human, _systems(human, model, prior), bootstrap, seed))
        pooled_human.append(human)
        pooled_model.append(model)
        pooled_prior.append(prior)
    if evaluated:
        human = np.concatenate(pooled_human)
        systems = _systems(human, np.concatenate(pooled_model), np.concatenate(pooled_prior))
        rows.extend(_rows(OVERALL, human, systems, bootstrap, seed))
    failure_reasons = Counter(reason.split(":")[0] for reason in predictions.failures.values())
    return {
        "pred": str(pred_path),
        "ref": str(ref_path),
        "ids": str(ids_path) if ids_path else None,
        "by": by,
        "classes": classes,
        "bootstrap": bootstrap,
        "seed": seed,
        "counts": counts,
        "parse_failure_reasons": dict(failure_reasons.most_common()),
        "metrics": list(METRICS),
        "results": rows,
    }


def write_report(report: Mapping[str, Any], path: Path) -> None:
    """Write the report as JSON (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


_HEADERS = {
    "js": "JS↓",
    "bc": "BC↑",
    "r2": "R²↑",
    "brier": "Brier↓",
    "kl": "KL↓",
    "accuracy": "Acc↑",
    "macro_f1": "F1↑",
    "ece": "ECE↓",
    "entropy_spearman": "ρ(H)↑",
}


def _cell(row: Mapping[str, Any], metric: str) -> str:
    value = row["metrics"][metric]
    text = "-" if value is None else f"{value:.3f}"
    if "ci95" in row and value is not None:
        lo, hi = row["ci95"][metric]
        if lo is not None and hi is not None:
            text += f"\n[{lo:.3f}, {hi:.3f}]"
    return text


def render_report(report: Mapping[str, Any], console: Console) -> None:
    """A table per fold (overall last): a row per metric, the model beside the baselines in columns.

    Metrics as rows keep the table narrow enough for a terminal even with 95 % intervals, which
    are printed under each value when present.
    """
    counts = report["counts"]
    console.print(
        f"{counts['evaluated']} utterances evaluated · parse failures {counts['parse_failures']} · "
        f"missing {counts['missing']} · unknown ids {counts['unknown_ids']} · outside --ids {counts['outside_ids']}"
    )
    folds: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in report["results"]:
        folds.setdefault(row["fold"], {})[row["system"]] = row
    for fold, systems in folds.items():
        title = "overall" if fold == OVERALL else f"{report['by']} {fold}"
        first = next(iter(systems.values()))
        table = Table(title=f"{title} (n = {first['n']})")
        table.add_column("metric")
        for name in systems:
            table.add_column(name, justify="right", style="bold" if name == "model" else None)
        for metric in report["metrics"]:
            table.add_row(_HEADERS.get(metric, metric), *(_cell(row, metric) for row in systems.values()))
        console.print(table)
