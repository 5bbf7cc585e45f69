"""The pieces under the build: crash-safe record files, the done-state, item planning, answer parsing, prices, log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.build.cost import prices_for
from cotgen.build.outcome import (
    Item,
    mode_of,
    parse_answer,
    reject_record,
    response_json,
    sample_numbers,
    trace_record,
)
from cotgen.build.run import sft_records
from cotgen.build.state import RunState
from cotgen.core.durable_files import JsonlAppender, recover_jsonl
from cotgen.core.errors import CotgenError
from cotgen.core.id_index import encode_ids
from cotgen.core.run_log import run_log
from cotgen.records.run_records import RejectRecord, TemplateRef, TraceRecord, Usage
from cotgen.records.trace import TraceError
from cotgen.records.utterance import Utterance
from cotgen.teachers.template import write_trace

CLASSES = ["neu", "hap", "ang", "sad"]


def _utterance(uid: str, transcript: str | None = "Fine.") -> Utterance:
    return Utterance(
        id=uid,
        corpus="test",
        audio=f"/data/{uid}.wav",
        transcript=transcript,
        vote_counts={"neu": 1, "ang": 3},
        distribution={"neu": 0.25, "hap": 0.0, "ang": 0.75, "sad": 0.0},
        majority="ang",
        n_annotators=4,
    )


def _reject(uid: str, sample: int = 0) -> RejectRecord:
    return reject_record(Item(_utterance(uid), sample, "rationalize"), "teacher", "timeout", "slow", 1)


def _trace(uid: str, sample: int = 0, classes: list[str] = CLASSES) -> TraceRecord:
    utt = _utterance(uid)
    if classes != CLASSES:
        utt = utt.model_copy(update={"distribution": dict.fromkeys(classes, 1 / len(classes)), "majority": None})
    item = Item(utt, sample, "rationalize" if sample == 0 else "predict")
    trace = write_trace(uid, utt.transcript, utt.distribution, {"pitch": "high"}, item.mode, sample)
    return trace_record(item, trace, "template", TemplateRef(name="t", sha256="0" * 64), {"pitch": "high"}, Usage())


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), cut=st.integers(0, 10_000))
def test_a_file_cut_anywhere_recovers_to_a_prefix_and_appends_cleanly(tmp_path_factory, n: int, cut: int) -> None:
    path = tmp_path_factory.mktemp("cut") / "rejects.jsonl"
    records = [_reject(f"u{i}") for i in range(n)]
    with JsonlAppender(path) as out:
        for record in records:
            out.write(record)
    data = path.read_bytes()
    path.write_bytes(data[: cut % (len(data) + 1)])
    recovered = recover_jsonl(path, RejectRecord)
    assert recovered == records[: len(recovered)]
    assert path.read_bytes() == b"".join(data.splitlines(keepends=True)[: len(recovered)])
    with JsonlAppender(path) as out:
        out.write(_reject("extra"))
    assert recover_jsonl(path, RejectRecord) == [*recovered, _reject("extra")]


def test_a_bad_line_before_the_end_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rejects.jsonl"
    path.write_text(_reject("a").model_dump_json() + '\n{"id": 3}\n' + _reject("b").model_dump_json() + "\n")
    with pytest.raises(CotgenError, match=r"rejects\.jsonl:2: not a valid RejectRecord line"):
        recover_jsonl(path, RejectRecord)


def test_state_keeps_the_trace_when_an_item_is_in_both_files(tmp_path: Path) -> None:
    with JsonlAppender(tmp_path / "traces.jsonl") as out:
        out.write(_trace("a"))
        out.write(_trace("a"))
    with JsonlAppender(tmp_path / "rejects.jsonl") as out:
        for record in (_reject("a"), _reject("b"), _reject("b")):
            out.write(record)
    state = RunState(tmp_path, CLASSES)
    assert state.done == {("a", 0), ("b", 0)}
    assert len(recover_jsonl(tmp_path / "traces.jsonl", TraceRecord)) == 1
    assert recover_jsonl(tmp_path / "rejects.jsonl", RejectRecord) == [_reject("b")]
    assert state.release_rejects([("b", 0), ("c", 0)]) == 1
    assert (tmp_path / "rejects.jsonl").read_text() == ""
    with state:
        state.record(_reject("c"))
        state.record(_trace("b"))
    assert state.new == {"traces": 1, "rejects": 1} and state.new_reasons == {"timeout": 1}
    assert RunState(tmp_path, CLASSES).done == {("a", 0), ("b", 0), ("c", 0)}


def test_state_refuses_traces_of_another_class_set_or_shape(tmp_path: Path) -> None:
    with JsonlAppender(tmp_path / "traces.jsonl") as out:
        out.write(_trace("a", classes=["neu", "ang"]))
    with pytest.raises(CotgenError, match=r"traces\.jsonl:1: built with classes \['neu', 'ang'\]"):
        RunState(tmp_path, CLASSES)
    (tmp_path / "traces.jsonl").write_text('{"id": "a", "sample": "0"}\n' + _trace("b").model_dump_json() + "\n")
    with pytest.raises(CotgenError, match=r"traces\.jsonl:1: not a trace record"):
        RunState(tmp_path, CLASSES)


def test_sample_numbers_and_modes_of_gold_and_samples() -> None:
    assert [(n, mode_of(n)) for n in sample_numbers(2, "both")] == [(0, "rationalize"), (1, "predict"), (2, "predict")]
    assert sample_numbers(2, "predict") == [1, 2]
    assert sample_numbers(3, "rationalize") == [0]


def test_answers_are_read_through_fences_and_prose() -> None:
    body = '{"a": 1}'
    assert response_json(body) == body
    assert response_json(f"```json\n{body}\n```") == body
    assert response_json(f"Here is the trace:\n{body}\nHope this helps.") == body
    assert response_json("no json here") == "no json here"
    item = Item(_utterance("a"), 0, "rationalize")
    good = write_trace("a", "Fine.", item.utterance.distribution, {"pitch": "low"}, "rationalize", 0)
    assert parse_answer(f"```json\n{good.model_dump_json()}\n```", item) == good
    with pytest.raises(TraceError) as info:
        parse_answer("I cannot tell.", item)
    assert info.value.reason == "malformed_json"


def test_trace_record_scores_the_printed_distribution() -> None:
    utt = _utterance("a")
    item = Item(utt, 1, "predict")
    trace = write_trace("a", "Fine.", {"neu": 0.333, "hap": 0.333, "ang": 0.334, "sad": 0.0}, {}, "rationalize", 0)
    record = trace_record(item, trace, "template", TemplateRef(name="t", sha256="0" * 64), {}, Usage())
    assert record.distribution == {"neu": 0.33, "hap": 0.33, "ang": 0.34, "sad": 0.0}
    assert record.text.endswith('<distribution>{"neu": 0.33, "hap": 0.33, "ang": 0.34, "sad": 0.00}</distribution>')
    assert record.js > 0 and record.kl > 0 and record.faithfulness is None


def test_prices_come_from_options_or_the_table() -> None:
    assert prices_for(None).cost(10**6, 10**6) == 0.0
    assert prices_for("gpt-4o-mini").cost(10**6, 10**6) == pytest.approx(0.75)
    assert prices_for("gpt-4o-2024-08-06") == prices_for("gpt-4o")
    assert prices_for("my-local-llama") is None
    assert prices_for("my-local-llama", price_in=1.0).cost(10**6, 10**6) == pytest.approx(1.0)
    assert prices_for("gpt-4o", price_out=1.0).cost(0, 10**6) == pytest.approx(1.0)


def test_run_log_blanks_secrets_for_every_handler(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = logging.getLogger("cotgen").level
    with caplog.at_level(logging.INFO, logger="cotgen"), run_log(tmp_path, secrets=["sk-secret-123"]) as log:
        log.getChild("build").info("server said: bad key %s", "sk-secret-123")
    text = (tmp_path / "cotgen.log").read_text()
    assert "bad key ***" in text and "sk-secret-123" not in text
    assert "bad key ***" in caplog.text and "sk-secret-123" not in caplog.text
    assert logging.getLogger("cotgen").level == before


def test_sft_answer_ends_in_the_human_distribution_even_when_the_gold_rounded_differently() -> None:
    utt = _utterance("a")
    gold = _trace("a").model_copy(update={"distribution": {"neu": 0.3, "hap": 0.0, "ang": 0.7, "sad": 0.0}})
    gold = gold.model_copy(update={"trace": gold.trace.model_copy(update={"distribution": gold.distribution})})
    predict = _trace("a", sample=1)
    [record] = sft_records([utt, _utterance("b")], [predict, gold])
    answer = record.completion[0]["content"]
    assert answer.endswith('<distribution>{"neu": 0.25, "hap": 0.00, "ang": 0.75, "sad": 0.00}</distribution>')
    assert answer.startswith(gold.text.split("<distribution>")[0])
    assert record.prompt[1]["content"][0] == {"type": "audio", "audio": "/data/a.wav"}


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True),
    samples=st.data(),
    tracked=st.booleans(),
)
def test_recorded_traces_are_done_and_released_like_traces_read_from_the_file(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], samples: st.DataObject, tracked: bool
) -> None:
    # Traces recorded by this run are kept as bits over the corpus ids and sample numbers once the state tracks
    # them, else (and for keys outside that grid: sample 12 here) packed (id NUL sample), not as tuples: any id,
    # NULs included, must come back as the same key, be done, and be released (its line taken out of
    # traces.jsonl) like the rest.
    tmp_path = tmp_path_factory.mktemp("state")
    keys = [(uid, samples.draw(st.integers(0, 12))) for uid in ids]
    state = RunState(tmp_path, CLASSES)
    if tracked:
        state.track(encode_ids([*ids, "never recorded"]), list(range(12)))
    with state:
        for uid, sample in keys:
            state.record(_trace(uid, sample))
    assert state.done == set(keys)
    assert all(state.is_done(key) for key in keys)
    assert not state.is_done((ids[0] + "\x00", keys[0][1])) and not state.is_done((ids[0], keys[0][1] + 13))
    assert state.release([keys[0]]) == 1
    assert not state.is_done(keys[0]) and state.done == set(keys[1:])
    assert RunState(tmp_path, CLASSES).done == set(keys[1:])


def test_tracking_starts_before_anything_is_recorded(tmp_path: Path) -> None:
    state = RunState(tmp_path, CLASSES)
    with state:
        state.record(_trace("a"))
        with pytest.raises(RuntimeError, match="after a trace was recorded"):
            state.track(encode_ids(["a"]), [0])
