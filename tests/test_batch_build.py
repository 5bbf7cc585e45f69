"""``cotgen build --batch`` against the loopback Batch API, through the real ``openai`` client.

Every test asserts the two promises of batch mode: every item ends exactly once (a trace or a
reject with its reason), and no request is submitted twice except one a batch never ran (expired,
cancelled), which is submitted exactly once more. The server counts every custom_id it was given.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import CREATE_THEN_500, CREATE_THEN_HANG, RATE_LIMIT, UNAUTHORIZED, BatchPlan, BatchServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback_server import LoopbackServer
from typer.testing import CliRunner

from cotgen.build.batch_build import custom_id, parse_custom_id
from cotgen.build.run import BuildConfig, BuildSummary, run_build
from cotgen.build.state import RunState
from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.records.run_records import RejectRecord, TraceRecord
from cotgen.teachers.batch.journal import BATCHES_DIR, Journal
from cotgen.teachers.response_cache import canonical_json

UTTERANCES = 4  # --limit of every build here
SAMPLES = 1  # so 8 items: gold and one predict sample per utterance
ITEMS = UTTERANCES * (SAMPLES + 1)
MODEL = "gpt-4o-mini"


def config(srv: LoopbackServer, out: Path, cache: Path, **options: object) -> BuildConfig:
    settings: dict[str, object] = {
        "base_url": srv.base_url,
        "limit": UTTERANCES,
        "samples": SAMPLES,
        "batch": True,
        "batch_poll": 0.01,
        "timeout": 5.0,
        "backoff_base": 0.01,
    }
    settings.update(options)
    return BuildConfig(teacher=f"openai:{MODEL}", out=out, cache=cache, progress=False, **settings)  # type: ignore[arg-type]


def build(srv: LoopbackServer, out: Path, cache: Path, **options: object) -> BuildSummary:
    return run_build(config(srv, out, cache, **options))


def outcomes(out: Path) -> tuple[list[TraceRecord], list[RejectRecord]]:
    def read(name: str) -> list[str]:
        path = out / name
        return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    traces = [TraceRecord.model_validate_json(line) for line in read("traces.jsonl")]
    rejects = [RejectRecord.model_validate_json(line) for line in read("rejects.jsonl")]
    return traces, rejects


def assert_each_item_once(out: Path) -> tuple[list[TraceRecord], list[RejectRecord]]:
    traces, rejects = outcomes(out)
    keys = [(r.id, r.sample) for r in [*traces, *rejects]]
    assert len(keys) == len(set(keys)) == ITEMS, Counter(keys)
    return traces, rejects


def first_turns(srv: BatchServer) -> set[str]:
    return {custom_id((f"demo_spk1_{n:02d}", s), 1) for n in range(1, UTTERANCES + 1) for s in range(SAMPLES + 1)}


def test_a_batch_build_sends_the_synchronous_requests_once_and_prices_them_at_half(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(shuffle=True)]) as srv:
        summary = build(srv, tmp_path / "batch", cache)
        rerun = build(srv, tmp_path / "batch", cache)
    traces, rejects = assert_each_item_once(tmp_path / "batch")
    assert len(traces) == ITEMS and not rejects
    assert srv.submitted == Counter(first_turns(srv))  # each once, turn 1, shuffled rows matched by custom_id
    assert not srv.chat_requests and srv.creates == 1
    assert rerun.skipped == ITEMS and srv.creates == 1  # the rerun finds everything done

    # Each line's body is exactly what the synchronous client sends for the same item.
    with LoopbackServer() as sync_srv:
        run_build(
            BuildConfig(
                teacher=f"openai:{MODEL}",
                base_url=sync_srv.base_url,
                out=tmp_path / "sync",
                cache=tmp_path / "sync-cache",
                limit=UTTERANCES,
                samples=SAMPLES,
                progress=False,
                workers=1,
            )
        )
        sync_bodies = sorted(canonical_json(r.body) for r in sync_srv.chat_requests)
    lines = [
        json.loads(line)
        for f in sorted((tmp_path / "batch" / BATCHES_DIR).glob("cotgen-*-1.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
    assert sorted(canonical_json(line["body"]) for line in lines) == sync_bodies
    # The system message and the schema are the same first part of every request (prompt caches can hit).
    assert len({canonical_json([line["body"]["messages"][0], line["body"]["response_format"]]) for line in lines}) == 1

    usage = summary.usage
    assert usage["requests"] == ITEMS and usage["cached_prompt_tokens"] > 0
    run_json = json.loads((tmp_path / "batch" / "run.json").read_text())
    cost = run_json["cost"]
    assert cost["rate"] == "batch"
    assert cost["price_in_per_million"] == pytest.approx(0.075) and cost["price_out_per_million"] == pytest.approx(0.30)
    uncached = usage["prompt_tokens"] - usage["cached_prompt_tokens"]
    expected = (uncached * 0.075 + usage["cached_prompt_tokens"] * 0.0375 + usage["completion_tokens"] * 0.30) / 1e6
    assert summary.cost_usd == pytest.approx(expected)


def test_invalid_answers_are_repaired_in_a_follow_up_round(tmp_path: Path, cache: Path) -> None:
    plans = [BatchPlan(shuffle=True, malformed=frozenset({0, 3})), BatchPlan(malformed=frozenset({0}))]
    with BatchServer(batch_plans=plans) as srv:
        summary = build(srv, tmp_path, cache, repairs=1)
    traces, rejects = assert_each_item_once(tmp_path)
    assert [r.reason for r in rejects] == ["malformed_json"] and rejects[0].attempts == 2
    assert len(traces) == ITEMS - 1
    turn_two = [cid for cid in srv.submitted if parse_custom_id(cid)[1] == 2]
    assert len(turn_two) == 2 and set(srv.submitted.values()) == {1}
    assert summary.usage["batch"]["rounds"] == 3 and srv.creates == 2
    # The repair line carries the invalid answer and the validation error after the first request.
    second = srv.batches[sorted(srv.batches)[1]].lines
    assert all(line["body"]["messages"][2]["role"] == "assistant" for line in second)


def test_error_rows_and_non_200_responses_become_rejects_with_their_reason(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-QUOTED-9876543210"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    plan = BatchPlan(server_errors=frozenset({1}), rate_limited=frozenset({4}), error_objects=frozenset({6}))
    with BatchServer(batch_plans=[plan]) as srv:
        build(srv, tmp_path, cache)
        traces, rejects = assert_each_item_once(tmp_path)
        assert sorted(r.reason for r in rejects) == ["rate_limited", "server_error", "server_error"]
        details = " ".join(r.detail for r in rejects)
        assert "HTTP 500" in details and "HTTP 429" in details and "invalid_prompt" in details and "***" in details
        for path in tmp_path.rglob("*"):  # the error row quoted the key: not in the rejects, nor the copy of the file
            if path.is_file() and path.suffix in (".json", ".jsonl", ".log"):
                assert secret not in path.read_text(encoding="utf-8"), path
        assert set(srv.submitted.values()) == {1} and srv.creates == 1
        # Those reasons are server faults (issue 22 item 2): a plain rerun asks the three items again, in one batch.
        rerun = build(srv, tmp_path, cache)
        assert srv.creates == 2 and rerun.skipped == ITEMS - 3 and (rerun.traces, rerun.rejects) == (ITEMS, 0)


def test_an_expired_batch_keeps_its_results_and_sends_only_the_rest_again(tmp_path: Path, cache: Path) -> None:
    # Five of eight answered; of the other three, the error file names none (expired_rows=False): in neither file.
    plans = [BatchPlan(end="expired", answered=5, expired_rows=False, shuffle=True)]
    with BatchServer(batch_plans=plans) as srv:
        summary = build(srv, tmp_path, cache)
    traces, _ = assert_each_item_once(tmp_path)
    assert len(traces) == ITEMS
    first = srv.batches[sorted(srv.batches)[0]].lines
    not_run = {line["custom_id"] for line in first[5:]}
    assert {cid for cid, n in srv.submitted.items() if n == 2} == not_run
    assert {cid for cid, n in srv.submitted.items() if n == 1} == first_turns(srv) - not_run
    assert summary.usage["batch"]["not_run"] == 3


def test_batch_expired_error_rows_are_not_rejects(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(end="expired", answered=2)]) as srv:
        build(srv, tmp_path, cache)
    traces, rejects = assert_each_item_once(tmp_path)
    assert len(traces) == ITEMS and not rejects
    assert sum(1 for n in srv.submitted.values() if n == 2) == ITEMS - 2


def test_a_round_whose_batches_all_expire_empty_stops_and_a_rerun_sends_again(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(end="expired", answered=0)]) as srv:
        summary = build(srv, tmp_path, cache)
        assert summary.traces == summary.rejects == 0  # nothing came back: stop rather than resubmit forever
        assert (
            "expired" in summary.usage["batch"]["stopped"]
            and "8 requests stay to do" in summary.usage["batch"]["stopped"]
        )
        assert srv.creates == 1 and not Journal(tmp_path / BATCHES_DIR).outstanding()
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 2 and set(srv.submitted.values()) == {2}


def test_a_failed_batch_rejects_its_items_with_the_batch_errors(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(end="failed")]) as srv:
        build(srv, tmp_path, cache)
    _, rejects = assert_each_item_once(tmp_path)
    assert {r.reason for r in rejects} == {"server_error"} and len(rejects) == ITEMS
    assert "failed: invalid_request: The input file could not be read" in rejects[0].detail
    assert set(srv.submitted.values()) == {1}


def test_a_401_stops_with_one_line_and_a_rerun_with_a_good_key_goes_on(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with BatchServer(upload_faults=[UNAUTHORIZED]) as srv:
        with pytest.raises(CotgenError) as failure:
            build(srv, tmp_path, cache)
        message = str(failure.value)
        assert "HTTP 401" in message and "OPENAI_API_KEY" in message and secret not in message
        assert "\n" not in message
        assert srv.creates == 0 and not srv.submitted
        assert outcomes(tmp_path) == ([], [])
        assert len(Journal(tmp_path / BATCHES_DIR).outstanding()) == ITEMS  # recorded, to be sent by the rerun
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.submitted == Counter(first_turns(srv)) and srv.creates == 1
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".log"):
            assert secret not in path.read_text(encoding="utf-8"), path


def test_a_429_on_create_is_retried_without_a_second_batch(tmp_path: Path, cache: Path) -> None:
    with BatchServer(create_faults=[RATE_LIMIT, RATE_LIMIT]) as srv:
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 3 and len(srv.batches) == 1 and set(srv.submitted.values()) == {1}


def test_a_create_answered_500_that_did_create_the_batch_is_found_not_repeated(tmp_path: Path, cache: Path) -> None:
    with BatchServer(create_faults=[CREATE_THEN_500]) as srv:
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 1 and len(srv.batches) == 1 and set(srv.submitted.values()) == {1}
    assert len([r for r in srv.api_requests("/v1/batches") if r.method == "GET" and "?" in r.path]) >= 1  # listed


_CHILD = """
import sys
from pathlib import Path
from cotgen.build.run import BuildConfig, run_build
run_build(BuildConfig(teacher="openai:gpt-4o-mini", base_url=sys.argv[1], out=Path(sys.argv[2]),
                      cache=Path(sys.argv[3]), limit=4, samples=1, batch=True, batch_poll=0.01, timeout=60.0,
                      progress=False, workers=1))
