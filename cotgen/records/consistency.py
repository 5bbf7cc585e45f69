"""The consistency rules of a trace: its ambiguity judgement, competing classes and cited evidence against its own
distribution.

Why one module: a gold trace that says "low ambiguity, competing: happy" over a near-uniform distribution with
happy at 0.00 teaches a student to contradict itself, and the same contradiction in a rollout should cost reward.
Gold validation (``cotgen build``), pair scoring and the GRPO rewards all call these functions, so the rule a gold
is rejected by and the rule a rollout is scored by cannot drift apart. Everything here is a pure function of plain
data (a level string, a list of class codes, the cues' ``suggests`` lists, a distribution mapping); the ``trace_*``
functions are conveniences over :class:`~cotgen.records.trace.Trace`.

The three rules (docs/reference.md, "Consistency rules"):

1. **Ambiguity level vs the distribution** (``ambiguity_level``): the level a distribution calls for follows its top
   share — ``low`` when one class holds at least 0.75, ``high`` when no class holds 0.5, ``medium`` between
   (:func:`expected_level`; the template teacher and the prompts state this rule). A stated level is accepted when
   the top share lies within :data:`LEVEL_MARGIN` of that level's band, so a borderline judgement (0.72 called
   low) passes and a contradiction (0.40 called low, 0.90 called high) does not.
2. **Competing classes vs the mass** (``competing``): the classes named as competing must be the ones holding the
   most mass — none may trail a class left unnamed by more than :data:`COMPETING_TOLERANCE` (near ties and
   two-decimal rounding are not contradictions) — and each must hold some mass (at least
   :data:`COMPETING_MIN_SHARE`).
3. **Evidence–distribution coherence** (``coherence``): each cue spreads one vote over the classes it ``suggests``;
   the votes, normalised to sum 1, are the evidence's own distribution ``e``. The score is the probability the
   trace gives to the classes its evidence points to, relative to its most probable class:
   ``sum_c e(c) * p(c) / max_c p(c)``, in [0, 1] — 1 when every cited cue points to a class the distribution
   ranks first, 0 when the cues point only to classes it gives nothing. A flat distribution over many classes is
   not penalised for evidence that picks one of them (the score compares with the top share, not with 1). Cues
   that suggest nothing do not vote; with no vote at all the score is None (nothing to check). The catch-all
   class ``oth`` (``--out-of-set other``) is left out of the score: no cue can point to "some other emotion", so
   its mass is neither for nor against the evidence (a distribution that is all ``oth`` scores None). A trace
   scoring below :data:`MIN_COHERENCE` reasons towards one answer and concludes another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from cotgen.records.trace import Trace

ConsistencyRule = Literal["ambiguity_level", "competing", "coherence", "shares"]

LOW_MIN_TOP = 0.75
"""A distribution whose top class holds at least this share calls for ``low`` ambiguity."""
HIGH_MAX_TOP = 0.5
"""A distribution whose top class holds less than this share calls for ``high`` ambiguity."""
LEVEL_MARGIN = 0.10
"""How far past its band's edge a stated level is still accepted (a borderline judgement is not a contradiction)."""
COMPETING_TOLERANCE = 0.05
"""How much less mass a competing class may hold than a class the trace leaves unnamed."""
COMPETING_MIN_SHARE = 0.01
"""The least mass a class named as competing must hold (a printed 0.00 cannot compete)."""
MIN_COHERENCE = 0.2
"""The default gate on the evidence–distribution coherence score (``--min-coherence``)."""
CATCH_ALL = "oth"
"""The class that holds votes outside a run's emotions (``--out-of-set other``); rule 3 leaves it out."""
SHARE_TOLERANCE = 0.015
"""How far a share a text quotes for a class may lie from that class's printed probability (two-decimal rounding)."""

# The top-share band [low, high) each ambiguity level stands for; widened by LEVEL_MARGIN when checking.
LEVEL_BANDS: dict[str, tuple[float, float]] = {
    "low": (LOW_MIN_TOP, 1.0),
    "medium": (HIGH_MAX_TOP, LOW_MIN_TOP),
    "high": (0.0, HIGH_MAX_TOP),
}


