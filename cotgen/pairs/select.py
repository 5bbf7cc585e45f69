"""Choosing the preferred candidate and the rejected ones for an utterance.

Chosen is the best-scoring readable candidate, if it is good enough (``max_chosen``); rejected
are candidates at least ``margin`` worse, taken hardest-first (smallest gap above the margin:
the most informative pairs), worst-first, or at random. The function is pure: a seeded
generator makes the random strategy reproducible, and ties keep candidate order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Strategy = Literal["hardest", "worst", "random"]
STRATEGIES: tuple[Strategy, ...] = ("hardest", "worst", "random")
NoPairReason = Literal["no_candidates", "no_readable_candidate", "chosen_above_max", "no_rejected_beyond_margin"]
NO_PAIR_REASONS: tuple[NoPairReason, ...] = (
    "no_candidates",
    "no_readable_candidate",
    "chosen_above_max",
    "no_rejected_beyond_margin",
)
# Scores equal up to float noise must count as equal when compared against the margin.
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Selection:
    """Indices into an utterance's candidates: chosen and rejected, or the reason there is no pair."""

    chosen: int | None
    rejected: tuple[int, ...]
    reason: NoPairReason | None


def select_pair(
    scores: NDArray[np.float64],
    readable: NDArray[np.bool_],
    texts: Sequence[str],
    margin: float,
    max_chosen: float,
    strategy: Strategy,
    per_utterance: int,
    rng: np.random.Generator,
) -> Selection:
    """Chosen and up to ``per_utterance`` rejected candidates, or why there are none."""
    if len(scores) == 0:
        return Selection(None, (), "no_candidates")
    if not readable.any():
        return Selection(None, (), "no_readable_candidate")
    chosen = int(np.argmin(np.where(readable, scores, np.inf)))
    if scores[chosen] > max_chosen + _TOLERANCE:
        return Selection(None, (), "chosen_above_max")
    threshold = scores[chosen] + margin - _TOLERANCE
    eligible = [i for i in range(len(scores)) if i != chosen and scores[i] >= threshold and texts[i] != texts[chosen]]
    if not eligible:
        return Selection(chosen, (), "no_rejected_beyond_margin")
    if strategy == "hardest":
        ordered = sorted(eligible, key=lambda i: (scores[i], i))
    elif strategy == "worst":
        ordered = sorted(eligible, key=lambda i: (-scores[i], i))
    elif strategy == "random":
        ordered = [eligible[i] for i in rng.permutation(len(eligible))]
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return Selection(chosen, tuple(ordered[:per_utterance]), None)
