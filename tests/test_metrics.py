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
    assert js(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-9)
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
    # SS_res = 0.0625*4 + 0.25 + 0.25 = 0.75, so R² = 0.25.
    assert r2(human, pred) == pytest.approx(0.25)
    result = evaluate(human, pred)
    assert result["brier"] == pytest.approx((0.25 + 0.5) / 2)  # per-utterance sums 0.25 and 0.5
    assert result["bc"] == pytest.approx((2 * math.sqrt(0.125) + math.sqrt(0.5)) / 2)
    # Only the second utterance has a majority (class 0); the model's argmax there is class 0.
    assert result["accuracy"] == 1.0
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
    if not math.isnan(result["accuracy"]):
        assert result["accuracy"] == 1.0
        assert result["macro_f1"] == 1.0


@given(batches, batches)
def test_bounded_metrics_stay_in_range(human, pred):
    n = min(len(human), len(pred))
    result = evaluate(human[:n], pred[:n])
    assert 0.0 <= result["js"] <= 1.0
    assert 0.0 <= result["bc"] <= 1.0
    assert 0.0 <= result["brier"] <= 2.0
    assert result["kl"] >= 0.0
    for name in ("accuracy", "macro_f1", "ece"):
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
