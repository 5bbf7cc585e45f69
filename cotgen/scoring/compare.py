"""Paired comparison of two systems on the same utterances, and of their per-fold figures.

Two models scored on one test set are compared utterance by utterance, not by whether their separate
intervals overlap: the figures share the utterances, so their difference varies far less than either.
For every metric of :mod:`cotgen.scoring.metrics`:

- the difference A − B of the corpus-level figures;
- a 95 % paired bootstrap interval of that difference: utterances resampled with replacement, the same
  draw for both systems;
- a two-sided paired permutation p-value: under the null hypothesis the two systems are exchangeable on
  each utterance, so each permutation swaps A's and B's prediction on a random half of the utterances and
  recomputes the difference; p is the share of permutations whose |difference| reaches the observed one.
  With 2^n no more than the permutations asked for, every one of the 2^n swaps is enumerated (exact);
  otherwise p = (1 + hits) / (1 + permutations) (Monte Carlo, never 0). For a metric that is a mean over
  utterances this is the sign-flip test of the per-utterance differences (scipy's ``permutation_test``
  with ``permutation_type="samples"``);
- Holm's step-down adjustment of those p-values over the metrics tested, since a table of a dozen
  metrics will show a "significant" one by chance.

Across folds (:func:`compare_folds`) the unit is the fold: the per-fold differences, their mean and
standard deviation, and a two-sided one-sample t-test of the mean difference against 0 (scipy), again
Holm-adjusted over the metrics.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cotgen.scoring.metrics import METRICS, evaluate

Array = NDArray[np.float64]
MetricFn = Callable[[Array, Array, NDArray[np.int64] | None], dict[str, float]]
DEFAULT_RESAMPLES = 1000
TIE_TOLERANCE = 1e-12  # a permuted difference equal to the observed one up to rounding counts as reaching it


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error over the tests given; None stays None).

    Sorted ascending, the i-th smallest of m is multiplied by (m − i), made non-decreasing, capped at 1.
    """
    indexed = [(p, i) for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def _difference(first: Mapping[str, float], second: Mapping[str, float]) -> dict[str, float]:
    return {m: first[m] - second[m] for m in first}


def _swap_masks(n: int, permutations: int, rng: np.random.Generator) -> tuple[NDArray[np.bool_], bool]:
    """Which utterances swap systems in each permutation, and whether they are all 2^n of them (exact)."""
    if n <= 20 and 2**n <= permutations:
        return np.array(list(itertools.product((False, True), repeat=n)), dtype=bool).reshape(2**n, n), True
    return rng.random((permutations, n)) < 0.5, False


def paired_comparison(
    human: ArrayLike,
    first: ArrayLike,
    second: ArrayLike,
    reference: ArrayLike | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    permutations: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    metric_fn: MetricFn = evaluate,
) -> dict[str, dict[str, Any]]:
    """Per metric: ``first``, ``second``, ``difference`` (first − second), ``ci`` [lo, hi], ``p``, ``p_holm``.

    Every value is None where the metric is undefined (NaN). See the module docstring for the method.
    """
    h = np.asarray(human, dtype=np.float64)
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if not (h.shape == a.shape == b.shape) or h.ndim != 2:
        raise ValueError(f"human, first and second must be (n, k) arrays of one shape: {h.shape} {a.shape} {b.shape}")
    ref = None if reference is None else np.asarray(reference, dtype=np.int64)
    n = h.shape[0]
    scores_a, scores_b = metric_fn(h, a, ref), metric_fn(h, b, ref)
    observed = _difference(scores_a, scores_b)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in observed}
    for _ in range(resamples if n else 0):
        idx = rng.integers(0, n, size=n)
        sub = None if ref is None else ref[idx]
        for m, d in _difference(metric_fn(h[idx], a[idx], sub), metric_fn(h[idx], b[idx], sub)).items():
            draws[m].append(d)
    masks, exact = _swap_masks(n, permutations, rng)
    hits = {m: 0 for m in observed}
    for mask in masks:
        swapped_a = np.where(mask[:, None], b, a)
        swapped_b = np.where(mask[:, None], a, b)
        for m, d in _difference(metric_fn(h, swapped_a, ref), metric_fn(h, swapped_b, ref)).items():
            if not math.isnan(observed[m]) and not math.isnan(d) and abs(d) >= abs(observed[m]) - TIE_TOLERANCE:
                hits[m] += 1
    tail = (1.0 - level) / 2 * 100
    out: dict[str, dict[str, Any]] = {}
    for m, d in observed.items():
        values = np.asarray(draws[m], dtype=np.float64)
        values = values[~np.isnan(values)]
        defined = not math.isnan(d)
        if not defined:
            p = None
        elif exact:
            p = hits[m] / len(masks)
        else:
            p = (1 + hits[m]) / (1 + len(masks))
        out[m] = {
            "first": _finite(scores_a[m]),
            "second": _finite(scores_b[m]),
            "difference": _finite(d),
            "ci": [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
            if defined and values.size
            else [None, None],
            "p": p,
        }
    for m, adjusted in zip(out, holm([row["p"] for row in out.values()])):
        out[m]["p_holm"] = adjusted
    return out


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def compare_folds(
    first: Mapping[str, Mapping[str, float | None]],
    second: Mapping[str, Mapping[str, float | None]],
    metrics: Sequence[str] = METRICS,
) -> dict[str, dict[str, Any]]:
    """Per metric over the folds both systems have: ``differences`` (fold -> first − second), ``mean``, ``std``
    (ddof 1), ``folds`` (how many), ``p`` (two-sided one-sample t-test of the differences against 0) and
    ``p_holm``. Differences all exactly 0 give p = 1; a constant non-zero difference gives p = 0.
    """
    from scipy.stats import ttest_1samp  # scipy is loaded by the one comparison that needs it

    folds = [f for f in first if f in second]
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        differences = {
            f: float(first[f][m]) - float(second[f][m])  # type: ignore[arg-type]
            for f in folds
            if first[f].get(m) is not None and second[f].get(m) is not None
        }
        values = np.array(list(differences.values()), dtype=np.float64)
        mean = float(values.mean()) if values.size else None
        std = float(values.std(ddof=1)) if values.size > 1 else None
        if values.size < 2:
            p = None
        elif np.all(values == 0):
            p = 1.0
        elif np.ptp(values) == 0:
            p = 0.0
        else:
            p = float(ttest_1samp(values, 0.0).pvalue)
        out[m] = {"differences": differences, "folds": int(values.size), "mean": mean, "std": std, "p": p}
    for m, adjusted in zip(out, holm([row["p"] for row in out.values()])):
        out[m]["p_holm"] = adjusted
    return out
