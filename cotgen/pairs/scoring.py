"""Scoring candidates against the human distribution, many at once.

A score is a divergence from the human distribution to the distribution printed in the
candidate's text (lower is better), exactly as docs/architecture.md defines it: KL(human || candidate) in
nats with the 1e-6 smoothing, or JS in bits. Rows are scored in one numpy call, so a block of
utterances with all their candidates costs one pass over a (rows, classes) array.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cotgen.core.divergence import js, kl

Metric = Literal["kl", "js"]
METRICS: tuple[Metric, ...] = ("kl", "js")
# Rows per numpy call: the divergences make several temporaries per call, and at 2**16 rows x a
# few classes they stay in cache; one call over a million rows is about twice as slow.
CHUNK_ROWS = 2**16


def score_rows(human: ArrayLike, candidates: ArrayLike, metric: Metric) -> NDArray[np.float64]:
    """Row-wise divergence of ``candidates`` (n, k) from ``human`` (n, k), or from one human row (k,)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    divergence = kl if metric == "kl" else js
    h = np.asarray(human, dtype=np.float64)
    c = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
    if h.ndim == 1:
        h = np.broadcast_to(h, c.shape)
    out = np.empty(c.shape[0])
    for start in range(0, c.shape[0], CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        out[start:stop] = divergence(h[start:stop], c[start:stop])
    return out


def worst_scores(human: ArrayLike, metric: Metric) -> NDArray[np.float64]:
    """The worst score any distribution can get against each human row (n, k).

    Both divergences are convex in the candidate, so the maximum over the simplex sits at a
    one-hot vertex. A candidate whose text cannot be read (a format failure) gets this score: it
    is at least as bad as every readable answer, and stays a finite number in the records.
    """
    h = np.atleast_2d(np.asarray(human, dtype=np.float64))
    n, k = h.shape
    vertices = np.eye(k)
    rows = np.repeat(h, k, axis=0)
    tiled = np.tile(vertices, (n, 1))
    return score_rows(rows, tiled, metric).reshape(n, k).max(axis=1)
