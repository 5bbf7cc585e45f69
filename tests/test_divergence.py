"""The divergence conventions of DESIGN.md, checked against scipy and by properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from cotgen.core.divergence import bhattacharyya, format_distribution, js, kl, round_distribution

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
