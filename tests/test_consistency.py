"""The consistency rules (cotgen/records/consistency.py): level vs top share, competing vs mass, evidence coherence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.records.consistency import (
    COMPETING_TOLERANCE,
    HIGH_MAX_TOP,
    LEVEL_MARGIN,
    LOW_MIN_TOP,
    MIN_COHERENCE,
    coherence,
    competing_violation,
    evidence_votes,
    expected_level,
    level_violation,
    trace_coherence,
    trace_violations,
    violations,
)
from cotgen.records.trace import validate_trace
from cotgen.teachers.template import write_trace

CLASSES = ["neu", "hap", "ang", "sad"]


@st.composite
def distributions(draw: st.DrawFn, classes: list[str] = CLASSES) -> dict[str, float]:
    weights = draw(st.lists(st.integers(0, 100), min_size=len(classes), max_size=len(classes)))
    if sum(weights) == 0:
        weights[draw(st.integers(0, len(classes) - 1))] = 1
    total = sum(weights)
    return {code: w / total for code, w in zip(classes, weights)}


suggest_lists = st.lists(st.lists(st.sampled_from(CLASSES), max_size=3), max_size=8)


def _ranked(distribution: dict[str, float]) -> list[str]:
    return sorted(distribution, key=lambda code: (-distribution[code], CLASSES.index(code)))


# --- rule 1: ambiguity level -------------------------------------------------------------------------------------


@given(distributions())
def test_the_expected_level_is_always_consistent(distribution: dict[str, float]) -> None:
    assert level_violation(expected_level(distribution), distribution) is None


@given(distributions())
def test_a_level_two_bands_away_is_always_a_contradiction(distribution: dict[str, float]) -> None:
    top = max(distribution.values())
    if top >= LOW_MIN_TOP:
        assert level_violation("high", distribution) is not None
    if top < HIGH_MAX_TOP:
        assert level_violation("low", distribution) is not None


@given(distributions(), st.sampled_from(["low", "medium", "high"]))
def test_a_level_is_accepted_exactly_within_the_margin_of_its_band(distribution: dict[str, float], level: str) -> None:
    top = max(distribution.values())
    lo, hi = {"low": (LOW_MIN_TOP, 2.0), "medium": (HIGH_MAX_TOP, LOW_MIN_TOP), "high": (-1.0, HIGH_MAX_TOP)}[level]
    inside = lo - LEVEL_MARGIN <= top < hi + LEVEL_MARGIN
    assert (level_violation(level, distribution) is None) == inside


def test_level_examples() -> None:
    near_uniform = {"neu": 0.3, "hap": 0.0, "ang": 0.35, "sad": 0.35}
    found = level_violation("low", near_uniform)
    assert found is not None and found.rule == "ambiguity_level"
    assert "0.35" in found.detail and "'high'" in found.detail
    assert level_violation("low", {"neu": 0.7, "hap": 0.3, "ang": 0.0, "sad": 0.0}) is None  # borderline
    assert level_violation("high", {"neu": 0.9, "hap": 0.1, "ang": 0.0, "sad": 0.0}) is not None
    assert level_violation("extreme", near_uniform) is not None


# --- rule 2: competing classes ---------------------------------------------------------------------------------


@given(distributions(), st.integers(1, len(CLASSES)))
def test_the_top_classes_with_mass_are_always_accepted_as_competing(distribution: dict[str, float], k: int) -> None:
    named = [code for code in _ranked(distribution)[:k] if distribution[code] >= 0.01]
    assert competing_violation(named, distribution) is None


@given(distributions(), st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True))
def test_competing_is_rejected_exactly_when_it_skips_a_stronger_class_or_names_an_empty_one(
    distribution: dict[str, float], named: list[str]
) -> None:
    unnamed = [distribution[code] for code in CLASSES if code not in named]
    skips = bool(unnamed) and min(distribution[c] for c in named) < max(unnamed) - COMPETING_TOLERANCE
    empty = any(distribution[c] < 0.01 for c in named)
    assert (competing_violation(named, distribution) is not None) == (skips or empty)


def test_competing_examples() -> None:
    assert competing_violation([], {"neu": 1.0, "hap": 0.0}) is None
    # The issue's example: hap named but holding nothing.
    found = competing_violation(["hap"], {"neu": 0.3, "hap": 0.0, "ang": 0.35, "sad": 0.35})
    assert found is not None and found.rule == "competing" and "hap 0.00" in found.detail
    found = competing_violation(["neu", "sad"], {"neu": 0.5, "hap": 0.3, "ang": 0.0, "sad": 0.2})
    assert found is not None and "not hap" in found.detail
    # A near tie is not a contradiction.
    assert competing_violation(["neu", "sad"], {"neu": 0.5, "hap": 0.26, "ang": 0.0, "sad": 0.24}) is None


# --- rule 3: evidence coherence --------------------------------------------------------------------------------


@given(suggest_lists, distributions())
def test_coherence_is_a_share_or_none(suggests: list[list[str]], distribution: dict[str, float]) -> None:
    score = coherence(suggests, distribution)
    if not any(suggests):
        assert score is None
    else:
        assert score is not None and 0.0 <= score <= 1.0


@given(suggest_lists, distributions())
def test_coherence_does_not_depend_on_the_order_of_the_cues(
    suggests: list[list[str]], distribution: dict[str, float]
) -> None:
    assert coherence(suggests, distribution) == pytest.approx(coherence(list(reversed(suggests)), distribution))


@given(suggest_lists.filter(any), distributions())
def test_coherence_is_one_when_every_cue_points_to_a_top_class_and_zero_when_none_to_a_class_with_mass(
    suggests: list[list[str]], distribution: dict[str, float]
) -> None:
    top = max(distribution.values())
    votes = evidence_votes(suggests, CLASSES)
    voted = [code for code in CLASSES if votes[code] > 0]
    score = coherence(suggests, distribution)
    assert (score == pytest.approx(1.0)) == all(distribution[c] == top for c in voted)
    assert (score == 0.0) == all(distribution[c] == 0.0 for c in voted)


@given(suggest_lists.filter(any), distributions(), st.integers(1, 5))
def test_citing_more_evidence_for_the_top_class_never_lowers_coherence(
    suggests: list[list[str]], distribution: dict[str, float], extra: int
) -> None:
    top = max(distribution, key=distribution.__getitem__)
    more = [*suggests, *([[top]] * extra)]
    assert coherence(more, distribution) >= coherence(suggests, distribution) - 1e-9


@given(suggest_lists.filter(any), distributions(), st.floats(0.1, 10.0))
def test_coherence_does_not_depend_on_the_scale_of_the_distribution(
    suggests: list[list[str]], distribution: dict[str, float], scale: float
) -> None:
    scaled = {code: p * scale for code, p in distribution.items()}
    assert coherence(suggests, scaled) == pytest.approx(coherence(suggests, distribution))


def test_a_flat_distribution_is_coherent_with_evidence_for_one_of_its_classes() -> None:
    flat = dict.fromkeys(CLASSES, 0.25)
    assert coherence([["ang"], ["ang"]], flat) == 1.0


def test_coherence_example_and_gate() -> None:
    loud_and_angry = [["ang", "hap"], ["ang", "hap"], ["ang"]]
    assert coherence(loud_and_angry, {"neu": 0.0, "hap": 0.0, "ang": 1.0, "sad": 0.0}) == pytest.approx(2 / 3)
    assert coherence(loud_and_angry, {"neu": 0.0, "hap": 0.5, "ang": 0.5, "sad": 0.0}) == 1.0
    sad = {"neu": 0.1, "hap": 0.0, "ang": 0.0, "sad": 0.9}
    assert coherence(loud_and_angry, sad) == 0.0
    found = violations("low", ["sad"], loud_and_angry, sad)
    assert [v.rule for v in found] == ["coherence"]
    assert "ang" in found[0].detail and "sad 0.90" in found[0].detail
    assert violations("low", ["sad"], loud_and_angry, sad, min_coherence=None) == []
    # Mixed evidence for a mixed distribution is coherent enough: (1/3 * 0.4 + 1/2 * 0.4 + 1/6 * 0.2) / 0.4.
    mixed = [["ang"], ["sad"], ["neu", "sad"]]
    assert coherence(mixed, {"neu": 0.2, "hap": 0.0, "ang": 0.4, "sad": 0.4}) == pytest.approx(11 / 12)
    assert coherence(mixed, {"neu": 0.2, "hap": 0.0, "ang": 0.4, "sad": 0.4}) >= MIN_COHERENCE


# --- over a trace, and the template teacher ---------------------------------------------------------------------


def _trace(level: str, competing: list[str], distribution: dict[str, float], suggests: list[str]):
    return validate_trace(
        {
            "acoustic": {
                "cues": [{"cue": "pitch", "level": "high", "observation": "Raised.", "suggests": suggests}],
                "summary": "Raised voice.",
            },
            "lexical": {"cues": [], "summary": "No transcript."},
            "ambiguity": {"level": level, "competing": competing, "explanation": "Because."},
            "distribution": distribution,
        },
        CLASSES,
        has_transcript=False,
    )


def test_the_issues_self_contradicting_trace_breaks_every_rule() -> None:
    trace = _trace("low", ["hap"], {"neu": 0.3, "hap": 0.0, "ang": 0.35, "sad": 0.35}, ["hap"])
    assert [v.rule for v in trace_violations(trace)] == ["ambiguity_level", "competing", "coherence"]
    assert trace_coherence(trace) == 0.0


levels = st.fixed_dictionaries(
    {
        cue: st.one_of(st.none(), st.sampled_from(["very low", "low", "moderate", "high", "very high"]))
        for cue in ("pitch", "pitch_variation", "loudness", "loudness_variation", "speech_rate", "pauses")
    }
)


@settings(max_examples=60)
@given(distributions(), levels, st.integers(0, 3))
def test_template_predict_traces_pass_every_rule(distribution: dict[str, float], measured, sample: int) -> None:
    trace = write_trace("u1", "I can't believe it, again!", distribution, measured, "predict", sample)
    assert trace_violations(trace) == []


@settings(max_examples=60)
@given(distributions(), levels)
def test_template_gold_traces_pass_the_level_and_competing_rules(distribution: dict[str, float], measured) -> None:
    trace = write_trace("u1", "Fine.", distribution, measured, "rationalize", 0)
    assert trace_violations(trace, min_coherence=None) == []


def test_the_catch_all_class_is_neither_for_nor_against_the_evidence() -> None:
    with_other = {"neu": 0.1, "ang": 0.1, "sad": 0.0, "oth": 0.8}
    assert coherence([["ang"]], with_other) == coherence([["ang"]], {"neu": 0.1, "ang": 0.1, "sad": 0.0})
    assert coherence([["ang"]], {"neu": 0.0, "ang": 0.0, "sad": 0.0, "oth": 1.0}) is None
