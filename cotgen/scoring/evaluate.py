"""``cotgen eval`` as a library call: a model's predicted distributions against the human ones.

Predictions are JSONL lines with ``id`` and either ``distribution`` or a generated ``text`` (read
with the trace parser); the ``predictions.jsonl`` of ``cotgen predict`` is read as it is (``sample``,
and ``distribution`` null with the parse ``error``), and with several samples per id ``--sample``
says which distribution is scored. Nothing is dropped silently: an utterance of the split whose
prediction is missing or cannot be read is scored as the uniform distribution (``--missing
uniform``, the default) or left out on request (``--missing drop``), and either way counted. The
metrics of :mod:`cotgen.scoring.metrics` are reported per fold and overall beside two baselines on
the same utterances, "knows nothing" (uniform) and "knows the label frequencies" (the prior of the
training utterances only), and, outside the comparison, the human distribution itself as the
oracle ceiling.
"""

from __future__ import annotations

import json
import re
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
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.ids import read_id_file
from cotgen.core.jsonl import iter_json_lines
from cotgen.corpora.reference import reference_label, reference_source
from cotgen.records.measurements import TextStyle
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import TraceParseError, parse_sections
from cotgen.records.utterance import Utterance, read_utterances
from cotgen.scoring.compare import DEFAULT_RESAMPLES, paired_comparison
from cotgen.scoring.metrics import (
    DEFINITIONS,
    ECE_BINS,
    HIGHER_IS_BETTER,
    METRICS,
    NO_LABEL,
    bootstrap_intervals,
    classwise_reliability,
    evaluate,
)
from cotgen.scoring.rewards import DistributionValueError, read_distribution
from cotgen.scoring.strata import AGREEMENT_EDGES, AGREEMENT_STRATA, agreement_stratum, annotator_strata

FoldField = Literal["session", "speaker", "gender", "corpus"]
FOLD_FIELDS: tuple[FoldField, ...] = ("session", "speaker", "gender", "corpus")
SampleChoice = Literal["first", "mean"]
SAMPLE_CHOICES: tuple[SampleChoice, ...] = ("first", "mean")
Readout = Literal["text", "logprobs"]
READOUTS: tuple[Readout, ...] = ("text", "logprobs")
MissingPolicy = Literal["uniform", "drop"]
MISSING_POLICIES: tuple[MissingPolicy, ...] = ("uniform", "drop")
BASELINES: tuple[str, ...] = ("uniform", "prior")
ORACLE = "oracle"
OVERALL = "overall"
TOP_REASONS = 5
Matrix = NDArray[np.float64]
# One sample's outcome: its distribution, or why it could not be read.
SampleOutcome = dict[str, float] | str


@dataclass(frozen=True)
class Predictions:
    """Every prediction line by id and sample number: the distribution, or the reason it could not be read."""

    samples: dict[str, dict[int, SampleOutcome]]
    lines: int


def _logprob_prediction(record: Mapping[str, Any], classes: Sequence[str]) -> dict[str, float]:
    """The logprob readout of a prediction line (``predict --readout logprobs``); raises ValueError saying why not."""
    readout = record.get("logprobs")
    if not isinstance(readout, Mapping):
        raise DistributionValueError("no logprob readout in the line (predict with --readout logprobs)")
    if isinstance(readout.get("error"), str):
        raise DistributionValueError(readout["error"])
    return _prediction({"distribution": readout.get("distribution")}, classes)


def _prediction(
    record: Mapping[str, Any], classes: Sequence[str], readout: Readout = "text", order: Sequence[str] = DEFAULT_ORDER
) -> dict[str, float]:
    """The distribution of one prediction line over ``classes``; raises ValueError saying why not.

    ``readout`` ``text``: the distribution the model wrote (its stages in the run's ``order``); ``logprobs``: the
    one read at its label position.
    """
    if readout == "logprobs":
        return _logprob_prediction(record, classes)
    if record.get("distribution") is not None:
        found = read_distribution(record["distribution"])
        if set(found) != set(classes):
            raise DistributionValueError(f"distribution keys {sorted(found)} are not the classes {list(classes)}")
        values = np.array([found[c] for c in classes])
        if (values < 0).any() or values.sum() <= 0:
            raise DistributionValueError("distribution has negative values or no mass")
        return {c: float(v) for c, v in zip(classes, values / values.sum())}
    if isinstance(record.get("error"), str):
        raise DistributionValueError(record["error"])  # `cotgen predict` could not parse the generated text
    if isinstance(record.get("text"), str):
        return parse_sections(record["text"], classes, order).distribution
    raise DistributionValueError("neither a 'distribution' nor a generated 'text'")


