"""PNG figures of a run for ``cotgen stats`` and the dataset card (matplotlib, no display needed).

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly, without pyplot, so they
render on the Agg canvas on a headless machine and leave no global state between calls.
:func:`gather_plot_data` reads the run once into arrays of numbers; each ``plot_*`` function draws
one figure from them and returns the path written; a figure whose input is missing (no traces,
no pairs, no features) is skipped by :func:`write_plots`.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from cotgen.core.divergence import as_vector, entropy_bits
from cotgen.core.id_index import IdIndex, IdIndexBuilder
from cotgen.core.labels import emotion_name
from cotgen.export.record_readers import RecordFile, RunData
from cotgen.report.stats import TraceFigures, pair_margin

if TYPE_CHECKING:
    import pandas as pd

MAIN_FEATURES: tuple[str, ...] = ("f0_median_hz", "intensity_mean_db", "speech_rate_syl_s", "hnr_db")
DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


@dataclass
class TraceSeries:
    """Per-trace numbers of the gold traces or of the samples, in file order, for the figures."""

    label: str
    colour: str
    js: array[float] = field(default_factory=lambda: array("d"))
    human_entropy: array[float] = field(default_factory=lambda: array("d"))
    trace_entropy: array[float] = field(default_factory=lambda: array("d"))


@dataclass
class PlotData:
    """Everything the figures draw, as numbers: no record is kept once its numbers are taken."""

    classes: list[str]
    vote_mass: dict[str, float]
    utterance_index: IdIndex
    gold: TraceSeries
    samples: TraceSeries
    margins: array[float]

    @property
    def series(self) -> list[TraceSeries]:
        """Gold traces and predict-mode samples, drawn alike in every figure."""
        return [self.gold, self.samples]


_UTTERANCE_NUMBERS = np.dtype([("entropy", np.float64), ("majority", np.int8)])


def gather_plot_data(data: RunData) -> PlotData:
    """One streaming pass over utterances, traces and pairs, keeping arrays of numbers.

    Traces join their utterance's human entropy through an :class:`IdIndex` (a trace whose
    utterance is unknown still counts in the JS histogram, not in the entropy scatter).
    """
    classes = data.classes
    mass = np.zeros(len(classes))
    builder = IdIndexBuilder(_UTTERANCE_NUMBERS)
    for utt in data.utterances:
        human = as_vector(utt.distribution, classes)
        mass += human
        majority = classes.index(utt.majority) if utt.majority in classes else -1
        builder.add(utt.id, (float(entropy_bits(human)), majority))
    index = builder.build()
    gold, samples = TraceSeries("gold", "tab:green"), TraceSeries("samples", "tab:orange")
    for trace in RecordFile(data.traces.path, TraceFigures):
        series = gold if trace.sample == 0 else samples
        series.js.append(trace.js)
        human_entropy = index.get(trace.id)
        if human_entropy is not None:
            series.human_entropy.append(float(human_entropy["entropy"]))
            series.trace_entropy.append(float(entropy_bits(as_vector(trace.distribution, classes))))
    margins = array("d", (pair_margin(pair) for pair in data.dpo))
    vote_mass = {code: float(v) for code, v in zip(classes, mass)}
    return PlotData(classes, vote_mass, index, gold, samples, margins)


def plot_vote_mass(classes: Sequence[str], mass: Mapping[str, float], path: Path) -> Path:
    """Bar chart of the human vote mass per class."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.bar([emotion_name(c) for c in classes], [mass[c] for c in classes], color="tab:blue")
    ax.set_ylabel("summed probability (utterances)")
    ax.set_title("Human vote mass per class")
    return _save(fig, path)


def plot_entropy(n_classes: int, series: Sequence[TraceSeries], path: Path) -> Path:
    """Each trace's entropy against its utterance's human entropy; the diagonal is perfect calibration."""
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    top = float(np.log2(n_classes))
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="equal entropy")
    for group in series:
        if group.human_entropy:
            ax.scatter(
                np.asarray(group.human_entropy),
                np.asarray(group.trace_entropy),
                s=18,
                alpha=0.7,
                color=group.colour,
                label=group.label,
            )
    ax.set_xlabel("human entropy (bits)")
    ax.set_ylabel("trace entropy (bits)")
    ax.set_title("Entropy: humans vs traces")
    ax.legend()
    return _save(fig, path)


