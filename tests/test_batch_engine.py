"""The batch engine on its own: file formats, split files, result rows, prices, and the library use ``predict`` makes.

Pure parts are property-tested; the engine itself runs against the loopback Batch API with the
real ``openai`` client, driven with plain ``(custom_id, body)`` requests as any caller would.
"""

from __future__ import annotations

import json
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from batch_server import BatchPlan, BatchServer
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from cotgen.build.batch_build import custom_id, parse_custom_id
from cotgen.build.cost import batch_prices, prices_for
from cotgen.build.run import BuildConfig, run_build
from cotgen.core.errors import CotgenError
from cotgen.teachers.batch import Answered, BatchEngine, BatchRequest, BatchSettings, Failed
from cotgen.teachers.batch.lines import ShardWriter, parse_result_line, request_line
from cotgen.teachers.openai_teacher import TeacherConfig, raw_answers

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 64}},
}


def row(**fields: object) -> bytes:
    return json.dumps({"id": "batch_req_1", "custom_id": "u#0#1", **fields}).encode()


def test_result_rows_of_both_layouts_and_every_kind_of_error() -> None:
    current = row(response={"status_code": 200, "request_id": "r", "body": COMPLETION}, error=None)
    bare = row(response=COMPLETION, error=None)
    assert parse_result_line(current, "f:1") == ("u#0#1", Answered("u#0#1", COMPLETION))
    assert parse_result_line(bare, "f:1") == ("u#0#1", Answered("u#0#1", COMPLETION))
    limited = row(response={"status_code": 429, "request_id": "r", "body": {"error": {"message": "slow down"}}})
    _, outcome = parse_result_line(limited, "f:1")
    assert outcome == Failed("u#0#1", "rate_limited", "batch row HTTP 429: slow down")
    bad = row(response={"status_code": 400, "request_id": "r", "body": {"object": "error", "message": "bad"}})
    assert parse_result_line(bad, "f:1")[1] == Failed("u#0#1", "request_refused", "batch row HTTP 400: bad")
    flagged = row(response=None, error={"code": "invalid_prompt", "message": "flagged"})
    assert parse_result_line(flagged, "f:1")[1] == Failed(
        "u#0#1", "server_error", "batch row error invalid_prompt: flagged"
    )
    for code in ("batch_expired", "batch_cancelled"):
        assert parse_result_line(row(response=None, error={"code": code, "message": "m"}), "f:1") == ("u#0#1", None)
    # vllm run-batch's failed request: a 400 without a body, the message as a plain string in ``error``.
    vllm = row(response={"status_code": 400, "request_id": "r", "body": None}, error="model not found")
    expected = Failed("u#0#1", "request_refused", "batch row HTTP 400: model not found")
    assert parse_result_line(vllm, "f:1")[1] == expected
    older = row(response=None, error="engine died")
    assert parse_result_line(older, "f:1")[1] == Failed("u#0#1", "server_error", "batch row error engine died")
    empty = parse_result_line(row(response=None, error=None), "f:1")[1]
    assert isinstance(empty, Failed) and "neither a response nor an error" in empty.detail


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"not json", r"results.jsonl:7: not JSON"),
        (b'{"response": {}}', r"results.jsonl:7: not a batch result row"),
        (b'{"custom_id": "a", "response": {"body": {}}}', r"results.jsonl:7: response without an integer status_code"),
    ],
)
def test_a_line_that_is_not_a_result_row_is_named(line: bytes, expected: str) -> None:
    with pytest.raises(CotgenError, match=expected):
        parse_result_line(line, "results.jsonl:7")


def test_a_batch_answer_keeps_the_cached_prompt_tokens() -> None:
    raws = raw_answers(COMPLETION, [])
    assert (
        raws is not None and raws[0]["usage"]["cached_prompt_tokens"] == 64 and raws[0]["usage"]["prompt_tokens"] == 100
    )


@given(
    st.lists(st.integers(min_value=0, max_value=300), max_size=60),
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=500, max_value=2_000),
)
@settings(max_examples=60, deadline=None)
def test_split_files_keep_every_request_once_in_order_within_both_limits(
    padding: list[int], max_requests: int, max_bytes: int
) -> None:
    requests = [
        BatchRequest(f"r{i}", {"model": "m", "messages": [{"role": "user", "content": "x" * n}]})
        for i, n in enumerate(padding)
    ]
    with tempfile.TemporaryDirectory() as folder:
        writer = ShardWriter(Path(folder), "p", max_requests=max_requests, max_bytes=max_bytes)
        for request in requests:
            writer.add(request)
        shards = writer.close()
        assert [cid for shard in shards for cid in shard.custom_ids] == [r.custom_id for r in requests]
        for shard in shards:
            content = shard.path.read_bytes()
            assert len(shard.custom_ids) <= max_requests and len(content) == shard.size <= max_bytes
            assert [json.loads(line)["custom_id"] for line in content.splitlines()] == shard.custom_ids
        # Greedy: a file was closed only because the next line would have broken a limit.
        sizes = {r.custom_id: len(request_line(r)) for r in requests}
        for shard, following in zip(shards, shards[1:]):
            assert len(shard.custom_ids) == max_requests or shard.size + sizes[following.custom_ids[0]] > max_bytes


def test_a_request_larger_than_a_batch_file_is_a_user_error(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path, "p", max_bytes=100)
    with pytest.raises(CotgenError, match="more than a batch file may hold"):
        writer.add(BatchRequest("big", {"messages": [{"role": "user", "content": "x" * 200}]}))


@given(st.text(min_size=1, max_size=30), st.integers(0, 99), st.integers(1, 9))
def test_custom_ids_name_the_item_and_turn_even_when_ids_hold_the_separator(
    utterance: str, sample: int, turn: int
) -> None:
    assert parse_custom_id(custom_id((utterance, sample), turn)) == ((utterance, sample), turn)


