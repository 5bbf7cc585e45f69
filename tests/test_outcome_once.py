"""An answer is decoded once and a valid trace printed and scored once, with the results of doing each every time.

The build reads one answer in two places (its shape, its validation) and one printed trace in two more (the
content checks, the record). :class:`cotgen.build.outcome.Answer` and :class:`cotgen.build.outcome.Printed`
compute each once; these properties hold them against the step-by-step computation they replaced.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_server import LoopbackServer

from cotgen.build.outcome import (
    Answer,
    Checks,
    Item,
    Printed,
    content_problem,
    gold_mismatch,
    inconsistent_detail,
    parse_answer,
    response_json,
    trace_record,
    unfaithful_detail,
    wrong_shape,
)
from cotgen.build.run import BuildConfig, run_build
from cotgen.records.consistency import MIN_COHERENCE, trace_coherence, trace_violations
from cotgen.records.leakage import leak_detail, trace_leaks
from cotgen.records.run_records import RejectRecord, TemplateRef, Usage
from cotgen.records.trace import ACOUSTIC_CUES, INTONATION_LEVELS, LEVELS, TraceError, faithfulness_parts, printed
from cotgen.records.utterance import Utterance, majority_of
from cotgen.teachers.template import write_trace

CLASSES = ["neu", "hap", "ang", "sad"]
REF = TemplateRef(name="t", sha256="0" * 64)

# --- the answer, decoded once ------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n[ \t]*```\s*$", re.S)
_TAGS = re.compile(r"<(acoustic|lexical|ambiguity|distribution)>", re.I)


def _reference_json(text: str) -> str:
    """The JSON part as found before answers were decoded once (one decode per call)."""
    fenced = _FENCE.match(text)
    body = fenced["body"] if fenced else text
    try:
        json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            return body[start : end + 1]
    return body


def _reference_shape(text: str, classes: list[str]) -> str | None:
    """The shape check as written before, decoding the JSON part itself."""
    if not text.strip():
        return "an empty answer"
    if len({tag.lower() for tag in _TAGS.findall(text)}) >= 2:
        return "the tagged student format (<acoustic>...</acoustic> ... <distribution>), not the JSON trace object"
    try:
        decoded = json.loads(_reference_json(text))
    except ValueError:
        return None if "{" in text else "prose without a JSON object"
    if not isinstance(decoded, dict):
        return f"a JSON {type(decoded).__name__}, not the JSON trace object"
    if decoded and set(decoded) <= set(classes):
        return "a bare distribution (class code -> probability) without the reasoning stages"
    return None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from([0.25, 1.0]) | st.sampled_from(CLASSES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*CLASSES, "acoustic", "x"]), inner),
    max_leaves=6,
)
_json_text = _json_values.map(json.dumps)
_body = st.one_of(
    _json_text,
    _json_text.flatmap(lambda t: st.integers(0, len(t)).map(lambda k: t[:k])),  # cut off: broken JSON
    st.sampled_from(["", "  ", "I cannot tell.", "<acoustic>a</acoustic><distribution>{}</distribution>", "{ }}{"]),
)
_answers = st.builds(
    lambda prose, body, fence, tail: f"```{fence}\n{body}\n```" if fence is not None else f"{prose}{body}{tail}",
    st.sampled_from(["", "Here is the trace:\n", "{", "} "]),
    _body,
    st.none() | st.sampled_from(["", "json"]),
    st.sampled_from(["", "\nHope this helps.", " }", " {"]),
)


@settings(max_examples=400, deadline=None)
@given(_answers)
def test_an_answer_decoded_once_reads_as_decoding_it_every_time(text: str) -> None:
    answer = Answer.read(text)
    assert answer.body == _reference_json(text) == response_json(text)
    try:
        expected: Any = json.loads(answer.body)
    except json.JSONDecodeError:
        assert not isinstance(answer.value, (dict, list, str, int, float, bool, type(None)))
    else:
        assert answer.value == expected
    assert answer.wrong_shape(CLASSES) == _reference_shape(text, CLASSES) == wrong_shape(text, CLASSES)


def _utterance(distribution: dict[str, float], transcript: str | None = "I can't believe it.") -> Utterance:
    return Utterance(
        id="u1",
        corpus="test",
        audio="/data/u1.wav",
        transcript=transcript,
        vote_counts={"neu": 1, "ang": 3},
        distribution=distribution,
        majority=majority_of(distribution),
        n_annotators=4,
    )


def test_an_answer_validates_as_its_json_part_did() -> None:
    item = Item(_utterance({"neu": 0.25, "hap": 0.0, "ang": 0.75, "sad": 0.0}), 0, "rationalize")
    good = write_trace("u1", "Fine.", item.utterance.distribution, {"pitch": "low"}, "rationalize", 0)
    for text in (good.model_dump_json(), f"```json\n{good.model_dump_json()}\n```", f"So: {good.model_dump_json()}"):
        assert Answer.read(text).trace(item) == parse_answer(text, item) == good
    for broken in ("I cannot tell.", good.model_dump_json()[:-3], "{ not json }"):
        with pytest.raises(json.JSONDecodeError) as decoding:
            json.loads(_reference_json(broken))
        with pytest.raises(TraceError) as info:
            Answer.read(broken).trace(item)
        error = decoding.value
        assert (info.value.reason, info.value.detail) == (
            "malformed_json",
            f"not JSON ({error.msg} at line {error.lineno} column {error.colno})",
        )


# --- the trace, printed and scored once --------------------------------------------------------------------------


def _reference_problem(
    item: Item, trace: Any, measured: dict[str, str | None], checks: Checks, shown: str
) -> tuple[str, str] | None:
    """The content checks as written before: each printing and scoring the trace itself."""
    mismatch = gold_mismatch(item, trace, checks.gold_tolerance)
    if mismatch is not None:
        return "distribution_mismatch", mismatch
    shown_trace = printed(trace)
    broken = trace_violations(shown_trace, checks.min_coherence)
    if broken:
        return "inconsistent", inconsistent_detail(broken)
    if item.mode == "rationalize":
        leaks = trace_leaks(shown_trace, item.utterance.distribution, item.utterance.transcript, shown)
        if leaks:
            return "leaks_target", leak_detail(leaks)
    record = trace_record(item, trace, "template", REF, measured, Usage())
    assert record.faithfulness_parts == faithfulness_parts(shown_trace, measured)
    why = unfaithful_detail(record, checks.min_faithfulness, measured)
    return None if why is None else ("unfaithful", why)


def _levels(cue: str) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(INTONATION_LEVELS if cue == "intonation" else LEVELS)


_level_maps = st.fixed_dictionaries({cue: _levels(cue) for cue in ACOUSTIC_CUES})
_distributions = (
    st.lists(st.integers(0, 8), min_size=4, max_size=4)
    .filter(any)
    .map(lambda counts: {code: n / sum(counts) for code, n in zip(CLASSES, counts)})
)


@settings(max_examples=250, deadline=None)
@given(
    human=_distributions,
    answered=st.none() | _distributions,
    cited=_level_maps,
    measured=_level_maps,
    sample=st.sampled_from([0, 1]),
    minimum=st.sampled_from([None, 0.5, 0.9]),
    coherence=st.sampled_from([None, MIN_COHERENCE, 0.95]),
    tolerance=st.sampled_from([0.0, 0.01]),
    shown=st.sampled_from(["", "pitch z 1.20"]),
)
def test_printing_and_scoring_once_gives_every_check_and_the_record_unchanged(
    human: dict[str, float],
    answered: dict[str, float] | None,
    cited: dict[str, str | None],
    measured: dict[str, str | None],
    sample: int,
    minimum: float | None,
    coherence: float | None,
    tolerance: float,
    shown: str,
) -> None:
    item = Item(_utterance(human), sample, "rationalize" if sample == 0 else "predict")
    trace = write_trace("u1", item.utterance.transcript, answered or human, cited, "rationalize", 0)
    checks = Checks(tolerance, minimum, coherence)
    once = Printed.of(trace, measured)
    assert content_problem(item, once, measured, checks, shown) == _reference_problem(
        item, trace, measured, checks, shown
    )
    record = trace_record(item, trace, "template", REF, measured, Usage())
    assert once.trace == record.trace == printed(trace)
    assert once.parts == record.faithfulness_parts == faithfulness_parts(printed(trace), measured)
    assert once.coherence == record.coherence == trace_coherence(printed(trace))


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ('{"acoustic": ' + "1" * 5000 + "}", "a number of more than"),
        ('{"acoustic": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ],
    ids=["huge-integer", "deep-nesting"],
)
def test_json_python_will_not_read_is_a_malformed_answer_not_a_crash(
    tmp_path: Path, cache: Path, answer: str, detail: str
) -> None:
    """An answer json.loads refuses with ValueError or RecursionError (not JSONDecodeError) is malformed_json:
    repaired, then rejected, like any broken JSON; it used to end the build with a traceback."""
    with LoopbackServer(responder=lambda body, classes: answer) as srv:
        summary = run_build(
            BuildConfig(
                teacher="openai:loopback",
                base_url=srv.base_url,
                out=tmp_path / "run",
                cache=cache,
                limit=1,
                progress=False,
                timeout=5.0,
                backoff_base=0.02,
            )
        )
        assert len(srv.chat_requests) == 3  # the first answer and two repair turns
    assert summary.reject_reasons == {"malformed_json": 1}
    reject = RejectRecord.model_validate_json((tmp_path / "run" / "rejects.jsonl").read_text())
    assert detail in reject.detail and reject.attempts == 3
    assert Answer.read(answer).wrong_shape(CLASSES) is None  # broken JSON tries to be a trace: it gets its repairs
