"""Paired comparison of two systems: against scipy on constructed cases, by hand, and by its properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import permutation_test, ttest_1samp

from cotgen.core.divergence import bhattacharyya, js
from cotgen.scoring.compare import compare_folds, holm, paired_comparison
from cotgen.scoring.metrics import METRICS, evaluate


def _case(seed: int, n: int, k: int = 4):
    rng = np.random.default_rng(seed)
    human = rng.dirichlet(np.full(k, 0.7), size=n)
    first = 0.6 * human + 0.4 * rng.dirichlet(np.ones(k), size=n)
    second = 0.3 * human + 0.7 * rng.dirichlet(np.ones(k), size=n)
    return human, first, second


def test_identical_predictions_differ_by_zero_with_p_one():
    human, first, _ = _case(0, 30)
    result = paired_comparison(human, first, first.copy(), resamples=50, permutations=50, seed=1)
    assert set(result) == set(METRICS)
    for metric, row in result.items():
        if row["difference"] is None:
            continue
        assert row["difference"] == 0.0, metric
        assert row["ci"] == [0.0, 0.0], metric
        assert row["p"] == 1.0 and row["p_holm"] == 1.0, metric


def test_a_shifted_copy_differs_by_exactly_the_difference_of_the_two_figures():
    human, first, _ = _case(1, 40)
    shifted = np.roll(first, 1, axis=1)  # every prediction moved one class along
    result = paired_comparison(human, first, shifted, resamples=200, permutations=200, seed=2)
    a, b = evaluate(human, first), evaluate(human, shifted)
    for metric in METRICS:
        if math.isnan(a[metric]) or math.isnan(b[metric]):
            assert result[metric]["difference"] is None
            continue
        assert result[metric]["first"] == a[metric] and result[metric]["second"] == b[metric]
        assert result[metric]["difference"] == pytest.approx(a[metric] - b[metric], abs=1e-15)
    # Predicting the shifted copy is clearly worse on the distributional metrics: the interval excludes 0.
    assert result["js"]["difference"] < 0 and result["js"]["ci"][1] < 0
    assert result["bc"]["difference"] > 0 and result["bc"]["ci"][0] > 0
    assert result["js"]["p"] == pytest.approx(1 / 201)  # no permutation reaches it: the Monte Carlo floor


@pytest.mark.parametrize("seed", range(3))
def test_exact_permutation_p_equals_scipys_paired_permutation_test_for_mean_metrics(seed):
    human, first, second = _case(10 + seed, 8)  # 2^8 = 256 swaps: enumerated exactly
    result = paired_comparison(human, first, second, resamples=20, permutations=256, seed=0)
    for metric, per_utterance in (
        ("js", lambda p: js(human, p)),
        ("bc", lambda p: bhattacharyya(human, p)),
        ("brier_mean", lambda p: ((human - p) ** 2).mean(axis=1)),
    ):
        x, y = per_utterance(first), per_utterance(second)
        reference = permutation_test(
            (x, y),
            lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=np.inf,
            alternative="two-sided",
        )
        assert result[metric]["p"] == pytest.approx(reference.pvalue), metric
        assert result[metric]["difference"] == pytest.approx(reference.statistic), metric


def test_monte_carlo_p_is_seeded_and_never_zero():
    human, first, second = _case(4, 60)
    one = paired_comparison(human, first, second, resamples=30, permutations=99, seed=7)
    assert one == paired_comparison(human, first, second, resamples=30, permutations=99, seed=7)
    for row in one.values():
        if row["p"] is not None:
            assert 1 / 100 <= row["p"] <= 1.0
            assert row["p_holm"] >= row["p"]


def test_holm_by_hand():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> made non-decreasing 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == []


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=15))
def test_holm_never_lowers_a_p_value_keeps_their_order_and_stays_a_probability(pvalues):
    adjusted = holm(pvalues)
    for raw, adj in zip(pvalues, adjusted):
        assert raw - 1e-12 <= adj <= 1.0
    for (r1, a1), (r2, a2) in zip(sorted(zip(pvalues, adjusted)), sorted(zip(pvalues, adjusted))[1:]):
        assert a1 <= a2 + 1e-12 or r1 == r2


def test_fold_comparison_is_scipys_t_test_over_the_per_fold_differences():
    first = {f"fold_{k}": {"js": js_value, "bc": 0.8} for k, js_value in enumerate([0.20, 0.22, 0.19, 0.25, 0.21])}
    second = {f"fold_{k}": {"js": js_value, "bc": 0.8} for k, js_value in enumerate([0.24, 0.23, 0.22, 0.27, 0.26])}
    result = compare_folds(first, second, ("js", "bc"))
    diffs = np.array([0.20 - 0.24, 0.22 - 0.23, 0.19 - 0.22, 0.25 - 0.27, 0.21 - 0.26])
    assert list(result["js"]["differences"].values()) == pytest.approx(diffs.tolist())
    assert result["js"]["mean"] == pytest.approx(diffs.mean()) and result["js"]["std"] == pytest.approx(
        diffs.std(ddof=1)
    )
    assert result["js"]["p"] == pytest.approx(ttest_1samp(diffs, 0.0).pvalue)
    assert result["bc"]["mean"] == 0.0 and result["bc"]["p"] == 1.0  # identical on every fold
    assert result["js"]["p_holm"] == pytest.approx(min(1.0, 2 * result["js"]["p"]))
    assert result["js"]["folds"] == 5


def test_fold_comparison_with_a_constant_shift_and_with_one_fold():
    first = {f: {"js": 0.3} for f in "abc"}
    second = {f: {"js": 0.2} for f in "abc"}
    shifted = compare_folds(first, second, ("js",))["js"]
    assert shifted["mean"] == pytest.approx(0.1) and shifted["std"] == pytest.approx(0.0, abs=1e-15)
    assert shifted["p"] == 0.0
    single = compare_folds({"a": {"js": 0.3}}, {"a": {"js": 0.2}}, ("js",))["js"]
    assert single["std"] is None and single["p"] is None and single["p_holm"] is None