def test_batch_prices_are_half_the_table_and_cached_tokens_are_discounted() -> None:
    sync, batch = prices_for("gpt-4o-2024-08-06"), batch_prices("gpt-4o")
    assert sync is not None and batch is not None
    assert (batch.input_per_million, batch.output_per_million, batch.cached_input_per_million) == (1.25, 5.0, 0.625)
    assert sync.cost(10**6, 0, cached_in=10**6) == pytest.approx(1.25)  # all prompt tokens from the cache
    assert batch.cost(10**6, 10**6, cached_in=0) == pytest.approx(sync.cost(10**6, 10**6) / 2)
    own = batch_prices("gpt-4o", price_in=1.0, price_out=2.0)  # the user's own rates are used as given
    assert own is not None and (own.input_per_million, own.output_per_million) == (1.0, 2.0)
    assert own.cost(100, 0, cached_in=100) == pytest.approx(100 / 10**6)  # no discount assumed
    assert batch_prices("my-local-llama") is None and prices_for("gpt-4.1-audio-x") is None


def test_the_engine_as_a_library_splits_files_and_matches_rows_by_custom_id(tmp_path: Path) -> None:
    """How ``cotgen predict`` (or any caller) uses the engine: requests in, answers/failures/not-run out."""
    requests = [
        BatchRequest(f"p{i}", {"model": "m", "messages": [{"role": "user", "content": f"Classes: neu, ang. {i}"}]})
        for i in range(7)
    ]
    plans = [BatchPlan(shuffle=True), BatchPlan(server_errors=frozenset({0})), BatchPlan(end="expired", answered=0)]
    with BatchServer(batch_plans=plans) as srv:
        engine = BatchEngine(
            TeacherConfig(model="m", base_url=srv.base_url, backoff_base=0.01),
            tmp_path,
            BatchSettings(poll_interval=0.01, max_requests=3),
        )
        writer = engine.open_round()
        for request in requests:
            writer.add(request)
        entries = engine.record_round(writer)
        assert [len(e.custom_ids) for e in entries] == [3, 3, 1]
        assert engine.outstanding() == {r.custom_id for r in requests}
        engine.wait()
        collected = engine.collect(engine.finished())
        engine.mark_collected(collected.entries)
    assert set(collected.answers) == {"p0", "p1", "p2", "p4", "p5"}
    assert set(collected.failures) == {"p3"} and collected.not_run == {"p6"}
    assert all(collected.digests[cid] for cid in collected.answers)
    assert not engine.outstanding() and not engine.finished()
    assert dict(srv.submitted) == {r.custom_id: 1 for r in requests}


def test_polls_back_off_while_nothing_changes(tmp_path: Path) -> None:
    delays: list[float] = []
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:

        def sleep(seconds: float) -> None:
            delays.append(seconds)
            if len(delays) == 6:
                srv.release()

        engine = BatchEngine(
            TeacherConfig(model="m", base_url=srv.base_url),
            tmp_path,
            BatchSettings(poll_interval=1.0, poll_cap=4.0),
            sleep=sleep,
        )
        writer = engine.open_round()
        writer.add(BatchRequest("only", {"model": "m", "messages": [{"role": "user", "content": "Classes: neu, ang"}]}))
        engine.record_round(writer)
        engine.wait()
    # validating -> in_progress is a change (poll again soon); then nothing changes while held: 1.5x up to the cap.
    assert delays == [1.0, 1.5, 2.25, 3.375, 4.0, 4.0]
    assert [e.state for e in engine.finished()] == ["finished"]


def test_the_build_shows_each_batch_with_its_status_and_counts(tmp_path: Path) -> None:
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with BatchServer() as srv:
        run_build(
            BuildConfig(
                teacher="openai:m",
                base_url=srv.base_url,
                out=tmp_path / "run",
                cache=tmp_path / "cache",
                limit=2,
                batch=True,
                batch_poll=0.01,
                workers=1,
            ),
            console=console,
        )
    text = out.getvalue()
    assert "batch batch-" in text and "completed: 2/2 completed, 0 failed" in text


def test_run_rounds_asks_until_every_request_is_answered_or_failed(tmp_path: Path) -> None:
    """The whole loop a caller such as ``cotgen predict`` needs: one step function, rows in, requests out."""
    requests = {
        f"q{i}": {"model": "m", "messages": [{"role": "user", "content": f"Classes: neu, ang. Item {i}"}]}
        for i in range(6)
    }
    answers: dict[str, dict] = {}
    failures: dict[str, str] = {}

    def step(collected, add) -> set[str]:  # type: ignore[no-untyped-def]
        answers.update(collected.answers)
        failures.update({cid: failed.reason for cid, failed in collected.failures.items()})
        for cid, body in requests.items():
            if cid not in answers and cid not in failures:
                add(BatchRequest(cid, body))
        return set()  # every row taken over

    plans = [BatchPlan(end="expired", answered=3, shuffle=True, rate_limited=frozenset({1}))]
    with BatchServer(batch_plans=plans) as srv:
        engine = BatchEngine(
            TeacherConfig(model="m", base_url=srv.base_url), tmp_path, BatchSettings(poll_interval=0.01)
        )
        report = engine.run_rounds(step)
    assert report.rounds == 3 and report.stopped is None and report.not_run == 3
    assert failures == {"q1": "rate_limited"} and set(answers) == set(requests) - {"q1"}
    assert all(answers[cid]["choices"][0]["message"]["content"] for cid in answers)
    first = [line["custom_id"] for line in srv.batches[sorted(srv.batches)[0]].lines]
    assert dict(srv.submitted) == {cid: 1 if cid in first[:3] else 2 for cid in requests}
