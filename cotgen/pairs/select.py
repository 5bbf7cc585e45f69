"""Choosing the preferred candidate and the rejected ones for an utterance.

Chosen is the gold trace when one is offered (``--chosen gold``, the default: the method trains
towards the gold, and a rollout that happens to score better must not turn the gold into a rejected
answer), or else the best-scoring readable candidate (``--chosen best``); either only if it is good
enough (``max_chosen``). Rejected are candidates at least ``margin`` worse, taken by kind in turn
(``balanced``, the default: the kind of negative this run has paired least so far, the hardest of that kind),
hardest-first (smallest gap above the margin), worst-first, or at random.

Why ``balanced``: scores of different kinds of negative are not on one scale. Under KL's 1e-6 smoothing a
distribution with a zero where the votes have mass scores about 13.8 nats times that mass (ln 1e6), so an
over-confident negative — the commonest real failure of a student — is "worse" than any other kind by an
order of magnitude, and hardest-first never reaches it (docs/pairs-grpo-eval.md has the worked example).
Taking kinds in turn lets the metric rank within a kind and the margin decide eligibility, without the
smoothing constant deciding which kinds of failure DPO ever sees.

The function is pure: the run's counts so far come in as ``taken``, a seeded generator makes the random
strategy reproducible, and ties keep candidate order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

ChosenRule = Literal["gold", "best"]
CHOSEN_RULES: tuple[ChosenRule, ...] = get_args(ChosenRule)
Strategy = Literal["balanced", "hardest", "worst", "random"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
NoPairReason = Literal[
    "no_candidates",
    "no_readable_candidate",
    "gold_inconsistent",
    "gold_above_max",
    "chosen_above_max",
    "no_rejected_beyond_margin",
]
NO_PAIR_REASONS: tuple[NoPairReason, ...] = get_args(NoPairReason)
# Scores equal up to float noise must count as equal when compared against the margin.
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Selection:
    """Indices into an utterance's candidates: chosen and rejected, or the reason there is no pair.

    ``eligible``: every candidate that could be rejected against the chosen one (not it, not its text);
    ``within_margin``: those of them less than the margin worse, so not paired.
    """

    chosen: int | None
    rejected: tuple[int, ...]
    reason: NoPairReason | None
    eligible: tuple[int, ...] = ()
    within_margin: tuple[int, ...] = ()


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
    kinds: Sequence[str] | None = None,
    taken: Mapping[str, int] | None = None,
) -> Selection:
    """Chosen and up to ``per_utterance`` rejected candidates, or why there are none.

    ``gold`` is the index of the gold candidate when it is to be the chosen one (``--chosen gold``):
    it is chosen if within ``max_chosen``, and otherwise the utterance has no pair (never a pair
    in which the gold is rejected). ``kinds`` names each candidate's kind of negative and ``taken`` counts
    the rejected of each kind the run has paired so far (the ``balanced`` strategy reads both).
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
    candidates = tuple(i for i in range(len(scores)) if i != chosen and texts[i] != texts[chosen])
    close = tuple(i for i in candidates if scores[i] < threshold)
    eligible = [i for i in candidates if scores[i] >= threshold]
    if not eligible:
        return Selection(chosen, (), "no_rejected_beyond_margin", candidates, close)
    if strategy == "balanced":
        ordered = _in_turn(eligible, scores, kinds or [""] * len(scores), taken or {}, per_utterance)
    elif strategy == "hardest":
        ordered = sorted(eligible, key=lambda i: (scores[i], i))
    elif strategy == "worst":
        ordered = sorted(eligible, key=lambda i: (-scores[i], i))
    elif strategy == "random":
        ordered = [eligible[i] for i in rng.permutation(len(eligible))]
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return Selection(chosen, tuple(ordered[:per_utterance]), None, candidates, close)


def _in_turn(
    eligible: Sequence[int], scores: NDArray[np.float64], kinds: Sequence[str], taken: Mapping[str, int], n: int
) -> list[int]:
    """Up to ``n`` rejected, each from the kind paired least so far (counting this utterance's picks), the
    hardest of that kind; between kinds paired equally often, the one whose hardest candidate is hardest."""
    counts = Counter(taken)
    left = sorted(eligible, key=lambda i: (scores[i], i))
    picked: list[int] = []
    while left and len(picked) < n:
        best = min(left, key=lambda i: (counts[kinds[i]], scores[i], i))
        picked.append(best)
        counts[kinds[best]] += 1
        left.remove(best)
    return picked