"""


def _start_child(srv: LoopbackServer, out: Path, cache: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, srv.base_url, str(out), str(cache)], env={**os.environ, "PYTHONHASHSEED": "0"}
    )


def _kill_when(child: subprocess.Popen[bytes], ready: object) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and not ready():  # type: ignore[operator]
        time.sleep(0.02)
    assert child.poll() is None, "the build ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_a_batch_that_completes_while_the_build_is_killed_is_collected_not_resent(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "run"
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:
        child = _start_child(srv, out, cache)
        journal = Journal(out / BATCHES_DIR)
        _kill_when(child, lambda: any(e.status == "in_progress" for e in journal.entries()))
        srv.release()  # the batch completes while no build is running
        summary = build(srv, out, cache)
    traces, _ = assert_each_item_once(out)
    assert len(traces) == ITEMS and summary.new_traces == ITEMS
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}


def test_a_kill_between_create_and_recording_the_id_finds_the_batch_by_its_marker(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "run"
    with BatchServer(create_faults=[CREATE_THEN_HANG], hang_seconds=60) as srv:
        child = _start_child(srv, out, cache)
        _kill_when(child, lambda: bool(srv.batches))  # created on the server; the child never learns its id
        entries = Journal(out / BATCHES_DIR).entries()
        assert [e.state for e in entries] == ["written"] and entries[0].batch_id is None
        build(srv, out, cache)
    assert_each_item_once(out)
    assert srv.creates == 1 and len(srv.batches) == 1 and set(srv.submitted.values()) == {1}
    assert Journal(out / BATCHES_DIR).entries()[0].batch_id == next(iter(srv.batches))


def test_no_wait_submits_and_a_rerun_collects(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:
        first = build(srv, tmp_path, cache, batch_wait=False)
        assert first.traces == 0 and len(Journal(tmp_path / BATCHES_DIR).outstanding()) == ITEMS
        assert "without waiting" in first.usage["batch"]["stopped"]
        again = build(srv, tmp_path, cache, batch_wait=False)  # still running: nothing is sent again
        assert again.traces == 0 and srv.creates == 1
        srv.release()
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}


def test_batch_status_and_cancel_commands(tmp_path: Path, cache: Path) -> None:
    runner = CliRunner()
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:
        build(srv, tmp_path, cache, batch_wait=False)
        status = runner.invoke(get_app(), ["batch", "status", "--in", str(tmp_path)])
        assert status.exit_code == 0, status.output
        assert "in_progress" in status.output and "1 unfinished" in status.output
        cancel = runner.invoke(get_app(), ["batch", "cancel", "--in", str(tmp_path)])
        assert cancel.exit_code == 0, cancel.output
        assert next(iter(srv.batches.values())).data["status"] == "cancelling"
        # The next build collects the cancelled batch (nothing finished) and sends its requests again, once.
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 2 and set(srv.submitted.values()) == {2}


def test_batch_status_without_batches_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cotgen", "batch", "status", "--in", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "no batches recorded" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def offline_server() -> Iterator[BatchServer]:
    """Only its answer function is used: it stands in for vllm run-batch."""
    with BatchServer() as srv:
        yield srv


def _vllm_results(srv: BatchServer, requests: Path, results: Path, bare: bool, drop: int, fail: int) -> None:
    """What vllm run-batch writes for ``requests``: line ``drop`` missing, line ``fail`` an HTTP 400."""
    rows = []
    for number, line in enumerate(json.loads(raw) for raw in requests.read_text().splitlines()):
        if number == drop:
            continue
        completion = srv.batch_completion(number, line["body"])
        if number == fail:
            response = {"status_code": 400, "request_id": f"r{number}", "body": {"object": "error", "message": "bad"}}
        elif bare:
            response = completion
        else:
            response = {"status_code": 200, "request_id": f"r{number}", "body": completion}
        rows.append({"id": f"vllm-{number}", "custom_id": line["custom_id"], "response": response, "error": None})
    rows.reverse()  # order means nothing
    results.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.parametrize("bare", [False, True], ids=["status_code-body", "bare-response"])
def test_offline_files_for_vllm_run_batch(
    tmp_path: Path, cache: Path, offline_server: BatchServer, bare: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    options = {"base_url": None, "batch": False}

    def offline(**more: object) -> BuildSummary:
        return run_build(config(offline_server, out, cache, **options, **more))

    written = offline(batch_file_only=True)
    files = written.usage["batch"]["files"]
    assert len(files) == 1 and written.traces == written.rejects == 0
    _vllm_results(offline_server, Path(files[0]), tmp_path / "results.jsonl", bare, drop=2, fail=5)
    imported = offline(batch_results=tmp_path / "results.jsonl")
    traces, rejects = outcomes(out)
    assert len(traces) == ITEMS - 2 and [r.reason for r in rejects] == ["request_refused"]
    assert "HTTP 400" in rejects[0].detail
    # The dropped request is written again, alone, for the next vllm run.
    again = imported.usage["batch"]["files"]
    lines = [json.loads(raw) for raw in Path(again[0]).read_text().splitlines()]
    assert len(lines) == 1
    _vllm_results(offline_server, Path(again[0]), tmp_path / "results2.jsonl", bare, drop=-1, fail=-1)
    offline(batch_results=tmp_path / "results2.jsonl")
    assert_each_item_once(out)
    assert not offline_server.requests  # nothing ever went to a server


def test_results_rows_for_unknown_requests_are_ignored_and_bad_lines_named(
    tmp_path: Path, cache: Path, offline_server: BatchServer
) -> None:
    out = tmp_path / "run"
    base = {"base_url": None, "batch": False}
    run_build(config(offline_server, out, cache, batch_file_only=True, **base))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "nobody#0#1", "response": null, "error": {"message": "x"}}\nnot json\n')
    with pytest.raises(CotgenError, match=r"bad.jsonl:2: not a batch result object \(line contains invalid json"):
        run_build(config(offline_server, out, cache, batch_results=bad, **base))
    assert outcomes(out) == ([], [])


def test_dry_run_with_batch_estimates_half_the_synchronous_cost(tmp_path: Path, cache: Path) -> None:
    with BatchServer() as srv:
        batch = build(srv, tmp_path, cache, dry_run=True)
        sync = build(srv, tmp_path, cache, dry_run=True, batch=False)
    assert batch.dry_run is not None and sync.dry_run is not None
    assert batch.dry_run.cost_usd == pytest.approx(sync.dry_run.cost_usd / 2)
    assert not srv.requests and not (tmp_path / BATCHES_DIR).exists()


class _PromptCachingServer(LoopbackServer):
    """The synchronous route, reporting the system message's tokens as served from the prompt cache."""

    def _completion(self, index: int, body: dict, answers: list[tuple[str | None, str]], refused: bool) -> dict:
        completion = super()._completion(index, body, answers, refused)
        completion["usage"]["prompt_tokens_details"] = {"cached_tokens": 100}
        return completion


