"""The divergence conventions of DESIGN.md, checked against scipy and by properties."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from cotgen.core.divergence import EXACT_DECIMALS, bhattacharyya, format_distribution, js, kl, round_distribution

probability = st.one_of(st.just(0.0), st.floats(1e-9, 1))  # no subnormals: scipy overflows on them
probabilities = st.lists(probability, min_size=2, max_size=8).filter(lambda v: sum(v) > 1e-3)


def _norm(values):
    arr = np.asarray(values, dtype=float)
    return arr / arr.sum()


@given(probabilities, probabilities)
def test_js_matches_scipy_squared_base2(a, b):
    n = min(len(a), len(b))
    p, q = _norm(a[:n] if sum(a[:n]) > 1e-3 else [1] * n), _norm(b[:n] if sum(b[:n]) > 1e-3 else [1] * n)
    assert js(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-9)
    assert js(p, q) == pytest.approx(js(q, p), abs=1e-12)
    assert 0.0 <= js(p, q) <= 1.0


def test_kl_is_smoothed_and_in_nats():
    p, q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ps, qs = (p + 1e-6) / (p + 1e-6).sum(), (q + 1e-6) / (q + 1e-6).sum()
    assert kl(p, q) == pytest.approx(entropy(ps, qs))  # scipy's entropy(p, q) is KL in nats
    assert math.isfinite(kl(p, q))


def test_vectorised_rows_equal_single_calls():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(4), 50), rng.dirichlet(np.ones(4), 50)
    assert np.allclose(js(p, q), [js(a, b) for a, b in zip(p, q)])
    assert np.allclose(kl(p, q), [kl(a, b) for a, b in zip(p, q)])
    assert np.allclose(bhattacharyya(p, q), [bhattacharyya(a, b) for a, b in zip(p, q)])


@given(probabilities)
def test_rounding_sums_to_exactly_one(values):
    dist = {f"c{i}": v for i, v in enumerate(values)}
    rounded = round_distribution(dist)
    assert sum(round(v * 100) for v in rounded.values()) == 100
    assert all(abs(rounded[k] - v / sum(values)) < 0.01 + 1e-9 for k, v in dist.items())


def test_format_prints_two_decimals():
    assert format_distribution({"neu": 1 / 3, "hap": 1 / 3, "ang": 1 / 3}) == '{"neu": 0.34, "hap": 0.33, "ang": 0.33}'


def _kl_before(human, other):
    """kl as written before its scalar path (np.sum, np.ndim)."""
    p, q = np.asarray(human, dtype=np.float64) + 1e-6, np.asarray(other, dtype=np.float64) + 1e-6
    p, q = p / p.sum(axis=-1, keepdims=True), q / q.sum(axis=-1, keepdims=True)
    out = np.sum(p * np.log(p / q), axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def _js_before(p, q):
    """js as written before its scalar path (np.clip on every call)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def bits(a):
        positive = a > 0
        return (a * np.log2(np.where(positive, a, 1.0) / np.where(positive, m, 1.0))).sum(axis=-1)

    out = np.clip(0.5 * bits(p) + 0.5 * bits(q), 0.0, 1.0)
    return float(out) if np.ndim(out) == 0 else out


_unit = st.floats(0, 1, allow_subnormal=False)  # a subnormal share underflows in m = (p + q) / 2, before and after
_shares = st.lists(_unit | st.sampled_from([0.0, 1.0, 0.25, 1e-12]), min_size=2, max_size=6)


# Two distributions a rounding apart, whose divergences sum to a tiny negative number: js clips it to 0.
_NEAR = (
    [0.4515517117029304, 0.0537355170309312, 0.01622920321497025, 0.4784835680511681],
    [0.4515517117029305, 0.0537355170309312, 0.016229203214970254, 0.47848356805116804],
)


@given(_shares.flatmap(lambda a: st.tuples(st.just(a), st.lists(_unit, min_size=len(a), max_size=len(a)))))
@example(_NEAR)
def test_one_pair_scores_bit_for_bit_as_before(pair):
    """The records print kl and js in full: the scalar path must give the very floats (and types) it gave."""
    a, b = pair
    for new, old in ((kl(a, b), _kl_before(a, b)), (js(a, b), _js_before(a, b)), (js(b, a), _js_before(b, a))):
        assert type(new) is type(old) is float
        assert math.copysign(1.0, new) == math.copysign(1.0, old)
        assert new == old or (math.isnan(new) and math.isnan(old))
    rows = np.array([a, b])
    assert np.array_equal(js(rows, rows[::-1]), _js_before(rows, rows[::-1]), equal_nan=True)
    assert np.array_equal(kl(rows, rows[::-1]), _kl_before(rows, rows[::-1]), equal_nan=True)


def _rounded_before(distribution, decimals=2):
    """round_distribution as written before it skipped the sort when no hundredth is left to hand out."""
    codes = list(distribution)
    values = [max(float(distribution[c]), 0.0) for c in codes]
    total = sum(values)
    scale = 10**decimals
    scaled = [v / total * scale for v in values]
    units = [math.floor(x + 1e-9) for x in scaled]
    short = scale - sum(units)
    order = sorted(range(len(codes)), key=lambda i: (-(scaled[i] - units[i]), i))
    for i in order[:short]:
        units[i] += 1
    return {code: round(u / scale, decimals) for code, u in zip(codes, units)}


_hundredths = st.lists(st.integers(0, 100), min_size=2, max_size=6).filter(any).map(lambda n: [k / 100 for k in n])


@given(st.one_of(probabilities, _hundredths), st.sampled_from([0, 1, 2, 3]))
def test_rounding_hands_out_hundredths_as_before(values, decimals):
    dist = {f"c{i}": v for i, v in enumerate(values)}
    assert list(round_distribution(dist, decimals).items()) == list(_rounded_before(dist, decimals).items())


def test_hundredths_need_no_rounding_after_the_division() -> None:
    """round_distribution divides whole units by 10**d and skips round() for d <= EXACT_DECIMALS: every such
    quotient must already be its own rounding (checked for every unit a distribution can hold)."""
    for decimals in range(EXACT_DECIMALS + 1):
        scale = 10**decimals
        for units in range(scale + 2):
            quotient = units / scale
            assert round(quotient, decimals) == quotient and math.copysign(1.0, quotient) == 1.0, (units, decimals)
