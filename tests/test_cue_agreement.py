"""The per-cue rules the review page marks cues with; the faithfulness parts are their shares (property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cotgen.records.trace import (
    ACOUSTIC_CUES,
    INTONATION_LEVELS,
    LEVELS,
    AcousticCue,
    AcousticStage,
    AmbiguityStage,
    LexicalStage,
    Trace,
    cue_agrees,
    faithfulness_parts,
    salient_recalled,
)

LEVELLED = [c for c in ACOUSTIC_CUES if c != "intonation"]


def test_levels_agree_within_one_step_and_intonation_only_exactly() -> None:
    assert cue_agrees("pitch", "high", "very high") and cue_agrees("pitch", "moderate", "low")
    assert not cue_agrees("pitch", "very low", "moderate") and not cue_agrees("loudness", "high", "low")
    assert cue_agrees("intonation", "rising", "rising") and not cue_agrees("intonation", "rising", "flat")
    assert cue_agrees("pitch", "rising", "high") is False  # a contour word is no level
    assert cue_agrees("pitch", "high", None) is None


@given(st.sampled_from(LEVELLED), st.sampled_from(LEVELS), st.sampled_from(LEVELS))
def test_level_agreement_is_symmetric_and_reflexive(cue: str, a: str, b: str) -> None:
    assert cue_agrees(cue, a, b) == cue_agrees(cue, b, a) == (abs(LEVELS.index(a) - LEVELS.index(b)) <= 1)
    assert cue_agrees(cue, a, a)


def _cue(name: str, level: str) -> AcousticCue:
    return AcousticCue(cue=name, level=level, observation="seen")  # type: ignore[arg-type]


@st.composite
def claims_and_measurements(draw: st.DrawFn) -> tuple[list[AcousticCue], dict[str, str | None]]:
    names = draw(st.lists(st.sampled_from(ACOUSTIC_CUES), min_size=1, max_size=8, unique=True))
    pick = {n: INTONATION_LEVELS if n == "intonation" else LEVELS for n in names}
    cues = [_cue(n, draw(st.sampled_from(pick[n]))) for n in names]
    measured = {n: draw(st.one_of(st.none(), st.sampled_from(pick[n]))) for n in names}
    return cues, measured


@given(claims_and_measurements())
def test_faithfulness_parts_are_the_shares_of_the_per_cue_verdicts(case: tuple[list[AcousticCue], dict]) -> None:
    cues, measured = case
    trace = Trace(
        acoustic=AcousticStage(cues=cues, summary="s"),
        lexical=LexicalStage(summary="s"),
        ambiguity=AmbiguityStage(level="low", explanation="e"),
        distribution={"neu": 1.0},
    )
    parts = faithfulness_parts(trace, measured)
    checked = [c for c in cues if measured[c.cue] is not None]
    near = [
        c
        for c in checked
        if (
            c.level == measured[c.cue]
            if c.cue == "intonation"
            else abs(LEVELS.index(c.level) - LEVELS.index(measured[c.cue])) <= 1
        )
    ]
    assert parts.within_one == (len(near) / len(checked) if checked else None)
    assert [cue_agrees(c.cue, c.level, measured[c.cue]) for c in checked] == [c in near for c in checked]
    extreme = [c for c in cues if measured[c.cue] in ("very low", "very high", "rising", "falling")]
    recalled = [salient_recalled(c.level, measured[c.cue]) for c in extreme]
    assert parts.salient_recall == (sum(recalled) / len(recalled) if recalled else None)


def test_salient_recall_needs_the_measured_side() -> None:
    assert salient_recalled("high", "very high") and salient_recalled("very low", "very low")
    assert salient_recalled("moderate", "very high") is False and salient_recalled(None, "rising") is False
    assert salient_recalled("high", "high") is None and salient_recalled("flat", None) is None