@dataclass(frozen=True)
class Violation:
    """One broken consistency rule: ``rule`` names it, ``detail`` says what contradicts what, in words a repair
    turn can quote back to the teacher."""

    rule: ConsistencyRule
    detail: str


def _ranked(distribution: Mapping[str, float]) -> list[str]:
    order = list(distribution)
    return sorted(order, key=lambda code: (-distribution[code], order.index(code)))


def top_share(distribution: Mapping[str, float]) -> float:
    """The largest probability in the distribution (0 for an empty one)."""
    return max(distribution.values(), default=0.0)


def expected_level(distribution: Mapping[str, float]) -> str:
    """The ambiguity level the distribution calls for by rule 1: low at top share >= 0.75, high below 0.5."""
    top = top_share(distribution)
    if top >= LOW_MIN_TOP:
        return "low"
    return "medium" if top >= HIGH_MAX_TOP else "high"


def level_violation(level: str, distribution: Mapping[str, float]) -> Violation | None:
    """Rule 1: the stated ambiguity level contradicts the top share (beyond :data:`LEVEL_MARGIN`), else None."""
    if level not in LEVEL_BANDS:
        return Violation("ambiguity_level", f"ambiguity level {level!r} is not one of {sorted(LEVEL_BANDS)}")
    lo, hi = LEVEL_BANDS[level]
    top = top_share(distribution)
    if lo - LEVEL_MARGIN <= top < hi + LEVEL_MARGIN:
        return None
    return Violation(
        "ambiguity_level",
        f"ambiguity is {level!r} but the distribution's largest share is {top:.2f}, which calls for "
        f"{expected_level(distribution)!r} (low when one emotion holds at least {LOW_MIN_TOP:.2f}, "
        f"high when none holds {HIGH_MAX_TOP:.2f}, medium between)",
    )


def competing_violation(competing: Sequence[str], distribution: Mapping[str, float]) -> Violation | None:
    """Rule 2: the competing classes are not the classes holding the most mass, or one holds none; else None.

    Codes outside the distribution count as holding no mass.
    """
    named = list(dict.fromkeys(competing))
    if not named:
        return None
    empty = [code for code in named if distribution.get(code, 0.0) < COMPETING_MIN_SHARE]
    if empty:
        shares = ", ".join(f"{code} {distribution.get(code, 0.0):.2f}" for code in empty)
        return Violation("competing", f"competing names {shares}, which holds no probability in the distribution")
    unnamed = [code for code in _ranked(distribution) if code not in named]
    if not unnamed:
        return None
    strongest = unnamed[0]
    weakest = min(named, key=lambda code: distribution.get(code, 0.0))
    if distribution.get(weakest, 0.0) < distribution[strongest] - COMPETING_TOLERANCE:
        return Violation(
            "competing",
            f"competing names {weakest} ({distribution.get(weakest, 0.0):.2f}) but not {strongest} "
            f"({distribution[strongest]:.2f}); the competing classes must be those holding the most probability",
        )
    return None


def evidence_votes(suggests: Iterable[Sequence[str]], classes: Iterable[str]) -> dict[str, float]:
    """Votes per class: each cue spreads one vote over the classes it suggests (codes outside ``classes`` ignored)."""
    votes = dict.fromkeys(classes, 0.0)
    for codes in suggests:
        known = [code for code in dict.fromkeys(codes) if code in votes]
        for code in known:
            votes[code] += 1.0 / len(known)
    return votes


def coherence(suggests: Iterable[Sequence[str]], distribution: Mapping[str, float]) -> float | None:
    """Rule 3's score: the probability of the classes the evidence points to, relative to the top class, in [0, 1].

    None when no cue suggests a class of the distribution (nothing to compare).
    """
    emotions = {code: p for code, p in distribution.items() if code != CATCH_ALL}
    votes = evidence_votes(suggests, emotions)
    total_votes = sum(votes.values())
    if total_votes <= 0.0:
        return None
    top = top_share(emotions)
    if top <= 0.0:
        return None if distribution.get(CATCH_ALL, 0.0) > 0.0 else 0.0
    score = sum(votes[code] * emotions[code] for code in emotions) / (total_votes * top)
    return min(1.0, max(0.0, score))


class _Unscored(Enum):
    TOKEN = 0