def _sample_number(record: Mapping[str, Any], path: Path, lineno: int) -> int:
    sample = record.get("sample", 1)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise CotgenError(f"{path}:{lineno}: 'sample' must be an integer >= 1 (cotgen predict numbers from 1)")
    return sample


def read_predictions(
    path: Path, classes: Sequence[str], readout: Readout = "text", order: Sequence[str] = DEFAULT_ORDER
) -> Predictions:
    """Read a predictions file; unreadable predictions are recorded with their reason, malformed lines are errors.

    A line without ``sample`` is sample 1, so a plain file of one ``{id, distribution}`` per line reads as before.
    """
    if not path.exists():
        raise CotgenError(f"{path}: no such predictions file")
    samples: dict[str, dict[int, SampleOutcome]] = {}
    lines = 0
    for lineno, record in iter_json_lines(path, "prediction line {id, distribution | text}"):
        lines += 1
        if not isinstance(record.get("id"), str):
            raise CotgenError(f"{path}:{lineno}: expected a JSON object with a string 'id'")
        uid, sample = record["id"], _sample_number(record, path, lineno)
        mine = samples.setdefault(uid, {})
        if sample in mine:
            raise CotgenError(f"{path}:{lineno}: second prediction for id {uid!r} sample {sample}")
        try:
            mine[sample] = _prediction(record, classes, readout, order)
        except (TraceParseError, DistributionValueError) as exc:
            mine[sample] = str(exc) or type(exc).__name__
    return Predictions(samples, lines)


def chosen_distribution(
    samples: Mapping[int, SampleOutcome], how: SampleChoice, missing: MissingPolicy, classes: Sequence[str]
) -> SampleOutcome:
    """The distribution scored for one utterance from its samples, or the reason it has none.

    ``first``: the lowest-numbered sample as it is (unreadable -> a failure). ``mean``: the mean of
    the samples' distributions, an unreadable sample entering as uniform under ``--missing uniform``
    and left out under ``drop``; a failure only when no sample is readable.
    """
    ordered = [samples[n] for n in sorted(samples)]
    if how == "first":
        return ordered[0]
    if how != "mean":
        raise CotgenError(f"--sample {how!r}: expected one of {', '.join(SAMPLE_CHOICES)}")
    readable = [as_vector(s, classes) for s in ordered if not isinstance(s, str)]
    if not readable:
        return next(s for s in ordered if isinstance(s, str))
    if missing == "uniform":
        readable += [np.full(len(classes), 1.0 / len(classes))] * (len(ordered) - len(readable))
    mean = np.mean(readable, axis=0)
    return {c: float(v) for c, v in zip(classes, mean)}


def read_ids(path: Path) -> set[str]:
    """Ids of a split (``--ids``, ``--train-ids``, a fold's): :func:`cotgen.core.ids.read_id_file`."""
    return set(read_id_file(path))


def uniform_baseline(n: int, k: int) -> Matrix:
    """Every utterance predicted as 1/k per class."""
    return np.full((n, k), 1.0 / k)


def prior_baseline(reference: Matrix, n: int) -> Matrix:
    """Every utterance predicted as the mean human distribution of ``reference``."""
    return np.tile(reference.mean(axis=0), (n, 1))


def _fold_of(utterance: Utterance, by: FoldField | None) -> str:
    if by is None:
        return OVERALL
    value = getattr(utterance, by)
    return "none" if value is None else str(value)


def _matrix(rows: Iterable[Mapping[str, float]], classes: Sequence[str]) -> Matrix:
    vectors = [as_vector(row, classes) for row in rows]
    return np.stack(vectors) if vectors else np.empty((0, len(classes)))


def _clean(value: float) -> float | None:
    """NaN (undefined metric) as None, so the report is valid JSON."""
    return None if value != value else float(value)


_DETAIL = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\d+(?:\.\d+)?")


def reason_kind(reason: str) -> str:
    """A parse error with its specifics (quoted text, numbers, lists) blanked, so alike failures count together."""
    return _DETAIL.sub("…", reason).strip()[:120]


