"""Choosing the preferred candidate and the rejected ones for an utterance.

Chosen is the gold trace when one is offered (``--chosen gold``, the default: the method trains
towards the gold, and a rollout that happens to score better must not turn the gold into a rejected
answer), or else the best-scoring readable candidate (``--chosen best``); either only if it is good
enough (``max_chosen``). Rejected are candidates at least ``margin`` worse, taken hardest-first
(smallest gap above the margin: the most informative pairs), worst-first, or at random. The function is pure: a seeded
generator makes the random strategy reproducible, and ties keep candidate order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

ChosenRule = Literal["gold", "best"]
CHOSEN_RULES: tuple[ChosenRule, ...] = ("gold", "best")
Strategy = Literal["hardest", "worst", "random"]
STRATEGIES: tuple[Strategy, ...] = ("hardest", "worst", "random")
NoPairReason = Literal[
    "no_candidates", "no_readable_candidate", "gold_above_max", "chosen_above_max", "no_rejected_beyond_margin"
]
NO_PAIR_REASONS: tuple[NoPairReason, ...] = (
    "no_candidates",
    "no_readable_candidate",
    "gold_above_max",
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
    gold: int | None = None,
) -> Selection:
    """Chosen and up to ``per_utterance`` rejected candidates, or why there are none.

    ``gold`` is the index of the gold candidate when it is to be the chosen one (``--chosen gold``):
    it is chosen if within ``max_chosen``, and otherwise the utterance has no pair (never a pair
    in which the gold is rejected).
    """
    if len(scores) == 0:
        return Selection(None, (), "no_candidates")
    if not readable.any():
        return Selection(None, (), "no_readable_candidate")
    if gold is not None:
        if not readable[gold] or scores[gold] > max_chosen + _TOLERANCE:
            return Selection(None, (), "gold_above_max")
        chosen = gold
    else:
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
