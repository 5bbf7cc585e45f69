"""Benchmark of the build's own costs (run on demand: ``python tests/benchmarks/bench_build.py``).

1. Appends N trace records with an fsync after every line and with the build's interval
   (:data:`cotgen.core.durable_files.FSYNC_INTERVAL_S`), and prints both times and their ratio: why the
   build flushes every record but fsyncs at most twice a second.
2. Runs the offline template build on a generated manifest of U utterances x (1 + K) items into a
   fresh folder, then again into the same folder (everything done, resume path only), and prints
   items per second of both.

Options: ``--records N`` (default 5,000), ``--utterances U`` (default 2,400), ``--samples K`` (default 2),
``--workdir DIR`` (default a temporary folder). The feature cache lives in the work folder, so the
first build also measures the 24 demo clips once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_manifest import write_manifest  # noqa: E402

from cotgen.build.outcome import Item, trace_record  # noqa: E402
from cotgen.build.run import BuildConfig, run_build  # noqa: E402
from cotgen.core.durable_files import FSYNC_INTERVAL_S, JsonlAppender  # noqa: E402
from cotgen.records.run_records import TemplateRef, TraceRecord, Usage  # noqa: E402
from cotgen.records.utterance import Utterance  # noqa: E402
from cotgen.teachers.template import write_trace  # noqa: E402


def _record(index: int) -> TraceRecord:
    utt = Utterance(
        id=f"u{index}",
        corpus="bench",
        audio="/data/u.wav",
        transcript="I can't believe you did that again!",
        vote_counts={"ang": 4, "neu": 1},
        distribution={"neu": 0.2, "hap": 0.0, "ang": 0.8, "sad": 0.0},
        majority="ang",
        n_annotators=5,
    )
    levels = {"pitch": "high", "loudness": "very high", "intonation": "falling"}
    trace = write_trace(utt.id, utt.transcript, utt.distribution, levels, "rationalize", 0)
    item = Item(utt, 0, "rationalize")
    return trace_record(item, trace, "template", TemplateRef(name="t", sha256="0" * 64), levels, Usage())


def time_appends(path: Path, records: list[TraceRecord], fsync_interval: float) -> float:
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    with JsonlAppender(path, fsync_interval=fsync_interval) as out:
        for record in records:
            out.write(record)
    return time.perf_counter() - start


def time_build(workdir: Path, manifest: Path, out: Path, samples: int) -> tuple[float, int]:
    start = time.perf_counter()
    summary = run_build(
        BuildConfig(corpus="manifest", root=manifest, out=out, cache=workdir / "cache", samples=samples, progress=False)
    )
    return time.perf_counter() - start, summary.items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--utterances", type=int, default=2400)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-build-"))

    records = [_record(i) for i in range(args.records)]
    every = time_appends(workdir / "every.jsonl", records, fsync_interval=0.0)
    interval = time_appends(workdir / "interval.jsonl", records, fsync_interval=FSYNC_INTERVAL_S)
    print(
        f"append {args.records} records: fsync every line {every:.2f} s, every {FSYNC_INTERVAL_S} s "
        f"{interval:.2f} s, ratio {every / interval:.1f}x"
    )

    manifest = write_manifest(args.utterances, workdir / "manifest.csv")
    first, items = time_build(workdir, manifest, workdir / "run", args.samples)
    resume, _ = time_build(workdir, manifest, workdir / "run", args.samples)
    print(
        f"template build of {items} items: {first:.1f} s ({items / first:.0f} items/s, features included); "
        f"rerun with everything done {resume:.1f} s"
    )


if __name__ == "__main__":
    main()