@dataclass(frozen=True)
class Scored:
    """The utterances of one evaluation, aligned: human and model rows, reference labels, and their ids."""

    utterances: list[Utterance]
    human: Matrix
    model: Matrix
    reference: NDArray[np.int64]


def _score_rows(
    utterances: Sequence[Utterance],
    predictions: Predictions,
    classes: Sequence[str],
    sample: SampleChoice,
    missing: MissingPolicy,
    counts: Counter[str],
) -> Scored:
    """The rows to score under the missing-prediction policy, counting what was filled in or dropped."""
    kept, rows = [], []
    uniform = {c: 1.0 / len(classes) for c in classes}
    for u in utterances:
        found = predictions.samples.get(u.id)
        outcome: SampleOutcome = (
            "no prediction" if found is None else chosen_distribution(found, sample, missing, classes)
        )
        if isinstance(outcome, str):
            counts["missing" if found is None else "parse_failures"] += 1
            if missing == "drop":
                counts["dropped"] += 1
                continue
            counts["scored_as_uniform"] += 1
            outcome = uniform
        kept.append(u)
        rows.append(outcome)
    index = {c: i for i, c in enumerate(classes)}
    labels = [reference_label(u, classes) for u in kept]
    counts["no_reference_label"] += sum(label is None for label in labels)
    reference = np.array([NO_LABEL if label is None else index[label] for label in labels], dtype=np.int64)
    return Scored(kept, _matrix((u.distribution for u in kept), classes), _matrix(rows, classes), reference)


def _systems(scored: Scored, prior: Matrix | None) -> dict[str, Matrix]:
    """The model, the baselines and the oracle on the scored utterances, in the order tables show them."""
    n, k = scored.human.shape
    systems: dict[str, Matrix] = {"model": scored.model, "uniform": uniform_baseline(n, k)}
    if prior is not None:
        systems["prior"] = prior
    systems[ORACLE] = scored.human
    return systems


def _system_rows(fold: str, scored: Scored, prior: Matrix | None, bootstrap: int, seed: int) -> list[dict[str, Any]]:
    n = scored.human.shape[0]
    rows = []
    for name, predicted in _systems(scored, prior).items():
        row: dict[str, Any] = {"fold": fold, "system": name, "n": int(n), "oracle": name == ORACLE}
        row["metrics"] = {m: _clean(v) for m, v in evaluate(scored.human, predicted, scored.reference).items()}
        if bootstrap and n:
            intervals = bootstrap_intervals(scored.human, predicted, bootstrap, seed, reference=scored.reference)
            row["ci95"] = {m: [_clean(lo), _clean(hi)] for m, (lo, hi) in intervals.items()}
        rows.append(row)
    return rows


def _prior_rows(pool: Sequence[Utterance], classes: Sequence[str], n: int) -> Matrix | None:
    """Every one of ``n`` utterances predicted as the mean human distribution of ``pool`` (None when empty)."""
    if not pool:
        return None
    return prior_baseline(_matrix((u.distribution for u in pool), classes), n)