def test_a_synchronous_build_reports_and_prices_cached_prompt_tokens(tmp_path: Path, cache: Path) -> None:
    with _PromptCachingServer() as srv:
        summary = build(srv, tmp_path, cache, batch=False)
    usage = summary.usage
    assert usage["cached_prompt_tokens"] == 100 * ITEMS == 100 * usage["requests"]
    full = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60) / 1e6
    assert summary.cost_usd == pytest.approx(full - 100 * ITEMS * (0.15 - 0.075) / 1e6)
    assert json.loads((tmp_path / "run.json").read_text())["cost"]["rate"] == "synchronous"


def test_the_build_command_prints_the_file_for_vllm(tmp_path: Path, cache: Path) -> None:
    options = ["--teacher", "openai:my-model", "--limit", "2", "--out", str(tmp_path), "--cache", str(cache)]
    result = CliRunner().invoke(get_app(), ["build", *options, "--batch-file-only", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "requests to answer:" in result.output and "vllm run-batch -i" in result.output
    written = [
        json.loads(line) for f in (tmp_path / BATCHES_DIR).glob("*-1.jsonl") for line in f.read_text().splitlines()
    ]
    assert sorted(line["custom_id"] for line in written) == ["demo_spk1_01#0#1", "demo_spk1_02#0#1"]
    assert {line["body"]["model"] for line in written} == {"my-model"}


class _Killed(BaseException):
    """Stands for a kill in the middle of taking a batch's rows over (nothing below catches it)."""


def test_a_build_stopped_while_taking_rows_over_reads_them_again_and_sends_nothing(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunState.record
    calls = 0

    def dies_at_the_fourth(self: RunState, outcome: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise _Killed
        record(self, outcome)  # type: ignore[arg-type]

    with BatchServer(batch_plans=[BatchPlan(shuffle=True)]) as srv:
        monkeypatch.setattr(RunState, "record", dies_at_the_fourth)
        with pytest.raises(_Killed):
            build(srv, tmp_path, cache)
        monkeypatch.setattr(RunState, "record", record)
        assert [e.state for e in Journal(tmp_path / BATCHES_DIR).entries()] == ["finished"]  # not yet collected
        assert len(outcomes(tmp_path)[0]) == 3
        summary = build(srv, tmp_path, cache)
    traces, _ = assert_each_item_once(tmp_path)
    assert len(traces) == ITEMS and summary.new_traces == ITEMS - 3
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}
    assert [e.state for e in Journal(tmp_path / BATCHES_DIR).entries()] == ["collected"]


def test_retry_rejects_sends_only_the_rejected_requests_again(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(server_errors=frozenset({2, 5}))]) as srv:
        first = build(srv, tmp_path, cache)
        again = build(srv, tmp_path, cache, retry_rejects=True)
    assert first.rejects == 2 and again.rejects == 0
    assert_each_item_once(tmp_path)
    lines = srv.batches[sorted(srv.batches)[0]].lines
    rejected = {lines[2]["custom_id"], lines[5]["custom_id"]}
    assert dict(srv.submitted) == {cid: 2 if cid in rejected else 1 for cid in first_turns(srv)}


def test_retry_rejects_resample_sends_rejected_predict_samples_again_in_a_batch(tmp_path: Path, cache: Path) -> None:
    """--resample in batch mode: rejected samples are drawn anew (sent again), golds only re-checked from the cache.

    A gate of 1.0 rejects the stock answers (they cite one level a step off), so rejects hold cached answers;
    ``repairs=0`` keeps the unfaithful repair turn out of the count.
    """
    with BatchServer() as srv:
        first = build(srv, tmp_path, cache, min_faithfulness=1.0, repairs=0)
        rejected = {(r.id, r.sample) for r in outcomes(tmp_path)[1]}
        assert first.rejects == len(rejected) > 0 and any(s > 0 for _, s in rejected)
        again = build(srv, tmp_path, cache, min_faithfulness=1.0, repairs=0, retry_rejects=True, resample=True)
    assert_each_item_once(tmp_path)
    redrawn = {custom_id(key, 1) for key in rejected if key[1] > 0}
    assert dict(srv.submitted) == {cid: 2 if cid in redrawn else 1 for cid in first_turns(srv)}
    assert again.usage["requests"] == len(redrawn)


def test_answers_for_items_outside_the_selection_wait_for_a_build_that_selects_them(
    tmp_path: Path, cache: Path
) -> None:
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:
        build(srv, tmp_path, cache, batch_wait=False)  # 8 items submitted
        srv.release()
        smaller = build(srv, tmp_path, cache, limit=2)  # collects the batch but teaches only 4 items
        assert smaller.traces == 4
        assert [e.state for e in Journal(tmp_path / BATCHES_DIR).entries()] == ["finished"]  # rows kept
        full = build(srv, tmp_path, cache)
    assert full.new_traces == 4 and full.usage["requests"] == 4  # the kept answers, not new requests
    assert_each_item_once(tmp_path)
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}
    assert [e.state for e in Journal(tmp_path / BATCHES_DIR).entries()] == ["collected"]


def test_cancel_abandons_a_batch_never_submitted_and_the_next_build_sends_it(tmp_path: Path, cache: Path) -> None:
    with BatchServer(upload_faults=[UNAUTHORIZED]) as srv:
        with pytest.raises(CotgenError):
            build(srv, tmp_path, cache)
        cancel = CliRunner().invoke(get_app(), ["batch", "cancel", "--in", str(tmp_path)])
        assert cancel.exit_code == 0, cancel.output
        assert [e.state for e in Journal(tmp_path / BATCHES_DIR).entries()] == ["abandoned"]
        assert not Journal(tmp_path / BATCHES_DIR).outstanding()
        build(srv, tmp_path, cache)
    assert_each_item_once(tmp_path)
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}


