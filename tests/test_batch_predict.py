"""``cotgen predict --batch`` against the loopback Batch API: one line per sample, the synchronous body and cache key.

Every (id, sample) ends as exactly one line of predictions.jsonl, error rows as lines with their
reason, a request a batch never ran is sent once more, and answers are shared with synchronous runs
through the response cache in both directions.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from batch_server import BatchPlan, BatchServer
from loopback_server import LoopbackServer, student_responder
from typer.testing import CliRunner

from cotgen.build.batch_build import custom_id
from cotgen.build.run import BuildConfig, run_build
from cotgen.cli.main import get_app
from cotgen.predict import PredictConfig, run_predict
from cotgen.records.prediction import PredictionRecord
from cotgen.teachers.response_cache import canonical_json

LIMIT = 4
SAMPLES = 2
LINES = LIMIT * SAMPLES


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template build of the demo corpus (utterances.jsonl, sft.jsonl), made once for the module."""
    out = tmp_path_factory.mktemp("built")
    run_build(BuildConfig(out=out, cache=tmp_path_factory.mktemp("feature-cache"), progress=False, limit=LIMIT))
    return out


@pytest.fixture
def run(tmp_path: Path, built_run: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(built_run, folder)
    return folder


def predict(srv: LoopbackServer | None, run: Path, cache: Path, **options: Any):  # type: ignore[no-untyped-def]
    settings: dict[str, Any] = {
        "model": "openai:student-lora",
        "run_dir": run,
        "base_url": srv.base_url if srv is not None else None,
        "cache": cache,
        "limit": LIMIT,
        "samples": SAMPLES,
        "batch": True,
        "batch_poll": 0.01,
        "timeout": 10.0,
        "backoff_base": 0.01,
    }
    settings.update(options)
    return run_predict(PredictConfig(**settings))


def lines(path: Path) -> list[PredictionRecord]:
    return [PredictionRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def assert_each_sample_once(path: Path) -> list[PredictionRecord]:
    records = lines(path)
    keys = [(r.id, r.sample) for r in records]
    assert len(keys) == len(set(keys)) == LINES, Counter(keys)
    return records


def test_predict_in_batches_sends_each_sample_once_with_the_synchronous_body(run: Path, tmp_path: Path) -> None:
    with BatchServer(responder=student_responder, batch_plans=[BatchPlan(shuffle=True)]) as srv:
        summary = predict(srv, run, tmp_path / "cache")
        rerun = predict(srv, run, tmp_path / "cache")
        batch_port = srv.port
    records = assert_each_sample_once(run / "predictions.jsonl")
    assert all(r.error is None and r.distribution is not None for r in records)
    assert set(srv.submitted) == {custom_id((r.id, r.sample), 1) for r in records}
    assert set(srv.submitted.values()) == {1} and srv.creates == 1 and not srv.chat_requests
    assert summary.usage["requests"] == LINES and summary.usage["batch"]["batches_submitted"] == 1
    assert rerun.new == 0 and srv.creates == 1
    assert (run / "predictions.batches").is_dir() and not (run / "batches").exists()  # apart from the build's

    # A synchronous run asks for the K samples as one n=K request; without n, its body is each batch line's.
    with LoopbackServer(responder=student_responder) as sync_srv:
        predict(sync_srv, run, tmp_path / "sync-cache", batch=False, out=tmp_path / "sync.jsonl")
        sync_bodies = {canonical_json({k: v for k, v in r.body.items() if k != "n"}) for r in sync_srv.chat_requests}
    # ... and a synchronous run sharing the batch run's cache, against the same server URL (the cache keys the
    # server), asks nothing.
    with LoopbackServer(responder=student_responder, port=batch_port) as same_srv:
        predict(same_srv, run, tmp_path / "cache", batch=False, out=tmp_path / "from-cache.jsonl")
        assert same_srv.chat_requests == []
    batch_lines = [line for batch in srv.batches.values() for line in batch.lines]
    assert {canonical_json(line["body"]) for line in batch_lines} == sync_bodies
    assert len(lines(tmp_path / "from-cache.jsonl")) == LINES


def test_error_rows_become_lines_with_their_reason_and_unrun_samples_are_sent_again(run: Path, tmp_path: Path) -> None:
    plans = [BatchPlan(end="expired", answered=6, server_errors=frozenset({1}), rate_limited=frozenset({2}))]
    with BatchServer(responder=student_responder, batch_plans=plans) as srv:
        summary = predict(srv, run, tmp_path / "cache")
    records = assert_each_sample_once(run / "predictions.jsonl")
    errors = sorted((r.error or "").partition(":")[0] for r in records if r.error)
    assert errors == ["rate_limited", "server_error"] and summary.errors == {"rate_limited": 1, "server_error": 1}
    first = srv.batches[sorted(srv.batches)[0]].lines
    not_run = {line["custom_id"] for line in first[6:]}
    assert {cid for cid, n in srv.submitted.items() if n == 2} == not_run
    assert set(srv.submitted.values()) == {1, 2}


def test_predict_writes_a_file_for_vllm_and_imports_its_results(run: Path, tmp_path: Path) -> None:
    with BatchServer(responder=student_responder) as answering:  # only its answers are used
        written = predict(None, run, tmp_path / "cache", batch=False, batch_file_only=True)
        files = written.usage["batch"]["files"]
        assert written.new == 0 and len(files) == 1
        requests = [json.loads(raw) for raw in Path(files[0]).read_text().splitlines()]
        assert len(requests) == LINES
        rows = [
            {"id": f"v{i}", "custom_id": line["custom_id"], "response": answering.batch_completion(i, line["body"])}
            for i, line in enumerate(requests)
        ]  # the older vllm layout: the bare chat completion
        results = tmp_path / "results.jsonl"
        results.write_text("".join(json.dumps(row) + "\n" for row in reversed(rows)))
        imported = predict(None, run, tmp_path / "cache", batch=False, batch_results=results)
        assert not answering.requests
    records = assert_each_sample_once(run / "predictions.jsonl")
    assert imported.new == LINES and all(r.distribution is not None for r in records)


def test_batch_status_shows_a_predict_runs_batches(run: Path, tmp_path: Path) -> None:
    with BatchServer(responder=student_responder, batch_plans=[BatchPlan(hold=True)]) as srv:
        predict(srv, run, tmp_path / "cache", batch_wait=False)
        records = run / "predictions.batches"
        result = CliRunner().invoke(get_app(), ["batch", "status", "--in", str(run), "--records", str(records)])
        assert result.exit_code == 0, result.output
        assert "in_progress" in result.output and "1 unfinished" in result.output
        srv.release()
        predict(srv, run, tmp_path / "cache")
    assert_each_sample_once(run / "predictions.jsonl")
    assert srv.creates == 1 and set(srv.submitted.values()) == {1}
