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
    calibration_error,
    entropy_spearman,
    evaluate,
    expected_calibration_error,
    macro_f1,
    majority_labels,
    r2,
    r2_flat,
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
    assert result["brier"] == pytest.approx((0.25 + 0.5) / 2)  # per-utterance sums 0.25 and 0.5
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
    assert calibration_error(human, pred) == pytest.approx((0.2 + 0.7) / 2)


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
    assert result["brier"] == pytest.approx(0.0, abs=1e-12)
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
    assert 0.0 <= result["brier"] <= 2.0
    assert result["kl"] >= 0.0
    for name in ("wa_votes", "ua_votes", "f1_votes", "wa_ref", "ua_ref", "ece"):
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
    for name in ("js", "bc", "brier", "kl", "r2"):
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
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, r2_score

    human, pred = _random_case(seed)
    rng = np.random.default_rng(100 + seed)
    reference = rng.integers(0, K, size=len(human))
    reference[rng.random(len(human)) < 0.2] = NO_LABEL  # some utterances have no reference label
    result = evaluate(human, pred, reference)
    assert result["r2"] == pytest.approx(r2_score(human, pred))
    assert result["r2_flat"] == pytest.approx(r2_score(human.ravel(), pred.ravel()))
    assert result["js"] == pytest.approx(np.mean([jensenshannon(h, p, base=2) ** 2 for h, p in zip(human, pred)]))
    assert result["bc"] == pytest.approx(np.mean(np.sqrt(human * pred).sum(axis=1)))
    assert result["brier"] == pytest.approx(np.mean(((human - pred) ** 2).sum(axis=1)))
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
