"""What the student can perceive: training texts carry no measured number unless a run keeps them.

The teacher sees the measurements and traces.jsonl keeps what it wrote; every SFT, DPO and GRPO text (and the
corruptions built from the gold) is the trace in words (cotgen/records/measurements.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loopback_server import LoopbackServer, trace_responder
from typer.testing import CliRunner

from cotgen.build.run import BuildConfig, run_build
from cotgen.cli.main import get_app
from cotgen.records.measurements import _tidy, _untidy, find_measurements, perceivable, without_measurements
from cotgen.records.trace import Trace

NUMBERED = [
    ("Median pitch 134 Hz, +1.2 SD for a male voice in this corpus.", "Median pitch, for a male voice in this corpus."),
    ("Pitch higher than this speaker usually speaks (median 231 Hz, +1.1 SD).", None),
    ("Loudness moderately varied (SD 6.7 dB) for this speaker.", "Loudness moderately varied for this speaker."),
    ("Speaking fast (5.2 syllables/s) for a male voice.", "Speaking fast for a male voice."),
    ("2 long pauses (12% of the speech, moderate).", "2 long pauses."),
    ("Voice very clear (HNR 14 dB, very high).", "Voice very clear."),
    ("The pitch is raised (z = 1.3).", "The pitch is raised."),
    ("Range wide (9.3 semitones), falling at the end (-14.0 semitones/s).", "Range wide, falling at the end."),
    ("A rate of 4.2 syll/s is fast.", "A rate is fast."),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERED)
def test_measured_numbers_are_found_and_taken_out(text: str, expected: str | None) -> None:
    assert find_measurements(text)
    cleaned = without_measurements(text)
    assert find_measurements(cleaned) == []
    if expected is not None:
        assert cleaned == expected


@pytest.mark.parametrize(
    "text",
    [
        'She says "I waited 60 minutes" in a flat voice.',
        "Two cues point to anger.",
        "2 long pauses slow the delivery.",
        "The pitch is higher than this speaker usually speaks.",
    ],
)
def test_words_quotations_and_counts_are_kept(text: str) -> None:
    assert find_measurements(text) == []
    assert without_measurements(text) == text


def _reasoning(text: str) -> str:
    return text.split("<distribution>")[0]


def _training_texts(run: Path) -> list[str]:
    texts = [json.loads(line)["completion"][0]["content"] for line in (run / "sft.jsonl").read_text().splitlines()]
    for line in (run / "dpo.jsonl").read_text().splitlines():
        record = json.loads(line)
        texts += [record["chosen"][0]["content"], record["rejected"][0]["content"]]
    texts += [json.loads(line)["gold_trace"] for line in (run / "grpo.jsonl").read_text().splitlines()]
    texts += [json.loads(line)["text"] for line in (run / "traces.jsonl").read_text().splitlines()]
    return [t for t in texts if t]


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(get_app(), [*args], env={"OPENAI_API_KEY": "sk-test"})
    assert result.exit_code == 0, result.output


def test_no_measurement_in_any_default_training_text_of_the_demo(tmp_path: Path, cache: Path) -> None:
    run = tmp_path / "demo"
    _invoke("build", "--out", str(run), "--cache", str(cache), "--samples", "1", "--no-progress")
    _invoke("pairs", "--in", str(run), "--source", "gold,samples,corrupt", "--per-utterance", "4")
    _invoke("grpo", "--in", str(run))
    texts = _training_texts(run)
    assert len(texts) > 3 * 24
    assert [t for t in texts if find_measurements(_reasoning(t))] == []
    # The teacher's own words, with the numbers it was shown, stay in traces.jsonl.
    traces = [json.loads(line)["trace"] for line in (run / "traces.jsonl").read_text().splitlines()]
    assert any(find_measurements(cue["observation"]) for t in traces for cue in t["acoustic"]["cues"])


def _quoting_numbers(body: dict, classes: tuple[str, ...]) -> dict:
    answer = trace_responder(body, classes)
    for cue in answer["acoustic"]["cues"]:
        cue["observation"] = f"The {cue['cue']} is {cue['level']} (z = 1.4, median 231 Hz), about +1.1 SD."
    answer["acoustic"]["summary"] = "Loud at 78 dB with 12% pauses and HNR 14 dB; 5.1 syllables/s."
    return answer


def test_a_teacher_quoting_numbers_trains_on_words_unless_the_run_keeps_them(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_quoting_numbers) as srv:
        for name, keep in (("words", False), ("numbers", True)):
            config = BuildConfig(
                teacher="openai:loopback",
                base_url=srv.base_url,
                out=tmp_path / name,
                cache=cache,
                progress=False,
                limit=4,
                samples=1,
                keep_numbers=keep,
            )
            summary = run_build(config)
            assert summary.traces == 8
        requests = len(srv.chat_requests)
    words = [json.loads(line) for line in (tmp_path / "words" / "traces.jsonl").read_text().splitlines()]
    assert all(find_measurements(r["trace"]["acoustic"]["summary"]) for r in words)  # what the teacher wrote
    sft = [json.loads(line)["completion"][0]["content"] for line in (tmp_path / "words" / "sft.jsonl").open()]
    assert len(sft) == 4 and [t for t in sft if find_measurements(_reasoning(t))] == []
    assert [r["text"] for r in words if find_measurements(_reasoning(r["text"]))] == []
    kept = [json.loads(line)["text"] for line in (tmp_path / "numbers" / "traces.jsonl").read_text().splitlines()]
    assert all("231 Hz" in text for text in kept)
    # The option is recorded and fingerprinted: the same answers (from the cache), another record.
    assert requests == 8
    configs = {n: json.loads((tmp_path / n / "run.json").read_text())["config"] for n in ("words", "numbers")}
    assert (configs["words"]["keep_numbers"], configs["numbers"]["keep_numbers"]) == (False, True)
    fingerprints = {
        n: {json.loads(line)["fingerprint"] for line in (tmp_path / n / "traces.jsonl").open()}
        for n in ("words", "numbers")
    }
    assert not fingerprints["words"] & fingerprints["numbers"]


def _tidy_every_rule(text: str) -> str:
    """measurements._tidy with every rule applied, as it was before its shortcut for already-tidy texts."""
    text = re.sub(r"\s*,\s*(?=[,;.:)])", "", text)
    text = re.sub(r"\(\s*[,;]?\s*\)", "", text)
    text = re.sub(r"\s+([,;.:)])", r"\1", text)
    text = re.sub(r"^[\s,;]+", "", text)
    return re.sub(r"\s{2,}", " ", text).strip()


_tidy_texts = st.text(
    alphabet=st.sampled_from(list("ab (),;.:x") + ["\t", "\n", "\xa0", "\u2003", "\x1f", "1", "H"]), max_size=30
)


@settings(max_examples=500, deadline=None)
@given(_tidy_texts)
def test_the_tidy_shortcut_changes_nothing(text: str) -> None:
    """A text the shortcut calls tidy is one no tidying rule would change; other texts get every rule."""
    assert _tidy(text) == _tidy_every_rule(text)


# What _untidy looks for, as one regular expression (slower: it tries every alternative at every position).
_UNTIDY_AS_ONE = re.compile(r",\s*[,;.:)]|\(\s*[,;]?\s*\)|\s[\s,;.:)]|^[\s,;]|\s\Z")


@settings(max_examples=500, deadline=None)
@given(_tidy_texts)
@example("x (;) y")  # an empty parenthesis that no other alternative sees
def test_untidy_looks_for_each_alternative_as_the_one_pattern_does(text: str) -> None:
    assert _untidy(text) == bool(_UNTIDY_AS_ONE.search(text))


def test_a_trace_without_numbers_is_its_own_perceivable_trace() -> None:
    """perceivable returns a number-free trace as it is, equal to what validating its texts again gives."""
    trace = Trace.model_validate(
        {
            "acoustic": {
                "cues": [{"cue": "pitch", "level": "high", "observation": "The pitch is high.", "suggests": ["ang"]}],
                "summary": "Aroused delivery (tense).",
            },
            "lexical": {
                "cues": [{"cue": "wording", "observation": "Few emotion words.", "suggests": ["neu"]}],
                "summary": "The words are not decisive.",
            },
            "ambiguity": {"level": "medium", "competing": ["ang", "neu"], "explanation": "Either reading fits."},
            "distribution": {"neu": 0.4, "ang": 0.6},
        }
    )
    assert perceivable(trace) is trace
    assert perceivable(trace) == Trace.model_validate(trace.model_dump())
    numbered = trace.model_copy(
        update={"ambiguity": trace.ambiguity.model_copy(update={"explanation": "The pitch is raised (z = 1.3)."})}
    )
    assert perceivable(numbered).ambiguity.explanation == "The pitch is raised."


def _perceivable_text_by_text(trace: Trace) -> Trace:
    """perceivable as it was before its whole-trace shortcut: every text taken through without_measurements."""

    def words(text: str) -> str:
        return without_measurements(text) or "Measured against its reference."

    acoustic = [words(cue.observation) for cue in trace.acoustic.cues]
    lexical = [words(cue.observation) for cue in trace.lexical.cues]
    summaries = [words(trace.acoustic.summary), words(trace.lexical.summary), words(trace.ambiguity.explanation)]
    if (
        acoustic == [cue.observation for cue in trace.acoustic.cues]
        and lexical == [cue.observation for cue in trace.lexical.cues]
        and summaries == [trace.acoustic.summary, trace.lexical.summary, trace.ambiguity.explanation]
    ):
        return trace
    data = trace.model_dump()
    for cue, text in zip(data["acoustic"]["cues"], acoustic, strict=True):
        cue["observation"] = text
    for cue, text in zip(data["lexical"]["cues"], lexical, strict=True):
        cue["observation"] = text
    data["acoustic"]["summary"], data["lexical"]["summary"], data["ambiguity"]["explanation"] = summaries
    return Trace.model_validate(data)


# Texts with nothing to take out, and at most one text of a trace with the separators, parentheses and numbers that
# leave something to take out (most traces have none; one is enough to change a trace).
_WORDS = ["The ", "pitch ", "is ", "high", "É", "ǅ", "ß", "(flat) ", "a, b", "z", "x"]
_HAZARDS = [",", ";", ".", ":", "(", ")", "()", "( , )", " ,", ",.", "=", "1.2", " 134 Hz", " +1.1 SD", "“3 dB”", " "]
_clean_text = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6).map("".join)
_untidy_text = st.builds(
    lambda words, at, hazard, start, end: start + "".join(words[:at]) + hazard + "".join(words[at:]) + end,
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5),
    st.integers(0, 5),
    st.sampled_from(_HAZARDS),
    st.sampled_from(["", "", "", ",", ";", "; "]),
    st.sampled_from(["", "", "", ".", " ,", ",", "()"]),
)
_trace_texts = st.builds(
    lambda texts, where, odd: [odd if i == where else text for i, text in enumerate(texts)],
    st.lists(_clean_text, min_size=5, max_size=5),
    st.none() | st.integers(0, 4),
    _untidy_text,
)


@settings(max_examples=400, deadline=None)
@given(_trace_texts)
def test_a_trace_with_nothing_to_take_out_is_seen_at_once(texts: list[str]) -> None:
    """The whole-trace shortcut gives what taking every text through without_measurements gives, the same object
    when nothing changes."""
    observation, lexical, summary, lexical_summary, explanation = (text if text.strip() else "x" for text in texts)
    trace = Trace.model_validate(
        {
            "acoustic": {
                "cues": [{"cue": "pitch", "level": "high", "observation": observation, "suggests": ["ang"]}],
                "summary": summary,
            },
            "lexical": {
                "cues": [{"cue": "wording", "observation": lexical, "suggests": ["neu"]}],
                "summary": lexical_summary,
            },
            "ambiguity": {"level": "medium", "competing": ["ang", "neu"], "explanation": explanation},
            "distribution": {"neu": 0.4, "ang": 0.6},
        }
    )
    expected = _perceivable_text_by_text(trace)
    assert perceivable(trace) == expected
    assert (perceivable(trace) is trace) == (expected is trace)


def test_an_upper_case_letter_is_its_own_upper_case() -> None:
    """What the shortcut relies on for a text's first letter (without_measurements upper-cases it), checked for
    every code point of this Python's Unicode database."""
    assert [hex(n) for n in range(0x110000) if chr(n).isupper() and chr(n).upper() != chr(n)] == []
