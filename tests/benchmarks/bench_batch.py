"""Benchmark of ``build --batch`` on the loopback Batch API (on demand: ``python tests/benchmarks/bench_batch.py``).

Builds a generated manifest of U utterances x (1 + K) items (unique transcripts: one request per
item) three ways into fresh folders, all against in-process loopback servers:

1. ``--batch`` with a share of first-round answers malformed (repaired in a second round);
2. the same rerun (everything done: the resume path only);
3. synchronously into another folder with the same response cache (the batch answers are found there);
4. synchronously with a fresh response cache, the same share of malformed answers, for comparison.

Prints wall times, items per second, rounds, batches, calls to ``/v1/files`` and ``/v1/batches``, and
checks the batch promises on the way: every item ends once, every custom_id is submitted once.
Options: ``--utterances U`` (default 1,000), ``--samples K`` (default 2), ``--malformed P`` (default 0.05).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch_server import BatchPlan, BatchServer  # noqa: E402
from loopback_server import MALFORMED_JSON, Fault, LoopbackServer  # noqa: E402
from make_manifest import write_manifest  # noqa: E402

from cotgen.build.run import BuildConfig, BuildSummary, run_build  # noqa: E402


def build(workdir: Path, manifest: Path, out: Path, base_url: str, samples: int, **options: object) -> BuildSummary:
    config = BuildConfig(
        corpus="manifest",
        root=manifest,
        out=out,
        samples=samples,
        teacher="openai:gpt-4o-mini",
        base_url=base_url,
        batch_poll=0.05,
        progress=False,
        **{"cache": workdir / "cache", **options},  # type: ignore[arg-type]
    )
    return run_build(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--malformed", type=float, default=0.05)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    manifest = write_manifest(args.utterances, workdir / "manifest.csv", unique_transcripts=True)
    items = args.utterances * (1 + args.samples)
    rng = random.Random(0)
    malformed = frozenset(i for i in range(items) if rng.random() < args.malformed)

    # Warm the feature cache once so neither build below pays for Praat.
    run_build(BuildConfig(corpus="manifest", root=manifest, out=workdir / "warm", cache=workdir / "cache", limit=1))

    with BatchServer(batch_plans=[BatchPlan(shuffle=True, malformed=malformed)]) as srv:
        start = time.perf_counter()
        summary = build(workdir, manifest, workdir / "batch", srv.base_url, args.samples, batch=True)
        batch_s = time.perf_counter() - start
        start = time.perf_counter()
        rerun = build(workdir, manifest, workdir / "batch", srv.base_url, args.samples, batch=True)
        rerun_s = time.perf_counter() - start
        calls = len(srv.api_requests("/v1/files")) + len(srv.api_requests("/v1/batches"))
        assert summary.traces + summary.rejects == items and rerun.skipped == items
        assert set(srv.submitted.values()) == {1} and not srv.chat_requests
        batches, submitted = len(srv.batches), sum(srv.submitted.values())

    with LoopbackServer() as sync_srv:  # the batch answers are in the response cache under the synchronous keys
        start = time.perf_counter()
        build(workdir, manifest, workdir / "sync-after-batch", sync_srv.base_url, args.samples)
        cached_s, cached_requests = time.perf_counter() - start, len(sync_srv.chat_requests)

    shutil.copytree(workdir / "cache", workdir / "sync-cache", ignore=shutil.ignore_patterns("responses.sqlite*"))
    plan = lambda index, body: Fault(MALFORMED_JSON) if rng.random() < args.malformed else None  # noqa: E731
    with LoopbackServer(plan=plan) as sync_srv:
        start = time.perf_counter()
        sync = build(workdir, manifest, workdir / "sync", sync_srv.base_url, args.samples, cache=workdir / "sync-cache")
        sync_s = time.perf_counter() - start
        sync_requests = len(sync_srv.chat_requests)

    usage = summary.usage["batch"]
    print(
        f"batch build of {items} items: {batch_s:.1f} s ({items / batch_s:.0f} items/s), {usage['rounds']} rounds, "
        f"{batches} batches, {submitted} requests submitted ({submitted - items} repairs), {calls} files/batches "
        f"calls, 0 chat requests; rerun with everything done {rerun_s:.1f} s"
    )
    print(
        f"synchronous build after it, from the same response cache: {cached_s:.1f} s, {cached_requests} chat requests"
    )
    print(
        f"synchronous build of {items} items: {sync_s:.1f} s ({items / sync_s:.0f} items/s), {sync_requests} chat "
        f"requests; batch/sync wall ratio {batch_s / sync_s:.2f}; cost ${summary.cost_usd:.4f} batch vs "
        f"${sync.cost_usd:.4f} synchronous"
    )


if __name__ == "__main__":
    main()