def plot_evaluation(
    report: Mapping[str, Any], path: Path, metric: str = "js", names: Mapping[str, str] | None = None
) -> Path:
    """``cotgen eval --plot``: the model's class-wise reliability diagram (predicted probability of each class
    against the human share of it, per bin; the diagonal is the human distribution itself) beside ``metric``
    per agreement stratum for the model and the baselines, each stratum's utterance count under it. ``names``
    relabels systems (``{"model": "sft"}``)."""
    names = names or {}
    fig = Figure(figsize=(11, 4.5))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="human distribution (0 error)")
    reliability = report.get("reliability")
    if reliability:
        for code, predicted, human, counts in zip(
            report["classes"], reliability["mean_predicted"], reliability["mean_human"], reliability["counts"]
        ):
            points = [(p, h) for p, h, n in zip(predicted, human, counts) if n]
            if points:
                xs, ys = zip(*points)
                left.plot(xs, ys, marker="o", markersize=3, linewidth=1, label=emotion_name(code))
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.set_xlabel("predicted probability of the class (bin mean)")
    left.set_ylabel("human share of the class (bin mean)")
    left.set_title(f"Class-wise reliability of {names.get('model', 'the model')}")
    left.legend(fontsize=7)
    strata = [row for row in report.get("strata", []) if row["by"] == "agreement"]
    strata_names = list(dict.fromkeys(row["stratum"] for row in strata))
    systems = [s for s in dict.fromkeys(row["system"] for row in strata) if s != "oracle"]
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        values = {row["stratum"]: row["metrics"][metric] for row in strata if row["system"] == system}
        heights = [np.nan if values.get(name) is None else values[name] for name in strata_names]
        right.bar(np.arange(len(strata_names)) + i * width, heights, width, label=names.get(system, system))
    counts = {row["stratum"]: row["n"] for row in strata}
    right.set_xticks(np.arange(len(strata_names)) + width * (len(systems) - 1) / 2)
    right.set_xticklabels([f"{name}\n(n = {counts[name]})" for name in strata_names])
    right.set_ylabel(metric.upper())
    right.set_title(f"{metric.upper()} by agreement (normalised entropy of the votes)")
    right.legend(fontsize=7)
    return _save(fig, path)


def plot_trace_js(series: Sequence[TraceSeries], path: Path) -> Path:
    """Histogram of the traces' JS divergence to the humans (teacher calibration)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 21)
    for group in series:
        if group.js:
            ax.hist(np.asarray(group.js), bins=bins, alpha=0.6, color=group.colour, label=group.label)
    ax.set_xlabel("JS(human, trace) in bits")
    ax.set_ylabel("traces")
    ax.set_title("Trace-to-human divergence")
    ax.legend()
    return _save(fig, path)


def plot_pair_margins(margins: Sequence[float], path: Path) -> Path:
    """Histogram of DPO score margins (rejected minus chosen)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.hist(np.asarray(margins), bins=20, color="tab:purple")
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("score_rejected − score_chosen")
    ax.set_ylabel("pairs")
    ax.set_title("DPO pair margins")
    return _save(fig, path)


def plot_features_by_class(
    features: pd.DataFrame, utterance_index: IdIndex, classes: Sequence[str], path: Path
) -> Path | None:
    """Box plots of the main acoustic features per human majority class; None when no feature is present."""
    columns = [c for c in MAIN_FEATURES if c in features.columns]
    if not columns:
        return None
    at = utterance_index.positions(features["id"].astype(str))
    majority = np.where(at >= 0, utterance_index.values["majority"][np.maximum(at, 0)], -1)
    keep = majority >= 0
    if "error" in features.columns:
        keep &= features["error"].isna().to_numpy()
    frame, majority = features[keep], majority[keep]
    present = [i for i in range(len(classes)) if (majority == i).any()]
    if not present:
        return None
    fig = Figure(figsize=(4 * len(columns), 4))
    for index, column in enumerate(columns, start=1):
        ax = fig.add_subplot(1, len(columns), index)
        groups = [frame.loc[majority == i, column].dropna().to_numpy(dtype=float) for i in present]
        ax.boxplot(groups)
        ax.set_xticks(range(1, len(present) + 1), [emotion_name(classes[i]) for i in present], rotation=30)
        ax.set_title(column)
    fig.suptitle("Acoustic features by majority class")
    return _save(fig, path)


def write_plots(data: RunData, features: pd.DataFrame | None, plots_dir: Path) -> dict[str, Path]:
    """Every figure whose inputs the run has; returns figure name -> PNG path."""
    written: dict[str, Path] = {}
    if not data.utterances:
        return written
    numbers = gather_plot_data(data)
    written["vote_mass"] = plot_vote_mass(numbers.classes, numbers.vote_mass, plots_dir / "vote_mass.png")
    if numbers.gold.js or numbers.samples.js:
        written["entropy"] = plot_entropy(len(numbers.classes), numbers.series, plots_dir / "entropy.png")
        written["trace_js"] = plot_trace_js(numbers.series, plots_dir / "trace_js.png")
    if numbers.margins:
        written["pair_margins"] = plot_pair_margins(numbers.margins, plots_dir / "pair_margins.png")
    if features is not None:
        path = plot_features_by_class(
            features, numbers.utterance_index, numbers.classes, plots_dir / "features_by_class.png"
        )
        if path is not None:
            written["features_by_class"] = path
    return written
