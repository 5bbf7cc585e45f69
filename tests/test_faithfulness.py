"""Faithfulness: one citation per cue, three agreement figures, and a gate that "moderate everywhere" fails."""

from __future__ import annotations

import json

import pytest
from test_pairs_support import CLASSES, make_trace, make_utterance

from cotgen.acoustics import cue_phrases
from cotgen.build.outcome import Item, parse_answer, trace_record, unfaithful_detail
from cotgen.build.run import BuildConfig, prepare
from cotgen.records.run_records import TemplateRef, Usage
from cotgen.records.trace import TraceError, faithfulness, faithfulness_parts, validate_trace
from cotgen.teachers.template import write_trace

# The threshold docs/build.md recommends for --min-faithfulness (the one the issue tried).
THRESHOLD = 0.75


def _with_cues(cues: list[tuple[str, str]]):
    trace = make_trace({"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4})
    data = trace.model_dump()
    data["acoustic"]["cues"] = [{"cue": c, "level": lv, "observation": "Heard.", "suggests": []} for c, lv in cues]
    return data


def test_a_cue_cited_twice_is_a_validation_error_the_build_repairs():
    padded = _with_cues([("pitch", "moderate")] * 5)
    with pytest.raises(TraceError, match="pitch cited more than once") as caught:
        validate_trace(padded, CLASSES, has_transcript=True)
    assert caught.value.reason == "schema_invalid"  # a TraceError: teach_item answers it with a repair turn
    item = Item(make_utterance("u", {"ang": 3, "sad": 2}), 0, "rationalize")
    with pytest.raises(TraceError, match="cite each cue once"):
        parse_answer(json.dumps(padded), item)


def test_parts_by_hand():
    trace = validate_trace(
        _with_cues([("pitch", "moderate"), ("loudness", "high"), ("intonation", "flat"), ("pauses", "low")]),
        CLASSES,
        has_transcript=True,
    )
    measured = {
        "pitch": "very high",
        "loudness": "very high",
        "intonation": "rising",
        "pauses": "low",
        "speech_rate": "very low",
    }
    parts = faithfulness_parts(trace, measured)
    # exact: pauses only -> 1/4; within one: loudness (high vs very high) and pauses -> 2/4;
    # salient measured: pitch, loudness, intonation, speech_rate; on the right side: loudness only -> 1/4.
    assert (parts.exact, parts.within_one, parts.salient_recall) == (0.25, 0.5, 0.25)
    assert faithfulness(trace, measured) == pytest.approx((0.25 + 0.5 + 0.25) / 3)
    calm = {"pitch": "moderate", "loudness": "high", "intonation": "flat", "pauses": "low"}
    assert faithfulness_parts(trace, calm).salient_recall is None and faithfulness(trace, calm) == 1.0
    assert faithfulness(trace, {}) is None


@pytest.fixture(scope="module")
def demo_levels(tmp_path_factory: pytest.TempPathFactory):
    """Every demo utterance with its measured cue levels and phrases, as `cotgen build` computes them."""
    config = BuildConfig(out=tmp_path_factory.mktemp("faith"), cache=tmp_path_factory.mktemp("cache"), progress=False)
    prepared = prepare(config, config.run_dir())
    return [(utt, prepared.profile(i, utt)) for i, utt in enumerate(prepared.utterances())]


def test_moderate_everywhere_fails_the_gate_and_faithful_traces_pass(demo_levels):
    old_rule_passes = 0
    for utt, profile in demo_levels:
        levels = profile.levels
        faithful = write_trace(utt.id, utt.transcript, utt.distribution, levels, "rationalize", 0, cue_phrases(profile))
        moderate = faithful.model_copy(deep=True)
        moderate.acoustic.cues = [
            c.model_copy(update={"level": "flat" if c.cue == "intonation" else "moderate"})
            for c in faithful.acoustic.cues
        ]
        assert faithfulness(faithful, levels) == 1.0
        assert faithfulness(moderate, levels) < THRESHOLD, utt.id
        old_rule_passes += faithfulness_parts(moderate, levels).within_one >= THRESHOLD
        item = Item(utt, 0, "rationalize")
        ref = TemplateRef(name="t", sha256="0" * 64)
        record = trace_record(item, moderate, "openai:x", ref, levels, Usage())
        detail = unfaithful_detail(record, THRESHOLD)
        assert detail is not None and "salient-cue recall 0.00" in detail
        assert unfaithful_detail(trace_record(item, faithful, "template", ref, levels, Usage()), THRESHOLD) is None
    assert old_rule_passes > 0  # within-one-step agreement alone, the old score, let some of them through
