"""The evaluation metrics of the field, as pure vectorised functions over (n, k) probability arrays.

Papers on distributional speech-emotion recognition report JS, the Bhattacharyya coefficient, R²
and Brier, and IEMOCAP papers WA (accuracy) and UA (mean per-class recall); ``cotgen eval`` reports
those plus KL, macro-F1, calibration and an entropy correlation, so a user's numbers can sit beside
published ones. Labels come in two kinds, named in every key: ``_ref`` compares with the corpus's
own reference label, ``_votes`` with the majority of the votes. The per-utterance
divergences come from :mod:`cotgen.core.divergence` (one definition for the whole project); this module
adds the corpus-level aggregates, which is where papers differ most, so each docstring says exactly
what is averaged over what.

Brier comes in two conventions that differ by the class count k, so both are reported and each is
named for what it is: ``brier_sum`` is Brier's multi-class score (the squared differences summed over
the classes, then averaged over utterances; scikit-learn's multi-class ``brier_score_loss``, in [0, 2]),
``brier_mean`` the mean squared error over the probability matrix (averaged over utterances *and*
classes; ``mean_squared_error``, = ``brier_sum`` / k). Figures like IEMOCAP's Brier 0.07 beside JS 0.20
and BC 0.82 are ``brier_mean``: the summed score at that BC is about k times larger.

Calibration is measured against the human distribution, not its majority: ``classwise_ece`` bins each
class's predicted probability and compares it with the mean human share of that class in the bin, so
the human distribution itself scores exactly 0. ``top_label_ece_votes`` is the classic top-label ECE
against the vote majority, kept under a name that says what it measures (the oracle scores badly on it
wherever annotators disagree, which is why it is not the calibration figure for soft labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cotgen.core.divergence import bhattacharyya, brier, entropy_bits, js, kl

NO_LABEL = -1
ECE_BINS = 10
METRICS: tuple[str, ...] = (
    "js",
    "bc",
    "r2",
    "r2_flat",
    "brier_sum",
    "brier_mean",
    "kl",
    "wa_ref",
    "ua_ref",
    "wa_votes",
    "ua_votes",
    "f1_votes",
    "classwise_ece",
    "top_label_ece_votes",
    "entropy_spearman",
)
# What the metrics whose names are used for several things in the literature measure here: every report carries
# these (the JSON's ``definitions``, the tables' notes), so nobody compares a summed Brier with a mean one.
DEFINITIONS: dict[str, str] = {
    "brier_sum": "Brier's multi-class score: squared differences summed over the classes, averaged over utterances",
    "brier_mean": "mean squared error over utterances and classes (= brier_sum / k), the convention of published "
    "figures such as IEMOCAP's Brier 0.07",
    "classwise_ece": "class-wise ECE against the human shares (10 equal-width bins, mean over classes): the human "
    "distribution scores 0",
    "top_label_ece_votes": "top-label ECE against the vote majority (10 equal-width bins): the human distribution "
    "does not score 0 where annotators disagree",
}
# The better direction of each metric (the arrows of every table): True where higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "js": False,
    "bc": True,
    "r2": True,
    "r2_flat": True,
    "brier_sum": False,
    "brier_mean": False,
    "kl": False,
    "wa_ref": True,
    "ua_ref": True,
    "wa_votes": True,
    "ua_votes": True,
    "f1_votes": True,
    "classwise_ece": False,
    "top_label_ece_votes": False,
    "entropy_spearman": True,
}

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
    """scikit-learn's ``r2_score(human, predicted)``: R² of each class column around its own mean, averaged.

    Per class j, 1 - SS_res_j / SS_tot_j with SS_tot_j around the mean human probability of class j
    over the utterances, then the uniform mean over classes. Predicting every utterance as the class
    prior therefore scores 0, as a regression baseline should. As in scikit-learn (``force_finite``),
    a class whose human column is constant scores 1 when predicted exactly and 0 otherwise; NaN for
    fewer than two utterances.
    """
    h, p = _matrix(human), _matrix(predicted)
    if h.shape[0] < 2:
        return math.nan
    ss_res = ((h - p) ** 2).sum(axis=0)
    ss_tot = ((h - h.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.ones(h.shape[1])
    defined = ss_tot != 0
    scores[defined] = 1.0 - ss_res[defined] / ss_tot[defined]
    scores[~defined & (ss_res != 0)] = 0.0
    return float(scores.mean())


def r2_flat(human: ArrayLike, predicted: ArrayLike) -> float:
    """R² over all class probabilities flattened: SS_tot around the mean of every human cell.

    That mean is always 1/k, so this figure credits a model for knowing which classes are common:
    the class prior alone scores well above 0. Kept (as ``r2_flat``) because earlier reports used it.
    NaN when the human probabilities are all equal (SS_tot = 0: nothing to explain).
    """
    h, p = _matrix(human).ravel(), _matrix(predicted).ravel()
    ss_tot = float(((h - h.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(((h - p) ** 2).sum()) / ss_tot


def accuracy(true_labels: ArrayLike, predicted: ArrayLike) -> float:
    """WA: share of labelled utterances whose predicted label equals the true one; NaN when none is labelled.

    Utterances without a true label (NO_LABEL: a tied vote, or no reference label) are left out.
    """
    t, p = np.asarray(true_labels), np.asarray(predicted)
    keep = t != NO_LABEL
    return float((t[keep] == p[keep]).mean()) if keep.any() else math.nan


def unweighted_accuracy(true_labels: ArrayLike, predicted: ArrayLike) -> float:
    """UA: recall of each class that occurs as a true label, averaged with equal weight per class.

    This is scikit-learn's ``balanced_accuracy_score`` on the labelled utterances: a model that
    always answers the majority class gets 1/(number of classes present), however skewed the corpus.
    """
    t, p = np.asarray(true_labels), np.asarray(predicted)
    keep = t != NO_LABEL
    t, p = t[keep], p[keep]
    if t.size == 0:
        return math.nan
    return float(np.mean([(p[t == label] == label).mean() for label in np.unique(t)]))


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


def bin_index(probabilities: ArrayLike, bins: int = ECE_BINS) -> NDArray[np.int64]:
    """Equal-width bin of each probability: bin b holds (b/bins, (b+1)/bins]; probability 0 falls in the first."""
    p = np.asarray(probabilities, dtype=np.float64)
    return np.clip(np.ceil(p * bins).astype(np.int64) - 1, 0, bins - 1)


def expected_calibration_error(confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins over [0, 1]: sum over bins of (share of items) * |mean outcome - mean confidence|.

    ``correct`` may be 0/1 (top-label ECE) or a share in [0, 1] (one class's column of a soft calibration).
    Bins as in :func:`bin_index`.
    """
    c = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if c.size == 0:
        return math.nan
    index = bin_index(c, bins)
    conf_sum = np.bincount(index, weights=c, minlength=bins)
    acc_sum = np.bincount(index, weights=ok, minlength=bins)
    return float(np.abs(acc_sum - conf_sum).sum() / c.size)


