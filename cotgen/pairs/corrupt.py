"""Corrupted versions of the gold trace: rejected candidates that differ only where the distribution is stated.

A corruption keeps the gold trace's text and changes only the judgement: the ``<distribution>`` and
what the ``<ambiguity>`` stage quotes of it (its level, competing classes and probabilities). Those
are rewritten by the same function that wrote the gold's, so a preference pair cannot be told apart
by wording: for a template-teacher gold the whole stage is the template teacher's own
:func:`cotgen.teachers.template.ambiguity` of the corrupted distribution (the rejected text is then
exactly what the template teacher writes when asked to rationalise that distribution); for a model
teacher's gold, level and competing classes follow the same rule and the probabilities its
explanation quotes are replaced, the rest of its words kept. A model's own rationalisation of a
corrupted distribution is the ``counterfactual`` source (:mod:`cotgen.pairs.counterfactual`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from cotgen.core.divergence import round_distribution
from cotgen.records.measurements import DEFAULT_STYLE, TextStyle
from cotgen.records.trace import Trace, printed, validate_trace
from cotgen.teachers.template import TEACHER_NAME as TEMPLATE_TEACHER
from cotgen.teachers.template import ambiguity as template_ambiguity

CorruptionKind = Literal["overconfident", "flat", "swapped", "shifted"]
CORRUPTIONS: tuple[CorruptionKind, ...] = ("overconfident", "flat", "swapped", "shifted")

_PROBABILITY = re.compile(r"(?<![\d.])[01]\.\d\d(?![\d])")


def _top(distribution: Mapping[str, float], classes: Sequence[str]) -> str:
    """The most probable class; ties go to the earlier class."""
    return max(classes, key=lambda c: (distribution[c], -classes.index(c)))


def _requote(text: str, before: Mapping[str, float], after: Mapping[str, float]) -> str:
    """``text`` with each quoted two-decimal probability of a class replaced by that class's new one.

    A value that two classes share is ambiguous and left alone.
    """
    owners: dict[str, list[str]] = {}
    for code, p in before.items():
        owners.setdefault(f"{p:.2f}", []).append(code)
    swap = {quoted: f"{after[codes[0]]:.2f}" for quoted, codes in owners.items() if len(codes) == 1}
    return _PROBABILITY.sub(lambda m: swap.get(m.group(0), m.group(0)), text)


def rewritten_ambiguity(gold: Trace, distribution: Mapping[str, float], teacher: str) -> dict[str, object]:
    """The ambiguity stage of ``gold`` for a new (printed) ``distribution``, by the rule that wrote the gold's."""
    rule = template_ambiguity(distribution)
    if teacher == TEMPLATE_TEACHER:
        return rule.model_dump()
    explanation = _requote(gold.ambiguity.explanation, printed(gold).distribution, distribution)
    return {"level": rule.level, "competing": list(rule.competing), "explanation": explanation}


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
    teacher: str = TEMPLATE_TEACHER,
) -> Trace | None:
    """The gold trace with a corrupted distribution and its ambiguity stage rewritten to match, as printed.

    None when the corruption leaves the printed distribution unchanged (e.g. swapping two equal
    classes), since such a candidate would not be worse than the gold trace.
    """
    gold_printed = printed(gold).distribution
    distribution = round_distribution(corrupted_distribution(kind, gold_printed, human, majority, classes))
    if all(math.isclose(distribution[c], gold_printed[c]) for c in classes):
        return None
    data = gold.model_dump()
    data["distribution"] = distribution
    data["ambiguity"] = rewritten_ambiguity(gold, distribution, teacher)
    return printed(validate_trace(data, classes, has_transcript))


def corruption_texts(
    gold: Trace,
    human: Mapping[str, float],
    majority: str | None,
    classes: Sequence[str],
    has_transcript: bool,
    teacher: str = TEMPLATE_TEACHER,
    kinds: Sequence[CorruptionKind] = CORRUPTIONS,
    style: TextStyle = DEFAULT_STYLE,
) -> list[tuple[CorruptionKind, str]]:
    """(kind, training text in the run's ``style``) for each corruption of ``gold`` that changes its distribution."""
    out = []
    for kind in kinds:
        trace = corrupt_trace(kind, gold, human, majority, classes, has_transcript, teacher)
        if trace is not None:
            out.append((kind, style.render(trace)))
    return out
