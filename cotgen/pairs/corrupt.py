"""Corrupted versions of a template-teacher gold: rejected candidates that differ only where the distribution is stated.

A corruption keeps the gold trace's text and changes only the judgement: the ``<distribution>`` and the
``<ambiguity>`` stage, rewritten whole by the rule that wrote the gold's
(:func:`cotgen.teachers.template.ambiguity` of the corrupted distribution), so the rejected text is exactly what
the template teacher writes when asked to rationalise that distribution and a pair cannot be told apart by
wording. Only rule-written golds are corrupted: a model's explanation cannot be rewritten completely (replacing
its quoted numbers left "Anger (0.30) leads" and "3 of 5 annotators heard neutral" over a flat distribution), so
a model teacher's negatives are its own rationalisations of these distributions, the ``counterfactual`` source
(:mod:`cotgen.pairs.counterfactual`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from cotgen.core.divergence import round_distribution
from cotgen.records.measurements import DEFAULT_STYLE, TextStyle
from cotgen.records.trace import Trace, printed, validate_trace
from cotgen.teachers.template import ambiguity as template_ambiguity

CorruptionKind = Literal["overconfident", "flat", "swapped", "shifted"]
CORRUPTIONS: tuple[CorruptionKind, ...] = ("overconfident", "flat", "swapped", "shifted")


def _top(distribution: Mapping[str, float], classes: Sequence[str]) -> str:
    """The most probable class; ties go to the earlier class."""
    return max(classes, key=lambda c: (distribution[c], -classes.index(c)))


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
    """The (template-teacher) gold trace with a corrupted distribution and the template's ambiguity stage for it.

    None when the corruption leaves the printed distribution unchanged (e.g. swapping two equal
    classes), since such a candidate would not be worse than the gold trace.
    """
    gold_printed = printed(gold).distribution
    distribution = round_distribution(corrupted_distribution(kind, gold_printed, human, majority, classes))
    if all(math.isclose(distribution[c], gold_printed[c]) for c in classes):
        return None
    data = gold.model_dump()
    data["distribution"] = distribution
    data["ambiguity"] = template_ambiguity(distribution).model_dump()
    return printed(validate_trace(data, classes, has_transcript, events=True))  # the gold's vocal events stay


def corruption_texts(
    gold: Trace,
    human: Mapping[str, float],
    majority: str | None,
    classes: Sequence[str],
    has_transcript: bool,
    kinds: Sequence[CorruptionKind] = CORRUPTIONS,
    style: TextStyle = DEFAULT_STYLE,
) -> list[tuple[CorruptionKind, str]]:
    """(kind, training text in the run's ``style``) for each corruption of a template-teacher ``gold``."""
    out = []
    for kind in kinds:
        trace = corrupt_trace(kind, gold, human, majority, classes, has_transcript)
        if trace is not None:
            out.append((kind, style.render(trace)))
    return out
