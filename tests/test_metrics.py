"""Evaluation metrics: against scipy, against cases worked by hand, and by their defining properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import spearmanr

from cotgen.core.divergence import bhattacharyya, js
from cotgen.scoring.metrics import (
    METRICS,
    NO_LABEL,
    accuracy,
    bootstrap_intervals,
    classwise_calibration_error,
    classwise_reliability,
    entropy_spearman,
    evaluate,
    expected_calibration_error,
    macro_f1,
    majority_labels,
    r2,
    r2_flat,
    top_label_calibration_error,
    unweighted_accuracy,
)

K = 4
weights = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=K, max_size=K).filter(
    lambda w: sum(w) > 1e-3
)


def _norm(w):
    arr = np.asarray(w, dtype=float)
    return arr / arr.sum()


distributions = weights.map(_norm)
batches = st.integers(1, 12).flatmap(lambda n: st.lists(distributions, min_size=n, max_size=n)).map(np.stack)


@given(distributions, distributions)
def test_js_is_scipy_jensenshannon_squared_in_bits_and_symmetric_and_bounded(p, q):
    distance = jensenshannon(p, q, base=2)
    # scipy takes the square root of a divergence that rounding can leave a hair below zero for nearly equal
    # inputs (e.g. 0.502/1e-6/0/1e-6 against itself up to the last bit), and returns nan: that divergence is 0.
    expected = 0.0 if np.isnan(distance) else distance**2
    assert js(p, q) == pytest.approx(expected, abs=1e-9)
    assert js(p, q) == pytest.approx(js(q, p), abs=1e-12)
    assert 0.0 <= js(p, q) <= 1.0


@given(distributions, distributions)
def test_js_is_zero_only_for_equal_inputs(p, q):
    assert js(p, p) == pytest.approx(0.0, abs=1e-12)
    if np.abs(p - q).max() > 1e-3:
        assert js(p, q) > 0.0


@given(distributions, distributions)
def test_bhattacharyya_lies_in_unit_interval_and_is_one_only_for_equal_inputs(p, q):
    assert 0.0 <= bhattacharyya(p, q) <= 1.0
    assert bhattacharyya(p, p) == pytest.approx(1.0, abs=1e-9)
    if np.abs(p - q).max() > 1e-3:
        assert bhattacharyya(p, q) < 1.0


def test_hand_computed_corpus_metrics():
    human = np.array([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    pred = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    # Flattened human mean is 2/8 = 0.25; SS_tot = 0.0625*4 + 0.5625 + 0.0625*3 = 1.0;
    # SS_res = 0.0625*4 + 0.25 + 0.25 = 0.75, so R² flat = 0.25.
    assert r2_flat(human, pred) == pytest.approx(0.25)
    # Per class: columns 0 and 1 have SS_tot 0.125 and SS_res 0.3125 -> 1 - 2.5 = -1.5 each; columns 2 and 3
    # are constant (all 0) and missed -> 0 (scikit-learn's force_finite). Mean over classes: -0.75.
    assert r2(human, pred) == pytest.approx(-0.75)
    result = evaluate(human, pred)
    # Squared differences: utterance 1 sums 4 * 0.0625 = 0.25, utterance 2 sums 0.25 + 0.25 = 0.5.
    assert result["brier_sum"] == pytest.approx((0.25 + 0.5) / 2)  # Brier's score: per-utterance sums, averaged
    assert result["brier_mean"] == pytest.approx((0.25 + 0.5) / 8)  # the mean over all 2 x 4 cells
    assert result["bc"] == pytest.approx((2 * math.sqrt(0.125) + math.sqrt(0.5)) / 2)
    # Only the second utterance has a majority (class 0); the model's argmax there is class 0.
    assert result["wa_votes"] == result["ua_votes"] == result["wa_ref"] == 1.0
    assert set(result) == set(METRICS)


def test_majority_excludes_ties_and_accuracy_ignores_them():
    human = np.array([[0.5, 0.5, 0, 0], [0.1, 0.7, 0.2, 0], [0, 0, 0.4, 0.6]])
    assert majority_labels(human).tolist() == [NO_LABEL, 1, 3]
    assert accuracy([NO_LABEL, 1, 3], [0, 1, 2]) == 0.5
    assert math.isnan(accuracy([NO_LABEL], [0]))


def test_macro_f1_by_hand():
    truth = [0, 0, 1, 1, NO_LABEL]
    pred = [0, 1, 1, 1, 3]
    # class 0: tp 1, fp 0, fn 1 -> 2/3; class 1: tp 2, fp 1, fn 0 -> 4/5; the tie is excluded.
    assert macro_f1(truth, pred) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_ece_by_hand_with_ten_equal_bins():
    confidence = [0.95, 0.95, 0.55, 0.55]
    correct = [1, 1, 1, 0]
    # bin (0.9, 1.0]: acc 1, conf 0.95 -> 0.05 * 2/4; bin (0.5, 0.6]: acc 0.5, conf 0.55 -> 0.05 * 2/4.
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.05)
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == pytest.approx(0.0)


def test_calibration_error_uses_top_label_against_human_majority():
    human = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0, 0]])
    pred = np.array([[0.1, 0.8, 0.1, 0], [0.2, 0.7, 0.1, 0], [1, 0, 0, 0]])
    # Tie row excluded; row 1 right at 0.8, row 2 wrong at 0.7: bins (0.7,0.8] and (0.6,0.7].
    assert top_label_calibration_error(human, pred) == pytest.approx((0.2 + 0.7) / 2)


def test_entropy_spearman_matches_scipy_and_is_undefined_when_constant():
    human = np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.7, 0.3, 0, 0]])
    pred = np.array([[0.9, 0.1, 0, 0], [0.4, 0.4, 0.2, 0], [0.3, 0.3, 0.2, 0.2], [0.5, 0.5, 0, 0]])
    h = -np.sum(np.where(human > 0, human * np.log2(np.where(human > 0, human, 1)), 0), axis=1)
    p = -np.sum(np.where(pred > 0, pred * np.log2(np.where(pred > 0, pred, 1)), 0), axis=1)
    assert entropy_spearman(human, pred) == pytest.approx(spearmanr(h, p).statistic)
    assert math.isnan(entropy_spearman(human, np.full((4, 4), 0.25)))


@given(batches)
def test_perfect_prediction_scores_perfectly(human):
    result = evaluate(human, human)
    assert result["js"] == pytest.approx(0.0, abs=1e-12)
    assert result["bc"] == pytest.approx(1.0, abs=1e-9)
    assert result["brier_sum"] == pytest.approx(0.0, abs=1e-12) and result["brier_mean"] == 0.0
    assert result["classwise_ece"] == pytest.approx(0.0, abs=1e-12)  # the human distribution is calibrated
    assert result["kl"] == pytest.approx(0.0, abs=1e-9)
    if not math.isnan(result["r2"]):
        assert result["r2"] == pytest.approx(1.0)
    if not math.isnan(result["wa_votes"]):
        assert result["wa_votes"] == result["ua_votes"] == 1.0
        assert result["f1_votes"] == 1.0


@given(batches, batches)
def test_bounded_metrics_stay_in_range(human, pred):
    n = min(len(human), len(pred))
    result = evaluate(human[:n], pred[:n])
    assert 0.0 <= result["js"] <= 1.0
    assert 0.0 <= result["bc"] <= 1.0
    assert 0.0 <= result["brier_sum"] <= 2.0
    assert result["brier_mean"] == pytest.approx(result["brier_sum"] / K)
    assert result["kl"] >= 0.0
    for name in ("wa_votes", "ua_votes", "f1_votes", "wa_ref", "ua_ref", "classwise_ece", "top_label_ece_votes"):
        assert math.isnan(result[name]) or 0.0 <= result[name] <= 1.0
    assert math.isnan(result["r2"]) or result["r2"] <= 1.0 + 1e-12


def test_bootstrap_is_deterministic_for_a_seed_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    human = rng.dirichlet(np.ones(K), size=60)
    pred = 0.7 * human + 0.3 * rng.dirichlet(np.ones(K), size=60)
    first = bootstrap_intervals(human, pred, resamples=200, seed=11)
    assert first == bootstrap_intervals(human, pred, resamples=200, seed=11)
    assert first != bootstrap_intervals(human, pred, resamples=200, seed=12)
    point = evaluate(human, pred)
    for name in ("js", "bc", "brier_sum", "brier_mean", "kl", "r2"):
        low, high = first[name]
        assert low <= point[name] <= high
        assert low < high


# ---------------------------------------------------------------------------------------------
# Every figure against scikit-learn and scipy, on random data and on edge cases


def _random_case(seed: int, n: int = 40, k: int = 4):
    rng = np.random.default_rng(seed)
    human = rng.dirichlet(np.full(k, 0.6), size=n)
    pred = rng.dirichlet(np.ones(k), size=n)
    return human, pred


@pytest.mark.parametrize("seed", range(8))
def test_every_figure_matches_scikit_learn_and_scipy_on_random_data(seed):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, mean_squared_error, r2_score

    human, pred = _random_case(seed)
    rng = np.random.default_rng(100 + seed)
    reference = rng.integers(0, K, size=len(human))
    reference[rng.random(len(human)) < 0.2] = NO_LABEL  # some utterances have no reference label
    result = evaluate(human, pred, reference)
    assert result["r2"] == pytest.approx(r2_score(human, pred))
    assert result["r2_flat"] == pytest.approx(r2_score(human.ravel(), pred.ravel()))
    assert result["js"] == pytest.approx(np.mean([jensenshannon(h, p, base=2) ** 2 for h, p in zip(human, pred)]))
    assert result["bc"] == pytest.approx(np.mean(np.sqrt(human * pred).sum(axis=1)))
    assert result["brier_sum"] == pytest.approx(np.mean(((human - pred) ** 2).sum(axis=1)))
    assert result["brier_mean"] == pytest.approx(mean_squared_error(human, pred))
    eps = 1e-6
    hs, ps = human + eps, pred + eps
    hs, ps = hs / hs.sum(axis=1, keepdims=True), ps / ps.sum(axis=1, keepdims=True)
    from scipy.stats import entropy

    assert result["kl"] == pytest.approx(np.mean([entropy(h, p) for h, p in zip(hs, ps)]))
    labels = pred.argmax(axis=1)
    keep = reference != NO_LABEL
    assert result["wa_ref"] == pytest.approx(accuracy_score(reference[keep], labels[keep]))
    assert result["ua_ref"] == pytest.approx(balanced_accuracy_score(reference[keep], labels[keep]))
    votes = majority_labels(human)
    ok = votes != NO_LABEL
    assert result["wa_votes"] == pytest.approx(accuracy_score(votes[ok], labels[ok]))
    assert result["ua_votes"] == pytest.approx(balanced_accuracy_score(votes[ok], labels[ok]))
    assert result["f1_votes"] == pytest.approx(f1_score(votes[ok], labels[ok], average="macro"))


def test_r2_of_the_class_prior_is_zero_where_the_flat_figure_flatters_it():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    # A neutral-heavy set: most mass on class 0, as in the example.
    human = rng.dirichlet([8.0, 1.0, 1.0, 1.0], size=200)
    prior = np.tile(human.mean(axis=0), (len(human), 1))
    assert r2(human, prior) == pytest.approx(0.0, abs=1e-12) == r2_score(human, prior)
    assert r2_flat(human, prior) > 0.5


def test_r2_edge_cases_follow_scikit_learn():
    from sklearn.metrics import r2_score

    human = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    exact_constant = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    for pred in (human, exact_constant, human[::-1]):
        assert r2(human, pred) == pytest.approx(r2_score(human, pred))
    constant = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert r2(constant, constant) == r2_score(constant, constant) == 1.0
    assert r2(constant, constant[:, ::-1]) == r2_score(constant, constant[:, ::-1]) == 0.0
    assert math.isnan(r2(constant[:1], constant[:1]))  # one utterance: undefined (scikit-learn warns, NaN)


def test_wa_and_ua_by_hand():
    truth = [0, 0, 0, 0, 1, 2, NO_LABEL]
    pred = [0, 0, 0, 0, 0, 2, 1]
    # WA: 5 of 6 labelled right. UA: class 0 recall 1, class 1 recall 0, class 2 recall 1 -> 2/3.
    assert accuracy(truth, pred) == pytest.approx(5 / 6)
    assert unweighted_accuracy(truth, pred) == pytest.approx(2 / 3)
    assert math.isnan(unweighted_accuracy([NO_LABEL], [0]))


def test_reference_labels_replace_the_vote_majority_only_in_the_ref_figures():
    human = np.array([[0.6, 0.4, 0, 0], [0.2, 0.8, 0, 0]])
    pred = np.array([[0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0]])
    result = evaluate(human, pred, reference=[1, 1])
    assert result["wa_votes"] == 0.5 and result["wa_ref"] == 0.0 and result["ua_ref"] == 0.0
    assert evaluate(human, pred)["wa_ref"] == result["wa_votes"]


# ---------------------------------------------------------------------------------------------
# Brier in both conventions, and calibration against the human distribution


@pytest.mark.parametrize("seed", range(4))
def test_brier_sum_is_scikit_learns_multiclass_brier_and_brier_mean_its_mean_squared_error_on_hard_labels(seed):
    from sklearn.metrics import brier_score_loss, mean_squared_error

    rng = np.random.default_rng(seed)
    k = 6
    labels = rng.integers(0, k, size=50)
    onehot = np.eye(k)[labels]
    pred = rng.dirichlet(np.ones(k), size=50)
    result = evaluate(onehot, pred)
    assert result["brier_sum"] == pytest.approx(brier_score_loss(labels, pred, labels=list(range(k))))
    assert result["brier_mean"] == pytest.approx(mean_squared_error(onehot, pred))
    assert result["brier_sum"] == pytest.approx(k * result["brier_mean"])


def test_paper_magnitudes_are_the_mean_convention():
    """At BC near 0.82 on 4 classes, the summed score is about 4x the paper's 0.07; the mean matches it."""
    rng = np.random.default_rng(0)
    human = rng.dirichlet(np.full(4, 0.5), size=2000)
    pred = 0.2 * human + 0.8 * rng.dirichlet(np.full(4, 0.5), size=2000)
    result = evaluate(human, pred)
    assert 0.8 < result["bc"] < 0.86 and 0.18 < result["js"] < 0.24  # the paper's IEMOCAP JS 0.20, BC 0.82
    assert 0.05 < result["brier_mean"] < 0.1 and result["brier_sum"] > 0.2  # measured 0.078 and 0.313