def classwise_reliability(
    human: ArrayLike, predicted: ArrayLike, bins: int = ECE_BINS
) -> tuple[NDArray[np.int64], Array, Array]:
    """Per class and bin of its predicted probability: the count, the mean predicted probability and the mean
    human share of that class, as (k, bins) arrays (NaN means in an empty bin). The reliability diagram of a
    distributional prediction: a calibrated model's points lie on the diagonal, the human distribution's exactly.
    """
    h, p = _matrix(human), _matrix(predicted)
    k = h.shape[1]
    counts = np.zeros((k, bins), dtype=np.int64)
    mean_p = np.full((k, bins), np.nan)
    mean_h = np.full((k, bins), np.nan)
    for j in range(k):
        index = bin_index(p[:, j], bins)
        counts[j] = np.bincount(index, minlength=bins)
        filled = counts[j] > 0
        mean_p[j, filled] = np.bincount(index, weights=p[:, j], minlength=bins)[filled] / counts[j, filled]
        mean_h[j, filled] = np.bincount(index, weights=h[:, j], minlength=bins)[filled] / counts[j, filled]
    return counts, mean_p, mean_h


def classwise_calibration_error(human: ArrayLike, predicted: ArrayLike, bins: int = ECE_BINS) -> float:
    """Class-wise ECE against the human shares: the mean over classes of that class's ECE, where an utterance's
    "outcome" for class j is its human share of j (not a 0/1 hit).

    Per class j, sum over bins of (share of utterances in the bin) * |mean human share - mean predicted|;
    then the plain mean over the k classes. The human distribution scores exactly 0, and so does any
    predictor whose probability for a class, within each bin, matches the human share on average (the
    training prior is calibrated in this sense, the uniform predictor is not unless the classes are
    balanced): calibration says the probabilities mean what they say, JS and Brier how sharp they are.
    """
    h, p = _matrix(human), _matrix(predicted)
    if h.shape[0] == 0:
        return math.nan
    return float(np.mean([expected_calibration_error(p[:, j], h[:, j], bins) for j in range(h.shape[1])]))


