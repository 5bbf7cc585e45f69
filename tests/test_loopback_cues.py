"""The loopback server's stock answer cites the cue levels the prompt shows (see tests/loopback_cues.py)."""

from __future__ import annotations

import pytest
from loopback_cues import NO_PAUSES_LEVEL, shown_levels
from loopback_server import trace_responder

from cotgen.build.run import BuildConfig, prepare
from cotgen.prompts.templates import load_prompts
from cotgen.records.trace import Trace, faithfulness, faithfulness_parts

CLASSES = ("neu", "hap", "ang", "sad")
DEFAULT_GATE = 0.75


@pytest.fixture(scope="module")
def demo_prompts(tmp_path_factory: pytest.TempPathFactory):
    """Every demo utterance's measured levels and rendered rationalize prompt, exactly as `cotgen build` makes them."""
    config = BuildConfig(out=tmp_path_factory.mktemp("cues"), cache=tmp_path_factory.mktemp("cache"), progress=False)
    prepared = prepare(config, config.run_dir())
    prompts = load_prompts()
    rows = []
    for position, utt in enumerate(prepared.utterances()):
        profile = prepared.profile(position, utt)
        messages = prompts.messages(prepared.inputs(utt), "rationalize", schema_in_prompt=False)
        rows.append((utt.id, profile.levels, messages))
    return rows


def test_every_measured_level_is_read_back_from_the_rendered_prompt(demo_prompts) -> None:
    hidden_pauses = 0
    for uid, levels, messages in demo_prompts:
        shown = shown_levels(messages[1]["content"])
        measured = {cue: level for cue, level in levels.items() if level is not None}
        if "no long pauses" in messages[1]["content"]:
            hidden_pauses += 1
            assert shown.pop("pauses") == NO_PAUSES_LEVEL
            measured.pop("pauses")
        assert shown == measured, uid
    assert 0 < hidden_pauses < len(demo_prompts)  # both ways of stating pauses occur in the demo corpus


def test_the_stock_answer_passes_the_default_gate_and_survives_a_repair_turn(demo_prompts) -> None:
    for uid, levels, messages in demo_prompts:
        trace = Trace.model_validate(trace_responder({"messages": messages}, CLASSES))
        score = faithfulness(trace, levels)
        assert score is not None and score >= DEFAULT_GATE, uid
        parts = faithfulness_parts(trace, levels)
        assert (parts.within_one, parts.salient_recall) in ((1.0, 1.0), (1.0, None)), uid
        if "no long pauses" not in messages[1]["content"]:
            assert score == 1.0, uid  # every level shown, every level cited as shown
        repair = [*messages, {"role": "assistant", "content": "{}"}, {"role": "user", "content": "Fix: sums to 1.3"}]
        repaired = Trace.model_validate(trace_responder({"messages": repair}, CLASSES))
        assert faithfulness(repaired, levels) == score, uid


def test_a_prompt_without_a_cue_line_gets_the_fixed_answer() -> None:
    body = {"messages": [{"role": "user", "content": "Transcript: pitch high, they said.\nClasses: neu, hap"}]}
    trace = Trace.model_validate(trace_responder(body, ("neu", "hap")))
    assert [(c.cue, c.level) for c in trace.acoustic.cues] == [("pitch", "moderate"), ("loudness", "high")]
    # the fixed answer is the "moderate everywhere" kind the default gate exists to stop
    measured = {"pitch": "very high", "loudness": "very low", "intonation": "rising"}
    assert faithfulness_parts(trace, measured).salient_recall == 0.0


def test_clause_by_clause() -> None:
    line = (
        "pitch very high for a female voice in this corpus (median 251 Hz, +1.9 SD), falling at the end, "
        "range very wide (14.2 semitones); loudness low, highly varied; speaking very slowly (2.1 syllables/s); "
        "1 long pause (7% of the speech, high); voice breathy or hoarse (HNR -3 dB, very low)"
    )
    assert shown_levels(f"Speaker gender: female\n\n{line}\n- f0: 251") == {
        "pitch": "very high",
        "pitch_variation": "very high",
        "intonation": "falling",
        "loudness": "low",
        "loudness_variation": "very high",
        "speech_rate": "very low",
        "pauses": "high",
        "voice_quality": "very low",
    }
    assert shown_levels("pitch not measurable; loudness moderate") == {"loudness": "moderate"}