def test_classwise_ece_by_hand():
    human = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.25, 0.75]])
    pred = np.array([[0.85, 0.15], [0.85, 0.15], [0.35, 0.65], [0.35, 0.65]])
    # Class 0: bin (0.8, 0.9] holds rows 1-2, mean human 0.75 vs 0.85 -> 0.10 * 2/4; bin (0.3, 0.4] holds rows
    # 3-4, mean human 0.125 vs 0.35 -> 0.225 * 2/4. Class 1 mirrors it: the same gaps. Mean over classes:
    assert classwise_calibration_error(human, pred) == pytest.approx((0.10 + 0.225) / 2)
    counts, mean_p, mean_h = classwise_reliability(human, pred)
    assert counts[0, 8] == 2 and mean_p[0, 8] == pytest.approx(0.85) and mean_h[0, 8] == pytest.approx(0.75)
    assert np.isnan(mean_p[0, 0]) and counts[0].sum() == 4


def test_classwise_ece_scores_the_oracle_and_the_prior_zero_and_the_uniform_predictor_not():
    rng = np.random.default_rng(5)
    human = rng.dirichlet([6.0, 1.0, 1.0, 1.0], size=300)
    prior = np.tile(human.mean(axis=0), (300, 1))
    uniform = np.full((300, 4), 0.25)
    assert classwise_calibration_error(human, human) == 0.0
    assert classwise_calibration_error(human, prior) == pytest.approx(0.0, abs=1e-12)
    assert classwise_calibration_error(human, uniform) > 0.1
    # The top-label ECE against the vote majority marks the oracle down wherever annotators split.
    assert top_label_calibration_error(human, human) > 0.1


@pytest.mark.parametrize("seed", range(4))
def test_classwise_reliability_on_hard_labels_is_scikit_learns_calibration_curve(seed):
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=200)
    pred = rng.dirichlet(np.ones(3), size=200)
    counts, mean_p, mean_h = classwise_reliability(np.eye(3)[labels], pred)
    for j in range(3):
        prob_true, prob_pred = calibration_curve(labels == j, pred[:, j], n_bins=10, strategy="uniform")
        filled = counts[j] > 0
        assert mean_h[j, filled] == pytest.approx(prob_true)
        assert mean_p[j, filled] == pytest.approx(prob_pred)


@given(batches, batches)
def test_classwise_ece_is_bounded_and_zero_for_the_human_distribution(human, pred):
    n = min(len(human), len(pred))
    value = classwise_calibration_error(human[:n], pred[:n])
    assert 0.0 <= value <= 1.0
    assert classwise_calibration_error(human[:n], human[:n]) == pytest.approx(0.0, abs=1e-12)
