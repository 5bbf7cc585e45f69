"""Teacher throughput at the concurrency limit, beside a raw keep-alive client, and a rerun answered from the cache.

Run on demand: ``python tests/benchmarks/bench_throughput.py [--requests 2000] [--latency 0.2]
[--concurrency 50] [--work DIR]``.

The loopback OpenAI-compatible server runs in its own process (script mode, so its CPU is not the
client's) with a fixed added latency per answer and logs every request with its arrival and answer
times. ``cotgen build --teacher openai:loopback`` (the real console script, no rate limit set) then
teaches a generated manifest with one distinct request per utterance. Figures:

1. the teacher phase's wall time, first request received to last answer written (from the server's
   log), beside the ideal ``requests x latency / concurrency`` and beside a raw client: the same
   request bodies (read back from the server's log) sent by a bare ``httpx2.AsyncClient`` with
   keep-alive connections and a semaphore of ``concurrency``, to the same server, right after the
   build. Goal: cotgen within 1.10 x the ideal; the raw client's ratio says how much of any gap is
   the machine's (two shared cores) rather than cotgen's;
2. the mean number of requests in flight at the server over the phase (the sum of every request's
   time at the server over the phase's length), for both clients; goal: at least 45 of 50 for cotgen;
3. a second build into a fresh folder sharing the response cache (every answer a cache hit): items
   per second from its first item on disk to its last (sampled from the size of ``traces.jsonl``);
   goal: at least 3,000 items/s.

The figures are ratios measured side by side in one run: on a shared machine absolute seconds say little.
Both builds' CPU time (user + system, from the kernel) is printed too: on 2 cores the client's CPU per
request is what decides whether the server, not cotgen, sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_manifest import write_manifest  # noqa: E402

SERVER = Path(__file__).resolve().parents[1] / "loopback_server.py"
POLL_S = 0.002


@dataclass(frozen=True)
class BuildRun:
    wall_s: float
    cpu_s: float
    first_item: float | None  # perf_counter when traces.jsonl first grew
    last_item: float | None  # perf_counter when it reached its final size
    stdout: str


def watch_size(path: Path, stop: threading.Event, samples: list[tuple[float, int]]) -> None:
    """Record (time, size) of ``path`` whenever the size changes, until ``stop``."""
    last = -1
    while not stop.is_set():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size != last:
            samples.append((time.perf_counter(), size))
            last = size
        time.sleep(POLL_S)


def run_build(args: list[str], traces: Path) -> BuildRun:
    """One ``cotgen build``; wall and CPU time, and when its first and last trace reached the disk."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_size, args=(traces, stop, samples), daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    watcher.start()
    started = time.perf_counter()
    done = subprocess.run(["cotgen", "build", *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    final = traces.stat().st_size
    grown = [t for t, size in samples if size > 0]
    full = [t for t, size in samples if size == final]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return BuildRun(wall, cpu, grown[0] if grown else None, full[0] if full else None, done.stdout)


def start_server(latency: float, log: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--latency", str(latency), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def chat_records(log: Path) -> list[dict]:
    """The chat requests of the server's log, in arrival order."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return sorted((r for r in records if r["path"].endswith("/chat/completions")), key=lambda r: r["index"])


def teacher_phase(chats: list[dict]) -> tuple[int, float, float]:
    """Requests, first arrival to last answer in seconds, and the mean number in flight at the server meanwhile."""
    first = min(r["received"] for r in chats)
    last = max(r["answered"] for r in chats if r["answered"] is not None)
    busy = sum(r["answered"] - r["received"] for r in chats if r["answered"] is not None)
    return len(chats), last - first, busy / (last - first)


async def raw_client(base_url: str, bodies: list[dict], concurrency: int) -> None:
    """The same bodies through a bare keep-alive httpx2 client, ``concurrency`` at a time: the floor to compare to."""
    import httpx2

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

        async def one(body: dict) -> None:
            async with gate:
                answer = await client.post("/chat/completions", json=body)
                answer.raise_for_status()
                answer.json()

        await asyncio.gather(*(one(body) for body in bodies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cotgen-bench-throughput-"))
    for name in ("run-template", "run-1", "run-2", "cache", "requests.jsonl"):
        target = work / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    manifest = write_manifest(args.requests, work / "manifest.csv", unique_transcripts=True)
    cache = work / "cache"
    common = ["--corpus", "manifest", "--root", str(manifest), "--cache", str(cache), "--no-progress"]
    print(f"work folder {work}; measuring the clips into the feature cache ...", flush=True)
    run_build([*common, "--out", str(work / "run-template")], work / "run-template" / "traces.jsonl")

    log = work / "requests.jsonl"
    server, base_url = start_server(args.latency, log)
    env_note = "OPENAI_API_KEY unset" if not os.environ.get("OPENAI_API_KEY") else "OPENAI_API_KEY set"
    try:
        teacher = ["--teacher", "openai:loopback", "--base-url", base_url, "--concurrency", str(args.concurrency)]
        print(f"server {base_url} (latency {args.latency:g} s, {env_note}); first build ...", flush=True)
        first = run_build([*common, *teacher, "--out", str(work / "run-1")], work / "run-1" / "traces.jsonl")
        chats = chat_records(log)
        requests, phase, in_flight = teacher_phase(chats)
        print("raw keep-alive client, the same bodies ...", flush=True)
        started = time.perf_counter()
        asyncio.run(raw_client(base_url, [r["body"] for r in chats], args.concurrency))
        raw_wall = time.perf_counter() - started
        _, raw_phase, raw_in_flight = teacher_phase(chat_records(log)[len(chats) :])
        print("second build, fresh folder, same cache ...", flush=True)
        second = run_build([*common, *teacher, "--out", str(work / "run-2")], work / "run-2" / "traces.jsonl")
        sent_by_rerun = len(chat_records(log)) - 2 * len(chats)  # after the build and the raw client
    finally:
        server.terminate()
        server.wait()

    ideal = requests * args.latency / args.concurrency
    print()
    print(first.stdout.strip())
    print(f"teacher phase, {requests} requests at concurrency {args.concurrency} against a {args.latency:g} s server:")
    print(f"  {'':28}{'ideal':>10}{'cotgen':>10}{'raw client':>12}")
    print(f"  {'first request to last answer':28}{ideal:>9.2f}s{phase:>9.2f}s{raw_phase:>11.2f}s")
    print(f"  {'x the ideal':28}{1.0:>10.3f}{phase / ideal:>10.3f}{raw_phase / ideal:>12.3f}  (goal <= 1.10)")
    flight = f"{args.concurrency:>10.1f}{in_flight:>10.1f}{raw_in_flight:>12.1f}"
    print(f"  {'mean requests in flight':28}{flight}  (goal >= 45)")
    print(f"  cotgen / raw client: {phase / raw_phase:.3f}; raw client wall {raw_wall:.2f} s")
    print(
        f"first build: wall {first.wall_s:.1f} s, CPU {first.cpu_s:.1f} s "
        f"({1000 * first.cpu_s / requests:.2f} ms CPU per request, start-up and features included)"
    )
    print(second.stdout.strip())
    if second.first_item is not None and second.last_item is not None:
        span = max(second.last_item - second.first_item, POLL_S)
        print(
            f"cached rerun: {args.requests} items in {span:.3f} s from first item to last = "
            f"{args.requests / span:,.0f} items/s (goal >= 3,000); new requests sent {sent_by_rerun}; "
            f"wall {second.wall_s:.1f} s, CPU {second.cpu_s:.1f} s"
        )


if __name__ == "__main__":
    main()