def top_label_calibration_error(human: ArrayLike, predicted: ArrayLike) -> float:
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


def evaluate(human: ArrayLike, predicted: ArrayLike, reference: ArrayLike | None = None) -> dict[str, float]:
    """Every metric of :data:`METRICS` for aligned rows of human and predicted distributions.

    ``reference`` holds each utterance's reference label as a class index (NO_LABEL where it has
    none); without it the vote majority stands in, so ``*_ref`` equals ``*_votes``.
    """
    h, p = _matrix(human), _matrix(predicted)
    if h.shape != p.shape:
        raise ValueError(f"human and predicted shapes differ: {h.shape} vs {p.shape}")
    if h.shape[0] == 0:
        return {name: math.nan for name in METRICS}
    votes, labels = majority_labels(h), predicted_labels(p)
    ref = votes if reference is None else np.asarray(reference, dtype=np.int64)
    if ref.shape != (h.shape[0],):
        raise ValueError(f"{ref.shape[0]} reference labels for {h.shape[0]} utterances")
    brier_sum = float(np.mean(brier(h, p)))
    return {
        "js": float(np.mean(js(h, p))),
        "bc": float(np.mean(bhattacharyya(h, p))),
        "r2": r2(h, p),
        "r2_flat": r2_flat(h, p),
        "brier_sum": brier_sum,
        "brier_mean": brier_sum / h.shape[1],
        "kl": float(np.mean(kl(h, p))),
        "wa_ref": accuracy(ref, labels),
        "ua_ref": unweighted_accuracy(ref, labels),
        "wa_votes": accuracy(votes, labels),
        "ua_votes": unweighted_accuracy(votes, labels),
        "f1_votes": macro_f1(votes, labels),
        "classwise_ece": classwise_calibration_error(h, p),
        "top_label_ece_votes": top_label_calibration_error(h, p),
        "entropy_spearman": entropy_spearman(h, p),
    }


def bootstrap_intervals(
    human: ArrayLike,
    predicted: ArrayLike,
    resamples: int,
    seed: int,
    level: float = 0.95,
    metric_fn: Callable[[Array, Array, NDArray[np.int64] | None], dict[str, float]] = evaluate,
    reference: ArrayLike | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals: utterances resampled with replacement ``resamples`` times.

    Resampling utterances (not class cells) keeps each utterance's classes together, which is the
    unit the corpus samples. Metrics undefined in a resample (NaN) are left out of its percentiles.
    """
    h, p = _matrix(human), _matrix(predicted)
    ref = None if reference is None else np.asarray(reference, dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = h.shape[0]
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        for name, value in metric_fn(h[idx], p[idx], None if ref is None else ref[idx]).items():
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