# No coherence score passed: rule 3 computes it. A caller that also records the score passes it instead.
UNSCORED: Final = _Unscored.TOKEN
Score = float | None | _Unscored


def coherence_violation(
    suggests: Iterable[Sequence[str]],
    distribution: Mapping[str, float],
    gate: float = MIN_COHERENCE,
    score: Score = UNSCORED,
) -> Violation | None:
    """Rule 3: the cited evidence points away from the distribution (coherence below ``gate``), else None.

    ``score``: :func:`coherence` of the same ``suggests`` and ``distribution`` when the caller has it already (the
    build records it beside the check), so it is not computed twice.
    """
    suggests = [list(codes) for codes in suggests]
    if score is UNSCORED:
        score = coherence(suggests, distribution)
    if score is None or score >= gate:
        return None
    votes = evidence_votes(suggests, distribution)
    favoured = [code for code in _ranked(votes) if votes[code] > 0][:3]
    top = _ranked(distribution)[:2]
    return Violation(
        "coherence",
        f"the cited cues point mostly to {', '.join(favoured)} but the distribution puts its mass on "
        f"{', '.join(f'{code} {distribution[code]:.2f}' for code in top)} (coherence {score:.2f} < {gate:.2f}); "
        "cite the evidence that supports the distribution, or give the distribution the evidence supports",
    )


def shares_violation(shares: Iterable[tuple[float, str | None]], distribution: Mapping[str, float]) -> Violation | None:
    """Rule 4: the shares a text quotes for classes ("0.40 angry", "60% heard neutral") disagree with its distribution.

    ``shares`` holds (value, class code or None) for every share the text quotes (``cotgen.records.claims`` reads
    them); shares not tied to a class are not judged. Broken when a share differs from its class's probability by
    more than :data:`SHARE_TOLERANCE`, or when the text quotes shares for classes but not for a class holding the
    most mass (it reports the distribution without its answer).
    """
    tied = [(value, code) for value, code in shares if code is not None]
    for value, code in tied:
        actual = distribution.get(code, 0.0)
        if abs(value - actual) > SHARE_TOLERANCE:
            return Violation(
                "shares", f"the text quotes {value:.2f} for {code} but the distribution gives {actual:.2f}"
            )
    if tied:
        best = top_share(distribution)
        top = [code for code in _ranked(distribution) if distribution[code] >= best - SHARE_TOLERANCE]
        if not {code for _, code in tied} & set(top):
            quoted = ", ".join(dict.fromkeys(code for _, code in tied))
            return Violation(
                "shares",
                f"the text quotes shares for {quoted} but not for {top[0]}, which holds the most ({best:.2f})",
            )
    return None


def violations(
    level: str,
    competing: Sequence[str],
    suggests: Iterable[Sequence[str]],
    distribution: Mapping[str, float],
    min_coherence: float | None = MIN_COHERENCE,
    score: Score = UNSCORED,
) -> list[Violation]:
    """Every consistency rule the parts of a trace break, in rule order (empty when consistent).

    ``min_coherence`` None leaves rule 3 out (the score is still available from :func:`coherence`); ``score`` is
    that score when the caller has it (:func:`coherence_violation`).
    """
    found = [level_violation(level, distribution), competing_violation(competing, distribution)]
    if min_coherence is not None:
        found.append(coherence_violation(suggests, distribution, min_coherence, score))
    return [v for v in found if v is not None]


def cue_suggests(trace: Trace) -> list[list[str]]:
    """The ``suggests`` list of every cue a trace cites, acoustic and lexical (the evidence rule 3 weighs)."""
    return [list(cue.suggests) for cue in (*trace.acoustic.cues, *trace.lexical.cues)]


def trace_coherence(trace: Trace) -> float | None:
    """:func:`coherence` of a trace's cited cues against its own distribution."""
    return coherence(cue_suggests(trace), trace.distribution)


def trace_violations(
    trace: Trace, min_coherence: float | None = MIN_COHERENCE, score: Score = UNSCORED
) -> list[Violation]:
    """:func:`violations` of a trace against its own distribution (``score``: its :func:`trace_coherence`, if known)."""
    amb = trace.ambiguity
    return violations(amb.level, amb.competing, cue_suggests(trace), trace.distribution, min_coherence, score)