def test_a_batch_the_server_does_not_know_stops_with_a_hint_and_is_not_resent(tmp_path: Path, cache: Path) -> None:
    with BatchServer(batch_plans=[BatchPlan(hold=True)]) as srv:
        build(srv, tmp_path, cache, batch_wait=False)
    with BatchServer() as other:  # another server: it never saw the batch
        with pytest.raises(CotgenError, match=r"HTTP 404.*names the server its batch went to"):
            build(other, tmp_path, cache)
        assert not other.submitted


def test_a_batch_build_after_a_synchronous_one_asks_nothing(tmp_path: Path, cache: Path) -> None:
    with BatchServer() as srv:
        build(srv, tmp_path / "sync", cache, batch=False)
        summary = build(srv, tmp_path / "batch", cache)  # the same questions: every answer is in the cache
    assert summary.traces == ITEMS and summary.usage["cache_hits"] == ITEMS and summary.usage["requests"] == 0
    assert srv.creates == 0 and len(srv.chat_requests) == ITEMS


@st.composite
def first_batch_plans(draw: st.DrawFn) -> BatchPlan:
    """A first batch with any mix of faults; it answers at least one line, so the rounds always go on."""
    lines = st.frozensets(st.integers(0, ITEMS - 1), max_size=3)
    expired = draw(st.booleans())
    return BatchPlan(
        end="expired" if expired else "completed",
        answered=draw(st.integers(1, ITEMS)) if expired else None,
        expired_rows=draw(st.booleans()),
        shuffle=draw(st.booleans()),
        server_errors=draw(lines),
        rate_limited=draw(lines),
        error_objects=draw(lines),
        malformed=draw(lines),
    )


@given(plan=first_batch_plans())
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mix_of_batch_faults_ends_every_item_once_and_sends_only_what_never_ran_again(
    tmp_path_factory: pytest.TempPathFactory, feature_cache: Path, plan: BatchPlan
) -> None:
    out = tmp_path_factory.mktemp("run")
    folder = tmp_path_factory.mktemp("cache")
    shutil.copytree(feature_cache, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("responses.sqlite*"))
    with BatchServer(batch_plans=[plan]) as srv:
        summary = build(srv, out, folder)
    traces, rejects = assert_each_item_once(out)
    assert summary.usage["batch"]["stopped"] is None
    # Every request was submitted once, plus once for each batch that ended without running it.
    assert all(srv.submitted[cid] == 1 + srv.not_run[cid] for cid in srv.submitted)
    # An item ends as a reject exactly when one of its requests got an error row, with that row's reason.
    expected = {parse_custom_id(cid)[0]: reason for cid, reason in srv.error_rows.items()}
    assert {(r.id, r.sample): r.reason for r in rejects} == expected
    assert len(traces) == ITEMS - len(expected)
