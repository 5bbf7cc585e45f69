"""Divergences between emotion distributions, defined once for the whole project.

docs/architecture.md fixes the conventions so that pairs, evaluation, rewards and records agree to the bit:
KL(human || other) in nats after adding 1e-6 to every probability of both and renormalising (so a
zero never yields an infinity); JS in bits (base 2, so it lies in [0, 1]) and never smoothed.
All functions are pure and vectorised over the last axis: a (n, k) array scores n pairs at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

KL_EPSILON = 1e-6


def as_vector(distribution: Mapping[str, float], classes: Sequence[str]) -> NDArray[np.float64]:
    """A mapping code -> probability as a vector in ``classes`` order (absent codes count 0)."""
    return np.array([float(distribution.get(code, 0.0)) for code in classes], dtype=np.float64)


def _pair(p: ArrayLike, q: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    p_arr = np.asarray(p, dtype=np.float64)
    q_arr = np.asarray(q, dtype=np.float64)
    if p_arr.shape[-1] != q_arr.shape[-1]:
        raise ValueError(f"class counts differ: {p_arr.shape[-1]} vs {q_arr.shape[-1]}")
    return p_arr, q_arr


def smooth(p: ArrayLike, epsilon: float = KL_EPSILON) -> NDArray[np.float64]:
    """Add ``epsilon`` to every probability and renormalise along the last axis."""
    arr = np.asarray(p, dtype=np.float64) + epsilon
    return arr / arr.sum(axis=-1, keepdims=True)


def kl(human: ArrayLike, other: ArrayLike) -> NDArray[np.float64] | float:
    """KL(human || other) in nats, both smoothed by 1e-6 first."""
    p, q = _pair(human, other)
    p, q = smooth(p), smooth(q)
    out = (p * np.log(p / q)).sum(axis=-1)
    return float(out) if out.ndim == 0 else out


def _kl_bits_unsmoothed(p: NDArray[np.float64], m: NDArray[np.float64]) -> NDArray[np.float64]:
    # 0 * log(0 / m) = 0, and m > 0 wherever p > 0 because m = (p + q) / 2: substituting 1 for the zero
    # entries makes those terms exactly 0 with no division by zero to silence (errstate is costly per call).
    positive = p > 0
    return (p * np.log2(np.where(positive, p, 1.0) / np.where(positive, m, 1.0))).sum(axis=-1)


def js(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64] | float:
    """Jensen-Shannon divergence in bits (in [0, 1]), unsmoothed."""
    p_arr, q_arr = _pair(p, q)
    m = 0.5 * (p_arr + q_arr)
    out = 0.5 * _kl_bits_unsmoothed(p_arr, m) + 0.5 * _kl_bits_unsmoothed(q_arr, m)
    if out.ndim == 0:  # one pair (every record of a build): clipped as np.clip does, without its cost per call
        value = float(out)
        return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value
    return np.clip(out, 0.0, 1.0)


def bhattacharyya(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64] | float:
    """Bhattacharyya coefficient sum(sqrt(p * q)) in [0, 1]; 1 only for equal distributions."""
    p_arr, q_arr = _pair(p, q)
    out = np.clip(np.sqrt(np.clip(p_arr, 0, None) * np.clip(q_arr, 0, None)).sum(axis=-1), 0.0, 1.0)
    return float(out) if np.ndim(out) == 0 else out


def brier(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64] | float:
    """Brier's multi-class score of each utterance: the squared differences summed over the classes (in [0, 2]).

    The mean over classes (the mean squared error, this divided by k) is the other convention in use;
    ``cotgen.scoring.metrics`` reports both, each by name.
    """
    p_arr, q_arr = _pair(p, q)
    out = ((p_arr - q_arr) ** 2).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def entropy_bits(p: ArrayLike) -> NDArray[np.float64] | float:
    """Shannon entropy in bits (0 log 0 = 0)."""
    arr = np.asarray(p, dtype=np.float64)
    out = -(arr * np.log2(np.where(arr > 0, arr, 1.0))).sum(axis=-1)  # log2(1) = 0 where arr is 0
    return float(out) if np.ndim(out) == 0 else out


def round_distribution(distribution: Mapping[str, float], decimals: int = 2) -> dict[str, float]:
    """Round to ``decimals`` places so the printed values sum to exactly 1 (largest remainder).

    The input is normalised first. Ties in the remainders go to the earlier class, so the result
    is deterministic. Values are returned as floats equal to the printed decimals. Plain Python:
    one distribution has a handful of classes, where numpy's per-call overhead dominates.
    """
    codes = list(distribution)
    values = [max(float(distribution[c]), 0.0) for c in codes]
    total = sum(values)
    if total <= 0:
        raise ValueError("cannot round a distribution whose mass is zero")
    scale = 10**decimals
    scaled = [v / total * scale for v in values]
    units = [math.floor(x + 1e-9) for x in scaled]
    short = scale - sum(units)
    if short:  # most distributions need no hundredth handed out: no order to sort them in
        order = sorted(range(len(codes)), key=lambda i: (-(scaled[i] - units[i]), i))
        for i in order[:short]:
            units[i] += 1
    if 0 <= decimals <= EXACT_DECIMALS:
        return {code: u / scale for code, u in zip(codes, units)}
    return {code: round(u / scale, decimals) for code, u in zip(codes, units)}


# round(u / 10**d, d) is u / 10**d itself for every whole u from 0 to 10**d + 1 (the units a distribution's values
# can hold) and every d up to this: the quotient is the double nearest u / 10**d, and rounding it to d places
# gives that number back. tests/test_divergence.py checks each u and d; three calls a build item skip the rounding.
EXACT_DECIMALS = 4


def format_distribution(distribution: Mapping[str, float], decimals: int = 2) -> str:
    """The JSON object printed inside ``<distribution>``: largest-remainder rounded, fixed decimals."""
    rounded = round_distribution(distribution, decimals)
    body = ", ".join(f'"{code}": {value:.{decimals}f}' for code, value in rounded.items())
    return "{" + body + "}"