def evaluate_split(
    reference: Sequence[Utterance],
    predictions: Predictions,
    split: set[str] | None = None,
    train: set[str] | None = None,
    by: FoldField | None = None,
    sample: SampleChoice = "first",
    missing: MissingPolicy = "uniform",
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Counts and one row per (fold, system) for the utterances of ``split`` (all when None).

    The prior baseline is the mean human distribution of the training utterances only: ``train``
    when given, else the reference utterances outside ``split``; with ``by``, of those outside the
    fold as well (with neither, the other folds). Without a split, a train set or folds there is no
    training set to take a prior from, and the prior is left out (``prior_source`` says so).
    """
    if by is not None and by not in FOLD_FIELDS:
        raise CotgenError(f"--by {by!r}: expected one of {', '.join(FOLD_FIELDS)}")
    if missing not in MISSING_POLICIES:
        raise CotgenError(f"--missing {missing!r}: expected one of {', '.join(MISSING_POLICIES)}")
    if sample not in SAMPLE_CHOICES:
        raise CotgenError(f"--sample {sample!r}: expected one of {', '.join(SAMPLE_CHOICES)}")
    if bootstrap < 0:
        raise CotgenError(f"--bootstrap must be 0 or more, got {bootstrap}")
    classes = reference[0].classes
    known = {u.id for u in reference}
    in_split = [u for u in reference if split is None or u.id in split]
    if train is None and split is not None:
        train = known - split
    pool = [u for u in reference if u.id in train] if train is not None else None
    counts: Counter[str] = Counter()
    folds: dict[str, list[Utterance]] = {}
    for u in in_split:
        folds.setdefault(_fold_of(u, by), []).append(u)
    rows: list[dict[str, Any]] = []
    pooled: list[Scored] = []
    pooled_prior: list[Matrix | None] = []
    for fold in sorted(folds):
        scored = _score_rows(folds[fold], predictions, classes, sample, missing, counts)
        if by is None:
            others = pool
        else:
            source = pool if pool is not None else reference
            others = [u for u in source if _fold_of(u, by) != fold]
        prior = _prior_rows(others or [], classes, len(scored.utterances)) if others is not None else None
        if by is not None and scored.utterances:
            rows.extend(_system_rows(fold, scored, prior, bootstrap, seed))
        pooled.append(scored)
        pooled_prior.append(prior)
    if sum(len(s.utterances) for s in pooled):
        whole = Scored(
            [u for s in pooled for u in s.utterances],
            np.concatenate([s.human for s in pooled]),
            np.concatenate([s.model for s in pooled]),
            np.concatenate([s.reference for s in pooled]),
        )
        has_prior = all(p is not None for p in pooled_prior)
        prior = np.concatenate([p for p in pooled_prior if p is not None]) if has_prior else None
        rows.extend(_system_rows(OVERALL, whole, prior, bootstrap, seed))
        strata = _strata_rows(whole, _systems(whole, prior))
        reliability = _reliability(whole)
    else:
        strata, reliability = [], None
    reasons: Counter[str] = Counter()
    for u in in_split:
        for outcome in predictions.samples.get(u.id, {}).values():
            if isinstance(outcome, str):
                reasons[reason_kind(outcome)] += 1
    predicted = set(predictions.samples)
    evaluated = sum(len(s.utterances) for s in pooled)
    return {
        "classes": list(classes),
        "sample": sample,
        "missing": missing,
        "counts": {
            "reference": len(in_split),
            "prediction_lines": predictions.lines,
            "evaluated": evaluated,
            "with_prediction": evaluated - counts["scored_as_uniform"],
            "parse_failures": counts["parse_failures"],
            "missing": counts["missing"],
            "scored_as_uniform": counts["scored_as_uniform"],
            "dropped": counts["dropped"],
            "no_reference_label": counts["no_reference_label"],
            "unknown_ids": len(predicted - known),
            "outside_ids": len({uid for uid in predicted & known if split is not None and uid not in split}),
            "train_utterances": len(pool) if pool is not None else None,
        },
        "reference_label": reference_source(reference[0].corpus),
        "prior_source": _prior_source(pool, by),
        "parse_failure_reasons": dict(reasons.most_common()),
        "metrics": list(METRICS),
        "definitions": dict(DEFINITIONS),
        "results": rows,
        "agreement_strata": dict(AGREEMENT_EDGES),
        "strata": strata,
        "reliability": reliability,
    }


def _strata_rows(scored: Scored, systems: Mapping[str, Matrix]) -> list[dict[str, Any]]:
    """Every metric of every system per agreement stratum and per annotator count (:mod:`cotgen.scoring.strata`),
    with the number of utterances in each; strata without utterances are listed with n 0 and no metrics."""
    groups: list[tuple[str, str, NDArray[np.bool_]]] = []
    agreement = agreement_stratum(scored.human)
    for name in AGREEMENT_STRATA:
        groups.append(("agreement", name, agreement == name))
    counts = np.array([u.n_annotators for u in scored.utterances])
    for n_annotators, name in sorted(set(zip(counts.tolist(), annotator_strata(counts.tolist())))):
        groups.append(("annotators", name, counts == n_annotators))
    rows: list[dict[str, Any]] = []
    for by, name, mask in groups:
        n = int(mask.sum())
        for system, predicted in systems.items():
            metrics = (
                {m: _clean(v) for m, v in evaluate(scored.human[mask], predicted[mask], scored.reference[mask]).items()}
                if n
                else {m: None for m in METRICS}
            )
            rows.append({"by": by, "stratum": name, "system": system, "n": n, "metrics": metrics})
    return rows


def _reliability(scored: Scored) -> dict[str, Any]:
    """The model's class-wise reliability diagram (``classwise_reliability``) as JSON: per class, per bin."""
    counts, mean_p, mean_h = classwise_reliability(scored.human, scored.model, ECE_BINS)
    return {
        "bins": ECE_BINS,
        "counts": counts.tolist(),
        "mean_predicted": [[_clean(v) for v in row] for row in mean_p],
        "mean_human": [[_clean(v) for v in row] for row in mean_h],
    }


def compare_predictions(
    reference: Sequence[Utterance],
    first: Predictions,
    second: Predictions,
    split: set[str] | None = None,
    sample: SampleChoice = "first",
    missing: MissingPolicy = "uniform",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Two prediction sets on the same utterances of ``split``, paired (:mod:`cotgen.scoring.compare`).

    Each set is scored under the same missing policy; under ``drop`` only the utterances both kept are
    compared, and how many each side lost is counted.
    """
    if resamples < 1:
        raise CotgenError(f"--resamples must be 1 or more, got {resamples}")
    classes = reference[0].classes
    in_split = [u for u in reference if split is None or u.id in split]
    counts_a: Counter[str] = Counter()
    counts_b: Counter[str] = Counter()
    a = _score_rows(in_split, first, classes, sample, missing, counts_a)
    b = _score_rows(in_split, second, classes, sample, missing, counts_b)
    rows_b = {u.id: i for i, u in enumerate(b.utterances)}
    both = [i for i, u in enumerate(a.utterances) if u.id in rows_b]
    other = [rows_b[a.utterances[i].id] for i in both]
    metrics = (
        paired_comparison(a.human[both], a.model[both], b.model[other], a.reference[both], resamples, resamples, seed)
        if both
        else {}
    )
    return {
        "n": len(both),
        "dropped": {"first": counts_a["dropped"], "second": counts_b["dropped"]},
        "scored_as_uniform": {"first": counts_a["scored_as_uniform"], "second": counts_b["scored_as_uniform"]},
        "resamples": resamples,
        "permutations": resamples,
        "seed": seed,
        "test": "paired permutation (each utterance's two predictions swapped at random), two-sided; "
        "95 % paired bootstrap interval of the difference; p Holm-adjusted over the metrics",
        "metrics": metrics,
    }


def nothing_read_reason(counts: Mapping[str, Any]) -> str:
    """Why no prediction of a report was read, from its counts: the one line ``cotgen eval`` fails with."""
    lines, failures, unknown = counts["prediction_lines"], counts["parse_failures"], counts["unknown_ids"]
    if lines == 0:
        return "the predictions file has no line (expected one JSON object {id, distribution | text} per line)"
    if failures:
        return (
            f"{failures} predictions could not be parsed (see the parse-failure reasons above; eval reads "
            "'distribution' objects or tagged 'text')"
        )
    if unknown:
        return f"the ids of its {lines} lines are not in the reference ({unknown} unknown ids; is it another run's?)"
    return f"none of its {lines} lines is for an utterance scored here (outside --ids: {counts['outside_ids']})"


def _prior_source(pool: Sequence[Utterance] | None, by: FoldField | None) -> str | None:
    if pool is not None:
        return f"{len(pool)} training utterances" + (f" outside the {by} fold" if by else "")
    if by is not None:
        return f"the utterances of the other {by} folds"
    return None


def read_reference(ref_path: Path) -> list[Utterance]:
    """The reference utterances, all over one class set."""
    reference = read_utterances(ref_path)
    if not reference:
        raise CotgenError(f"{ref_path}: no utterances to evaluate against")
    classes = reference[0].classes
    for utterance in reference:
        if utterance.classes != classes:
            raise CotgenError(f"{ref_path}: utterance {utterance.id!r} has classes {utterance.classes}, not {classes}")
    return reference


def run_order(run_dir: Path) -> tuple[str, ...]:
    """The order of the reasoning stages the run in ``run_dir`` was built with (the default without a run.json)."""
    return TextStyle.of_run(read_run_json(run_dir).get("config")).order


def run_evaluation(
    pred_path: Path,
    ref_path: Path,
    ids_path: Path | None = None,
    by: FoldField | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    train_ids_path: Path | None = None,
    sample: SampleChoice = "first",
    missing: MissingPolicy = "uniform",
    readout: Readout = "text",
    compare_path: Path | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """The full report of one predictions file (see :func:`evaluate_split`), with the paths it came from.

    With ``compare_path``, a second predictions file on the same utterances: ``comparison`` holds the paired
    differences (pred − compare), intervals and p-values (:func:`compare_predictions`).
    """
    if readout not in READOUTS:
        raise CotgenError(f"--readout {readout!r}: expected one of {', '.join(READOUTS)}")
    reference = read_reference(ref_path)
    known = {u.id for u in reference}
    split = read_ids(ids_path) if ids_path else None
    if split is not None and not split & known:
        raise CotgenError(f"{ids_path}: none of its ids is in {ref_path}")
    train = read_ids(train_ids_path) & known if train_ids_path else None
    if train is not None and not train:
        raise CotgenError(f"{train_ids_path}: none of its ids is in {ref_path}")
    if train is not None and split is not None and train & split:
        raise CotgenError(f"{train_ids_path}: {len(train & split)} of its ids are also in --ids (the test split)")
    order = run_order(ref_path.parent)
    predictions = read_predictions(pred_path, reference[0].classes, readout, order)
    report = evaluate_split(reference, predictions, split, train, by, sample, missing, bootstrap, seed)
    paths = {"pred": str(pred_path), "ref": str(ref_path), "ids": str(ids_path) if ids_path else None}
    train_path = {"train_ids": str(train_ids_path) if train_ids_path else None}
    if compare_path is not None:
        second = read_predictions(compare_path, reference[0].classes, readout, order)
        comparison = compare_predictions(reference, predictions, second, split, sample, missing, resamples, seed)
        report["comparison"] = {"first": str(pred_path), "second": str(compare_path), **comparison}
    return {**paths, **train_path, "by": by, "bootstrap": bootstrap, "seed": seed, "readout": readout, **report}


def write_report(report: Mapping[str, Any], path: Path) -> None:
    """Write the report as JSON (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


NAMES = {
    "js": "JS",
    "bc": "BC",
    "r2": "R²",
    "r2_flat": "R² flat",
    "brier_sum": "Brier (sum)",
    "brier_mean": "Brier (mean)",
    "kl": "KL",
    "wa_ref": "WA ref",
    "ua_ref": "UA ref",
    "wa_votes": "WA votes",
    "ua_votes": "UA votes",
    "f1_votes": "F1 votes",
    "classwise_ece": "class-wise ECE",
    "top_label_ece_votes": "top-label ECE (votes)",
    "entropy_spearman": "ρ(H)",
}
HEADERS = {m: NAMES[m] + ("↑" if HIGHER_IS_BETTER[m] else "↓") for m in METRICS}
BRIER_NOTE = f"Brier (sum): {DEFINITIONS['brier_sum']}; Brier (mean): {DEFINITIONS['brier_mean']}"
ORACLE_NOTE = "oracle†: the human distribution itself, a ceiling outside the comparison"


def _cell(row: Mapping[str, Any], metric: str) -> str:
    value = row["metrics"][metric]
    text = "-" if value is None else f"{value:.3f}"
    if "ci95" in row and value is not None:
        lo, hi = row["ci95"][metric]
        if lo is not None and hi is not None:
            text += f"\n[{lo:.3f}, {hi:.3f}]"
    return text


def render_counts(report: Mapping[str, Any], console: Console) -> None:
    """What was scored and what was not, and the commonest reasons a prediction could not be read."""
    counts = report["counts"]
    policy = (
        f"scored as uniform {counts['scored_as_uniform']}"
        if report["missing"] == "uniform"
        else f"dropped {counts['dropped']} (--missing drop)"
    )
    console.print(
        f"{counts['evaluated']} utterances scored · {counts['with_prediction']} with a readable prediction · "
        f"parse failures {counts['parse_failures']} · missing {counts['missing']} · {policy} · "
        f"unknown ids {counts['unknown_ids']} · outside --ids {counts['outside_ids']}"
    )
    reasons = list(report["parse_failure_reasons"].items())
    if reasons:
        console.print(f"top parse-failure reasons ({sum(n for _, n in reasons)} unreadable prediction lines):")
        for reason, n in reasons[:TOP_REASONS]:
            console.print(f"  {n:>6}  {reason}", markup=False, highlight=False)
    console.print(
        f"reference label: {report['reference_label']} ({counts['no_reference_label']} without one) · "
        f"prior: {report['prior_source'] or 'left out (no training utterances: give --ids, --train-ids or --by)'}"
    )


def render_report(report: Mapping[str, Any], console: Console) -> None:
    """A table per fold (overall last): a row per metric, the model beside the baselines in columns.

    Metrics as rows keep the table narrow enough for a terminal even with 95 % intervals, which
    are printed under each value when present. The oracle column comes last, marked.
    """
    render_counts(report, console)
    folds: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in report["results"]:
        folds.setdefault(row["fold"], {})[row["system"]] = row
    for fold, systems in folds.items():
        title = "overall" if fold == OVERALL else f"{report['by']} {fold}"
        first = next(iter(systems.values()))
        table = Table(title=f"{title} (n = {first['n']})", caption=f"{ORACLE_NOTE}\n{BRIER_NOTE}")
        table.add_column("metric")
        for name in systems:
            label = f"{name}†" if name == ORACLE else name
            table.add_column(
                label, justify="right", style="bold" if name == "model" else "dim" if name == ORACLE else None
            )
        for metric in report["metrics"]:
            table.add_row(HEADERS.get(metric, metric), *(_cell(row, metric) for row in systems.values()))
        console.print(table)
    render_strata(report, console)


def render_strata(report: Mapping[str, Any], console: Console, system: str = "model") -> None:
    """The model's metrics per agreement stratum and per annotator count, with the utterances in each."""
    for by, title in (("agreement", "by agreement (normalised entropy of the votes)"), ("annotators", "by annotators")):
        rows = [r for r in report.get("strata", []) if r["by"] == by and r["system"] == system]
        if not rows:
            continue
        caption = (
            " · ".join(f"{name}: {edge}" for name, edge in report["agreement_strata"].items())
            if by == "agreement"
            else None
        )
        table = Table(title=f"{system} {title}", caption=caption)
        table.add_column("metric")
        for row in rows:
            table.add_column(f"{row['stratum']}\n(n = {row['n']})", justify="right")
        for metric in report["metrics"]:
            table.add_row(HEADERS.get(metric, metric), *(_cell(row, metric) for row in rows))
        console.print(table)


def render_comparison(report: Mapping[str, Any], console: Console, labels: Sequence[str] = ("A", "B")) -> None:
    """The paired comparison of ``--pred`` (A) and ``--compare`` (B): both figures, the difference A − B, its
    interval and the p-values."""
    comparison = report.get("comparison")
    if not comparison:
        return
    a, b = labels
    table = Table(
        title=f"{a} − {b} on the same {comparison['n']} utterances ({comparison['resamples']} resamples)",
        caption=f"{a}: {comparison['first']} · {b}: {comparison['second']}\n{comparison['test']}",
    )
    for column in ("metric", a, b, f"{a} − {b}", "95 % CI", "p", "p Holm"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, row in comparison["metrics"].items():
        lo, hi = row["ci"]
        table.add_row(
            HEADERS.get(metric, metric),
            *("-" if row[k] is None else f"{row[k]:.3f}" for k in ("first", "second")),
            "-" if row["difference"] is None else f"{row['difference']:+.3f}",
            "-" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]",
            *("-" if row[k] is None else f"{row[k]:.3g}" for k in ("p", "p_holm")),
        )
    console.print(table)


def render_readouts(reports: Mapping[str, Mapping[str, Any]], console: Console) -> None:
    """The model's overall figures under each readout, side by side (``eval --readout both``)."""
    overall = {
        name: next(row for row in report["results"] if row["fold"] == OVERALL and row["system"] == "model")
        for name, report in reports.items()
        if any(row["fold"] == OVERALL for row in report["results"])
    }
    if not overall:
        return
    table = Table(title="the model, read from its text and from its label logprobs (overall)")
    table.add_column("metric")
    for name, report in reports.items():
        if name in overall:
            counts = report["counts"]
            table.add_column(f"{name}\n({counts['with_prediction']} of {counts['evaluated']} read)", justify="right")
    metrics = next(iter(reports.values()))["metrics"]
    for metric in metrics:
        table.add_row(HEADERS.get(metric, metric), *(_cell(row, metric) for row in overall.values()))
    console.print(table)
