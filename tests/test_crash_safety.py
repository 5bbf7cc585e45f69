"""Crash safety: a build killed with SIGKILL (twice, at different points) and run again loses nothing,
duplicates nothing, leaves no torn line, and never buys an answer that had reached the cache.

The build is the real ``cotgen build`` console script in a child process, against the loopback
server in this process; 24 demo utterances x (gold + 3 samples) = 96 items, with a deterministic
share of answers that end as rejects (truncated, refused) or need a repair turn (malformed JSON), so
both files and multi-turn items are in play when the kill lands. Before each rerun the test reads
the keys in the response cache; every request of the rerun must be for a key that was not there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from loopback_server import MALFORMED_JSON, REFUSAL, TRUNCATED, Fault, LoggedRequest, LoopbackServer

from cotgen.build.run import BuildConfig, run_build
from cotgen.records.fingerprint import server_identity
from cotgen.records.run_records import RejectRecord, TraceRecord
from cotgen.teachers.response_cache import CACHE_FILE_NAME, ResponseCache

UTTERANCES = 24
# The console script of the interpreter running the tests (the venv's), else the one on PATH.
COTGEN = shutil.which("cotgen", path=str(Path(sys.executable).parent)) or "cotgen"
SAMPLES = 3
ITEMS = UTTERANCES * (1 + SAMPLES)
KILL_AFTER_LINES = (8, 40)  # records on disk (traces + rejects) before each SIGKILL
FAULT_KINDS = (TRUNCATED, REFUSAL, MALFORMED_JSON)


def content_faults(index: int, body: dict) -> Fault | None:
    """About one request in five gets a content fault, decided by the request's content (same on a resend)."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode("utf-8")).digest()
    return Fault(FAULT_KINDS[digest[1] % len(FAULT_KINDS)]) if digest[0] < 52 else None


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clips measured once (a one-item template build fills the feature cache)."""
    folder = tmp_path_factory.mktemp("features")
    run_build(BuildConfig(out=tmp_path_factory.mktemp("warm"), cache=folder, progress=False, limit=1))
    return folder


def build_command(base_url: str, out: Path, cache: Path) -> list[str]:
    return [
        COTGEN,
        "build",
        "--teacher",
        "openai:loopback",
        "--base-url",
        base_url,
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--samples",
        str(SAMPLES),
        "--concurrency",
        "2",
        "--repairs",
        "1",
        "--workers",
        "1",
        "--no-progress",
    ]


def lines_on_disk(out: Path) -> int:
    total = 0
    for name in ("traces.jsonl", "rejects.jsonl"):
        path = out / name
        if path.exists():
            total += path.read_bytes().count(b"\n")
    return total


def cached_keys(cache: Path) -> set[str]:
    """The keys committed to the response cache (read as a second process would, WAL included)."""
    with sqlite3.connect(cache / CACHE_FILE_NAME) as db:
        return {row[0] for row in db.execute("SELECT key FROM responses")}


def possible_keys(request: LoggedRequest, server: str) -> set[str]:
    """The cache keys this request could stand for (the sample number is not in the body)."""
    body = request.body
    params = {"temperature": body["temperature"]}
    if "max_tokens" in body:
        params["max_tokens"] = body["max_tokens"]
    schema = body["response_format"]["json_schema"]["schema"] if "response_format" in body else None
    samples = [0] if body["temperature"] == 0.0 else range(1, SAMPLES + 1)
    return {
        ResponseCache.key(body["model"], body["messages"], params, schema, s, server_identity(server)) for s in samples
    }


def kill_after(command: list[str], out: Path, lines: int, env: dict[str, str]) -> None:
    """Start the build and SIGKILL it once ``lines`` records are on disk."""
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and lines_on_disk(out) < lines:
        time.sleep(0.005)
    assert child.poll() is None, f"the build ended before it could be killed: {child.stderr.read().decode()}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()


def test_killed_twice_then_rerun_every_item_once_nothing_bought_twice(tmp_path: Path, feature_cache: Path) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache"
    cache.mkdir()
    for entry in feature_cache.iterdir():  # measured features only: the response cache starts empty
        if not entry.name.startswith("responses.sqlite"):
            os.symlink(entry, cache / entry.name)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    bought_twice: list[str] = []
    with LoopbackServer(latency=0.1, plan=content_faults) as server:
        command = build_command(server.base_url, out, cache)
        seen = 0
        for lines in KILL_AFTER_LINES:
            before = cached_keys(cache) if (cache / CACHE_FILE_NAME).exists() else set()
            kill_after(command, out, lines, env)
            for request in server.chat_requests[seen:]:
                if possible_keys(request, server.base_url) <= before:
                    bought_twice.append(request.body["messages"][1]["content"][:60])
            seen = len(server.chat_requests)
            # What a kill in the middle of a write leaves behind, in both files.
            for name, fragment in (("traces.jsonl", b'{"id": "demo_spk'), ("rejects.jsonl", b'{"id": "demo_')):
                with (out / name).open("ab") as handle:
                    handle.write(fragment)
        before = cached_keys(cache)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        rerun_requests = server.chat_requests[seen:]
        for request in rerun_requests:
            if possible_keys(request, server.base_url) <= before:
                bought_twice.append(request.body["messages"][1]["content"][:60])
        all_requests = server.chat_requests

    assert bought_twice == [], "requests for answers that were already in the cache"
    # Only answers in flight at a kill (at most --concurrency 2 per kill) were asked for twice.
    repeated = len(all_requests) - len(cached_keys(cache))
    assert 0 <= repeated <= 2 * len(KILL_AFTER_LINES)

    # No torn line: every line of both files is a whole record ending in a newline.
    for name in ("traces.jsonl", "rejects.jsonl"):
        data = (out / name).read_bytes()
        assert data.endswith(b"\n"), name
    traces = [TraceRecord.model_validate_json(x) for x in (out / "traces.jsonl").read_text().splitlines()]
    rejects = [RejectRecord.model_validate_json(x) for x in (out / "rejects.jsonl").read_text().splitlines()]

    # Every (id, sample) exactly once across the two files.
    keys = Counter((r.id, r.sample) for r in [*traces, *rejects])
    assert len(keys) == ITEMS and set(keys.values()) == {1}
    assert {s for _, s in keys} == set(range(SAMPLES + 1))
    assert rejects, "the plan should make some rejects"
    assert {r.reason for r in rejects} <= {"truncated", "refusal", "malformed_json"}

    # run.json agrees with the files.
    info = json.loads((out / "run.json").read_text())
    assert info["counts"]["traces"] == len(traces) and info["counts"]["rejects"] == len(rejects)
    assert info["counts"]["reject_reasons"] == dict(sorted(Counter(r.reason for r in rejects).items()))
    assert info["counts"]["items_selected"] == ITEMS
    assert (
        info["counts"]["this_run"]["skipped"]
        + info["counts"]["this_run"]["traces"]
        + info["counts"]["this_run"]["rejects"]
        == ITEMS
    )
    assert info["counts"]["this_run"]["skipped"] >= KILL_AFTER_LINES[-1]
    assert info["counts"]["sft"] == sum(1 for t in traces if t.sample == 0)
    assert len((out / "sft.jsonl").read_text().splitlines()) == info["counts"]["sft"]
    # The final run's requests are exactly the ones it reports.
    assert info["usage"]["requests"] == len(rerun_requests)
