"""Corrupted versions of the gold trace: rejected candidates that differ where it matters.

A corruption keeps the gold trace's acoustic and lexical stages and changes only the judgement:
the distribution, and the ambiguity stage re-derived from it so that the text stays coherent (an
overconfident distribution must not sit under "high ambiguity"). A preference pair then teaches
the model exactly the step it gets wrong, instead of rewarding incoherence that is easy to spot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from cotgen.core.divergence import round_distribution
from cotgen.core.labels import emotion_name
from cotgen.records.trace import Trace, printed, render_trace, validate_trace

CorruptionKind = Literal["overconfident", "flat", "swapped", "shifted"]
CORRUPTIONS: tuple[CorruptionKind, ...] = ("overconfident", "flat", "swapped", "shifted")

LOW_AMBIGUITY_BELOW = 1 / 3
HIGH_AMBIGUITY_FROM = 2 / 3


def _top(distribution: Mapping[str, float], classes: Sequence[str]) -> str:
    """The most probable class; ties go to the earlier class."""
    return max(classes, key=lambda c: (distribution[c], -classes.index(c)))


def _names(codes: Sequence[str]) -> str:
    names = [emotion_name(c) for c in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ambiguity_for(distribution: Mapping[str, float], classes: Sequence[str]) -> dict[str, object]:
    """An ambiguity stage that agrees with ``distribution``.

    Level from the entropy normalised by log2(k): low below 1/3, high from 2/3, medium between.
    Competing classes (none when low): those with at least half the top probability, most
    probable first, at least two.
    """
    k = len(classes)
    entropy = -sum(p * math.log2(p) for p in distribution.values() if p > 0)
    normalised = entropy / math.log2(k) if k > 1 else 0.0
    level = "low" if normalised < LOW_AMBIGUITY_BELOW else "high" if normalised >= HIGH_AMBIGUITY_FROM else "medium"
    ranked = sorted(classes, key=lambda c: (-distribution[c], classes.index(c)))
    top = _top(distribution, classes)
    if level == "low":
        return {
            "level": level,
            "competing": [],
            "explanation": f"The cues agree on {emotion_name(top)}; no other emotion is plausible.",
        }
    competing = [c for c in ranked if distribution[c] >= distribution[top] / 2] or ranked[:1]
    if len(competing) < 2:
        competing = ranked[:2]
    if level == "high":
        explanation = f"{_names(competing)} all remain plausible; the cues do not settle between them."
    else:
        explanation = f"{_names(competing)} compete, with {emotion_name(top)} ahead."
    return {"level": level, "competing": competing, "explanation": explanation[0].upper() + explanation[1:]}


def corrupted_distribution(
    kind: CorruptionKind,
    gold: Mapping[str, float],
    human: Mapping[str, float],
    majority: str | None,
    classes: Sequence[str],
) -> dict[str, float]:
    """The distribution of a corruption of ``gold`` (the gold trace's printed distribution).

    overconfident: all mass on the human majority (on the gold's top class when the votes tie);
    flat: uniform; swapped: the gold's top two classes exchange their probabilities;
    shifted: the gold's top class hands its mass to the least-voted class (earliest on a tie).
    """
    if kind == "overconfident":
        target = majority if majority is not None else _top(gold, classes)
        return {c: 1.0 if c == target else 0.0 for c in classes}
    if kind == "flat":
        return {c: 1.0 / len(classes) for c in classes}
    ranked = sorted(classes, key=lambda c: (-gold[c], classes.index(c)))
    out = {c: float(gold[c]) for c in classes}
    if kind == "swapped":
        first, second = ranked[0], ranked[1]
        out[first], out[second] = out[second], out[first]
        return out
    if kind == "shifted":
        top = ranked[0]
        others = [c for c in classes if c != top]
        least = min(others, key=lambda c: (human.get(c, 0.0), classes.index(c)))
        out[least] += out[top]
        out[top] = 0.0
        return out
    raise ValueError(f"unknown corruption {kind!r}; expected one of {CORRUPTIONS}")


def corrupt_trace(
    kind: CorruptionKind,
    gold: Trace,
    human: Mapping[str, float],
    majority: str | None,
    classes: Sequence[str],
    has_transcript: bool,
) -> Trace | None:
    """The gold trace with a corrupted distribution and a matching ambiguity stage, as printed.

    None when the corruption leaves the printed distribution unchanged (e.g. swapping two equal
    classes), since such a candidate would not be worse than the gold trace.
    """
    gold_printed = printed(gold).distribution
    distribution = round_distribution(corrupted_distribution(kind, gold_printed, human, majority, classes))
    if all(math.isclose(distribution[c], gold_printed[c]) for c in classes):
        return None
    data = gold.model_dump()
    data["distribution"] = distribution
    data["ambiguity"] = ambiguity_for(distribution, classes)
    return printed(validate_trace(data, classes, has_transcript))


def corruption_texts(
    gold: Trace,
    human: Mapping[str, float],
    majority: str | None,
    classes: Sequence[str],
    has_transcript: bool,
    kinds: Sequence[CorruptionKind] = CORRUPTIONS,
) -> list[tuple[CorruptionKind, str]]:
    """(kind, rendered text) for each corruption of ``gold`` that changes its distribution."""
    out = []
    for kind in kinds:
        trace = corrupt_trace(kind, gold, human, majority, classes, has_transcript)
        if trace is not None:
            out.append((kind, render_trace(trace)))
    return out
