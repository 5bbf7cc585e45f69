"""A server that goes away, or refuses everything, stops the build instead of rejecting the rest.

Issue 11 item 5: a loopback server stopped part-way through a build, then started again on the same port.
Issue 13 item 3: the first answers are all the same failure that retrying cannot fix, nothing succeeded.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from loopback_server import UNAUTHORIZED, Fault, LoopbackServer

from cotgen.build.run import BuildConfig, BuildSummary, run_build
from cotgen.core.errors import CotgenError

ITEMS = 24


def _config(base_url: str, out: Path, cache: Path, **options: object) -> BuildConfig:
    settings: dict[str, object] = {"timeout": 2.0, "backoff_base": 0.1, "max_retries": 5, "concurrency": 2}
    settings.update(options)
    return BuildConfig(teacher="openai:loopback", base_url=base_url, out=out, cache=cache, progress=False, **settings)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_server_stopped_part_way_stops_the_build_and_the_rerun_finishes_it(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "run"
    outcome: dict[str, object] = {}
    with LoopbackServer(latency=0.05) as srv:
        port, base_url = srv.port, srv.base_url
        config = _config(base_url, out, cache, outage_after=1.5)

        def build() -> None:
            try:
                outcome["summary"] = run_build(config)
            except CotgenError as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=build)
        worker.start()
        while len(srv.chat_requests) < 6 and worker.is_alive():
            time.sleep(0.01)
    # Leaving the block stopped the server: every connection from now on is refused.
    worker.join(timeout=120)
    assert not worker.is_alive()
    error = outcome.get("error")
    assert isinstance(error, CotgenError), outcome
    message = str(error)
    assert "stopped answering: only connection failures and timeouts" in message and "\n" not in message
    traces, rejects = _lines(out / "traces.jsonl"), _lines(out / "rejects.jsonl")
    assert rejects == [], "no item may be rejected for a connection failure during an outage"
    left = ITEMS - len(traces)
    assert 0 < left < ITEMS and f"; {left} of {ITEMS} items left to do, which a rerun does" in message
    assert json.loads((out / "run.json").read_text())["stopped"] in message

    with LoopbackServer(port=port) as again:
        summary = run_build(_config(again.base_url, out, cache))
        assert len(again.chat_requests) == left, "the rerun asks only for the items left"
    assert (summary.traces, summary.rejects, summary.skipped) == (ITEMS, 0, ITEMS - left)
    keys = [(t["id"], t["sample"]) for t in _lines(out / "traces.jsonl")]
    assert len(keys) == len(set(keys)) == ITEMS


def test_the_same_unfixable_failure_on_the_first_answers_stops_after_a_few_items(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "run"
    with LoopbackServer(structured_supported=False) as srv:
        with pytest.raises(CotgenError) as stopped:
            run_build(_config(srv.base_url, out, cache, concurrency=1))
        assert len(srv.chat_requests) == 3, "three identical refusals, not one paid request per item"
        message = str(stopped.value)
        assert "the first 3 answers are all the same failure" in message and "\n" not in message
        assert "rerun with --no-structured --retry-rejects" in message
        assert f"{ITEMS - 2} of {ITEMS} items left to do" in message
        assert [r["reason"] for r in _lines(out / "rejects.jsonl")] == ["request_refused"] * 2
        # Following the advice: --no-structured changes the fingerprint, so even the two rejects are redone.
        fixed: BuildSummary = run_build(_config(srv.base_url, out, cache, concurrency=1, structured=False))
    assert (fixed.traces, fixed.rejects, fixed.stale) == (ITEMS, 0, 2)


def test_a_failure_among_successes_is_an_items_reject_not_a_stop(tmp_path: Path, cache: Path) -> None:
    plan = [None, Fault(UNAUTHORIZED), Fault(UNAUTHORIZED), Fault(UNAUTHORIZED)]
    with LoopbackServer(plan=plan) as srv:
        summary = run_build(_config(srv.base_url, tmp_path / "run", cache, concurrency=1))
    assert (summary.traces, summary.reject_reasons) == (ITEMS - 3, {"request_refused": 3})
