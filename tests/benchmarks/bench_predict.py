"""Benchmark of K samples per request in ``cotgen predict`` (on demand: ``python tests/benchmarks/bench_predict.py``).

Predicts K samples for each demo utterance against the loopback server in student mode, once where the
server honours ``n`` (one request per utterance) and once where it ignores it (K requests per utterance, after
one probe), each with a fresh response cache, and prints requests, request bytes (the audio is base64 in the
body, so bytes are what ``n`` saves) and wall time of both, and their ratios. Then it reruns the first into a
fresh predictions file: every answer from the cache, no request.

Options: ``--samples K`` (default 4), ``--latency S`` seconds added per answer (default 0.2), ``--concurrency C``
(default 4), ``--workdir DIR`` (default a temporary folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopback_server import LoopbackServer, student_responder  # noqa: E402

from cotgen.build.run import BuildConfig, run_build  # noqa: E402
from cotgen.predict import PredictConfig, run_predict  # noqa: E402


def _predict(run: Path, cache: Path, out: Path, samples: int, latency: float, concurrency: int, n_mode: str):
    with LoopbackServer(latency=latency, responder=student_responder, n_mode=n_mode) as srv:
        started = time.perf_counter()
        summary = run_predict(
            PredictConfig(
                model="openai:student",
                run_dir=run,
                base_url=srv.base_url,
                cache=cache,
                out=out,
                samples=samples,
                concurrency=concurrency,
            )
        )
        wall = time.perf_counter() - started
        requests = srv.chat_requests
    sent = sum(len(str(r.body).encode()) for r in requests)
    return summary, len(requests), sent, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-predict-"))
    run = work / "run"
    run_build(BuildConfig(out=run, cache=work / "feature-cache", progress=False))
    rows = {}
    for n_mode in ("honour", "ignore"):
        summary, requests, sent, wall = _predict(
            run,
            work / f"cache-{n_mode}",
            work / f"{n_mode}.jsonl",
            args.samples,
            args.latency,
            args.concurrency,
            n_mode,
        )
        rows[n_mode] = (requests, sent, wall)
        print(
            f"n {n_mode:6s}: {summary.lines} predictions ({summary.parsed} parsed), {requests} requests, "
            f"{sent / 1e6:.2f} MB sent, {wall:.2f} s"
        )
    (hr, hb, hw), (ir, ib, iw) = rows["honour"], rows["ignore"]
    print(f"ignored / honoured: requests x{ir / hr:.2f}, bytes sent x{ib / hb:.2f}, wall time x{iw / hw:.2f}")
    again, requests, _, wall = _predict(
        run, work / "cache-honour", work / "again.jsonl", args.samples, args.latency, args.concurrency, "honour"
    )
    print(f"fresh file from the cache: {again.lines} predictions, {requests} requests, {wall:.2f} s")


if __name__ == "__main__":
    main()
