"""Per-cue phrases: each cites the measured value and its reference, and template traces quote them."""

from __future__ import annotations

from test_acoustics_cues import profile

from cotgen.acoustics import cue_phrases
from cotgen.records.trace import faithfulness
from cotgen.teachers.template import write_trace


def test_each_measured_cue_gets_its_value_and_reference() -> None:
    phrases = cue_phrases(
        profile(
            values={"f0_final_slope_st_s": -7.25, "intensity_mean_db": 71.6, "intensity_std_db": 4.04},
            reference={"loudness": "gender"},
        )
    )
    assert phrases["pitch"] == "pitch higher than this speaker usually speaks (median 241 Hz, +1.2 SD)"
    assert phrases["pitch_variation"] == "pitch range moderate (6.3 semitones) for this speaker"
    assert phrases["intonation"] == "pitch falling at the end (-7.2 semitones/s)"
    assert (
        phrases["loudness"]
        == "loudness moderate for a same-gender voice in this corpus (mean intensity 72 dB, +0.0 SD)"
    )
    assert phrases["loudness_variation"] == "loudness even (SD 4.0 dB) for this speaker"
    assert phrases["speech_rate"] == "speaking fast (5.8 syllables/s) for this speaker"
    assert phrases["pauses"] == "no long pauses"
    assert phrases["voice_quality"] == "voice slightly breathy (HNR 9 dB, low)"


def test_unmeasured_cues_have_no_phrase() -> None:
    phrases = cue_phrases(profile(levels={"pitch": None, "intonation": None}, values={"f0_median_hz": None}))
    assert "pitch" not in phrases and "intonation" not in phrases
    assert "loudness" not in phrases  # intensity_mean_db is not measured in this profile


def test_template_trace_quotes_the_phrases_and_stays_faithful() -> None:
    prof = profile(values={"intensity_mean_db": 70.0, "intensity_std_db": 5.0, "f0_final_slope_st_s": -8.0})
    human = {"neu": 0.2, "hap": 0.0, "ang": 0.6, "sad": 0.2}
    trace = write_trace("u1", "Leave me alone!", human, prof.levels, "rationalize", 0, cue_phrases(prof))
    observations = {cue.cue: cue.observation for cue in trace.acoustic.cues}
    assert observations["pitch"].startswith("Pitch higher than this speaker usually speaks (median 241 Hz, +1.2 SD);")
    assert observations["speech_rate"].startswith("Speaking fast (5.8 syllables/s)")
    assert faithfulness(trace, prof.levels) == 1.0
