"""The evaluation metrics of the field, as pure vectorised functions over (n, k) probability arrays.

Papers on distributional speech-emotion recognition report JS, the Bhattacharyya coefficient, R²
and Brier; ``cotgen eval`` reports those plus KL, top-1 accuracy, macro-F1, calibration and an
entropy correlation, so a user's numbers can sit beside published ones. The per-utterance
divergences come from :mod:`cotgen.core.divergence` (one definition for the whole project); this module
adds the corpus-level aggregates, which is where papers differ most, so each docstring says exactly
what is averaged over what.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cotgen.core.divergence import bhattacharyya, brier, entropy_bits, js, kl

NO_LABEL = -1
ECE_BINS = 10
METRICS: tuple[str, ...] = ("js", "bc", "r2", "brier", "kl", "accuracy", "macro_f1", "ece", "entropy_spearman")

Array = NDArray[np.float64]


def _matrix(values: ArrayLike) -> Array:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected an (n, k) array of distributions, got shape {arr.shape}")
    return arr


def majority_labels(distributions: ArrayLike, tol: float = 1e-9) -> NDArray[np.int64]:
    """Index of the top class per row, or NO_LABEL (-1) where two or more classes share the top.

    Ties are excluded from accuracy and F1 (a tie has no majority to agree with), matching
    :func:`cotgen.records.utterance.majority_of`.
    """
    arr = _matrix(distributions)
    top = arr.max(axis=1, keepdims=True)
    n_top = (arr >= top - tol).sum(axis=1)
    return np.where(n_top == 1, arr.argmax(axis=1), NO_LABEL).astype(np.int64)


def predicted_labels(distributions: ArrayLike) -> NDArray[np.int64]:
    """A model's top-1 label: the argmax, ties going to the earlier class (a prediction always names one)."""
    return _matrix(distributions).argmax(axis=1).astype(np.int64)


def r2(human: ArrayLike, predicted: ArrayLike) -> float:
    """R² over all class probabilities: 1 - SS_res / SS_tot, SS_tot around the mean of all human values flattened.

    NaN when the human probabilities are all equal (SS_tot = 0: nothing to explain).
    """
    h, p = _matrix(human).ravel(), _matrix(predicted).ravel()
    ss_tot = float(((h - h.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(((h - p) ** 2).sum()) / ss_tot


def accuracy(true_labels: ArrayLike, predicted: ArrayLike) -> float:
    """Share of utterances with a majority whose predicted label equals it; NaN when none has a majority."""
    t, p = np.asarray(true_labels), np.asarray(predicted)
    keep = t != NO_LABEL
    return float((t[keep] == p[keep]).mean()) if keep.any() else math.nan


def macro_f1(true_labels: ArrayLike, predicted: ArrayLike) -> float:
    """Unweighted mean F1 over the classes that occur as a true or a predicted label (ties excluded).

    Classes that occur in neither carry no information and are left out (scikit-learn's default).
    """
    t, p = np.asarray(true_labels), np.asarray(predicted)
    keep = t != NO_LABEL
    t, p = t[keep], p[keep]
    if t.size == 0:
        return math.nan
    scores = []
    for label in np.union1d(t, p):
        tp = float(((t == label) & (p == label)).sum())
        fp = float(((t != label) & (p == label)).sum())
        fn = float(((t == label) & (p != label)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def expected_calibration_error(confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS) -> float:
    """Top-label ECE with equal-width bins over [0, 1]: sum over bins of (share of items) * |accuracy - confidence|.

    Bin b holds confidences in (b/bins, (b+1)/bins]; confidence 0 falls in the first bin.
    """
    c = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if c.size == 0:
        return math.nan
    index = np.clip(np.ceil(c * bins).astype(int) - 1, 0, bins - 1)
    conf_sum = np.bincount(index, weights=c, minlength=bins)
    acc_sum = np.bincount(index, weights=ok, minlength=bins)
    return float(np.abs(acc_sum - conf_sum).sum() / c.size)


def calibration_error(human: ArrayLike, predicted: ArrayLike) -> float:
    """ECE of the predicted top label against the human majority (utterances with a tied majority excluded)."""
    truth = majority_labels(human)
    pred = _matrix(predicted)
    keep = truth != NO_LABEL
    labels = predicted_labels(pred)
    return expected_calibration_error(pred.max(axis=1)[keep], (labels == truth)[keep])


def entropy_spearman(human: ArrayLike, predicted: ArrayLike) -> float:
    """Spearman correlation of predicted and human entropy: does the model know which utterances are ambiguous?

    NaN when either entropy is constant (a correlation is undefined then).
    """
    h = np.asarray(entropy_bits(_matrix(human)), dtype=np.float64)
    p = np.asarray(entropy_bits(_matrix(predicted)), dtype=np.float64)
    if h.size < 2 or np.ptp(h) == 0 or np.ptp(p) == 0:
        return math.nan
    # scipy (about 60 MB) is imported by the one metric that needs it, so `cotgen` commands that never
    # compute it (every command registers `eval`) do not load it.
    from scipy.stats import spearmanr

    return float(spearmanr(h, p).statistic)


def evaluate(human: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """Every metric of :data:`METRICS` for aligned rows of human and predicted distributions."""
    h, p = _matrix(human), _matrix(predicted)
    if h.shape != p.shape:
        raise ValueError(f"human and predicted shapes differ: {h.shape} vs {p.shape}")
    if h.shape[0] == 0:
        return {name: math.nan for name in METRICS}
    truth, labels = majority_labels(h), predicted_labels(p)
    return {
        "js": float(np.mean(js(h, p))),
        "bc": float(np.mean(bhattacharyya(h, p))),
        "r2": r2(h, p),
        "brier": float(np.mean(brier(h, p))),
        "kl": float(np.mean(kl(h, p))),
        "accuracy": accuracy(truth, labels),
        "macro_f1": macro_f1(truth, labels),
        "ece": calibration_error(h, p),
        "entropy_spearman": entropy_spearman(h, p),
    }


def bootstrap_intervals(
    human: ArrayLike,
    predicted: ArrayLike,
    resamples: int,
    seed: int,
    level: float = 0.95,
    metric_fn: Callable[[Array, Array], dict[str, float]] = evaluate,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals: utterances resampled with replacement ``resamples`` times.

    Resampling utterances (not class cells) keeps each utterance's classes together, which is the
    unit the corpus samples. Metrics undefined in a resample (NaN) are left out of its percentiles.
    """
    h, p = _matrix(human), _matrix(predicted)
    rng = np.random.default_rng(seed)
    n = h.shape[0]
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        for name, value in metric_fn(h[idx], p[idx]).items():
            draws[name].append(value)
    tail = (1.0 - level) / 2 * 100
    out: dict[str, tuple[float, float]] = {}
    for name, values in draws.items():
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        out[name] = (
            (float(np.percentile(arr, tail)), float(np.percentile(arr, 100 - tail))) if arr.size else (math.nan,) * 2
        )
    return out
