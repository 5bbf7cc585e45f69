"""PNG figures of a run for ``cotgen stats`` and the dataset card (matplotlib, no display needed).

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly, without pyplot, so they
render on the Agg canvas on a headless machine and leave no global state between calls. Each
function draws one figure from records and returns the path written; a figure whose input is
missing (no traces, no pairs, no features) is skipped by :func:`write_plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cotgen.divergence import as_vector, entropy_bits
from cotgen.export.run_files import RunData
from cotgen.labels import emotion_name
from cotgen.records import TraceRecord
from cotgen.stats import class_vote_mass, pair_margins
from cotgen.utterance import Utterance

MAIN_FEATURES: tuple[str, ...] = ("f0_median_hz", "intensity_mean_db", "speech_rate_syl_s", "hnr_db")
DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _gold_and_samples(traces: Sequence[TraceRecord]) -> list[tuple[str, list[TraceRecord], str]]:
    """(label, traces, colour) for the gold traces and the predict-mode samples, drawn alike in every figure."""
    return [
        ("gold", [t for t in traces if t.sample == 0], "tab:green"),
        ("samples", [t for t in traces if t.sample > 0], "tab:orange"),
    ]


def plot_vote_mass(utterances: Sequence[Utterance], path: Path) -> Path:
    """Bar chart of the human vote mass per class."""
    classes = utterances[0].classes
    mass = class_vote_mass(utterances, classes)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.bar([emotion_name(c) for c in classes], [mass[c] for c in classes], color="tab:blue")
    ax.set_ylabel("summed probability (utterances)")
    ax.set_title("Human vote mass per class")
    return _save(fig, path)


def plot_entropy(utterances: Sequence[Utterance], traces: Sequence[TraceRecord], path: Path) -> Path:
    """Each trace's entropy against its utterance's human entropy; the diagonal is perfect calibration."""
    classes = utterances[0].classes
    human = {u.id: float(entropy_bits(as_vector(u.distribution, classes))) for u in utterances}
    known = [t for t in traces if t.id in human]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    top = float(np.log2(len(classes)))
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="equal entropy")
    for label, subset, colour in _gold_and_samples(known):
        if subset:
            ax.scatter(
                [human[t.id] for t in subset],
                [float(entropy_bits(as_vector(t.distribution, classes))) for t in subset],
                s=18,
                alpha=0.7,
                color=colour,
                label=label,
            )
    ax.set_xlabel("human entropy (bits)")
    ax.set_ylabel("trace entropy (bits)")
    ax.set_title("Entropy: humans vs traces")
    ax.legend()
    return _save(fig, path)


def plot_trace_js(traces: Sequence[TraceRecord], path: Path) -> Path:
    """Histogram of the traces' JS divergence to the humans (teacher calibration)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 21)
    for label, subset, colour in _gold_and_samples(traces):
        if subset:
            ax.hist([t.js for t in subset], bins=bins, alpha=0.6, color=colour, label=label)
    ax.set_xlabel("JS(human, trace) in bits")
    ax.set_ylabel("traces")
    ax.set_title("Trace-to-human divergence")
    ax.legend()
    return _save(fig, path)


def plot_pair_margins(margins: Sequence[float], path: Path) -> Path:
    """Histogram of DPO score margins (rejected minus chosen)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.hist(margins, bins=20, color="tab:purple")
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("score_rejected − score_chosen")
    ax.set_ylabel("pairs")
    ax.set_title("DPO pair margins")
    return _save(fig, path)


def plot_features_by_class(utterances: Sequence[Utterance], features: pd.DataFrame, path: Path) -> Path | None:
    """Box plots of the main acoustic features per human majority class; None when no feature is present."""
    columns = [c for c in MAIN_FEATURES if c in features.columns]
    if not columns:
        return None
    majority = pd.Series({u.id: u.majority for u in utterances}, name="majority")
    frame = features.set_index("id").join(majority, how="inner")
    if "error" in frame.columns:
        frame = frame[frame["error"].isna()]
    frame = frame.dropna(subset=["majority"])
    classes = [c for c in utterances[0].classes if c in set(frame["majority"])]
    if not classes:
        return None
    fig = Figure(figsize=(4 * len(columns), 4))
    for index, column in enumerate(columns, start=1):
        ax = fig.add_subplot(1, len(columns), index)
        groups = [frame.loc[frame["majority"] == c, column].dropna().to_numpy(dtype=float) for c in classes]
        ax.boxplot(groups)
        ax.set_xticks(range(1, len(classes) + 1), [emotion_name(c) for c in classes], rotation=30)
        ax.set_title(column)
    fig.suptitle("Acoustic features by majority class")
    return _save(fig, path)


def write_plots(data: RunData, features: pd.DataFrame | None, plots_dir: Path) -> dict[str, Path]:
    """Every figure whose inputs the run has; returns figure name -> PNG path."""
    written: dict[str, Path] = {}
    if not data.utterances:
        return written
    written["vote_mass"] = plot_vote_mass(data.utterances, plots_dir / "vote_mass.png")
    if data.traces:
        written["entropy"] = plot_entropy(data.utterances, data.traces, plots_dir / "entropy.png")
        written["trace_js"] = plot_trace_js(data.traces, plots_dir / "trace_js.png")
    if data.dpo:
        written["pair_margins"] = plot_pair_margins(pair_margins(data.dpo), plots_dir / "pair_margins.png")
    if features is not None:
        path = plot_features_by_class(data.utterances, features, plots_dir / "features_by_class.png")
        if path is not None:
            written["features_by_class"] = path
    return written
