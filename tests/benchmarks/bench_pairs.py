"""Benchmark of pair scoring and streaming pairing (run on demand: ``python tests/benchmarks/bench_pairs.py``).

1. Scores 1,000,000 candidate distributions over 4 classes against their human distributions,
   vectorised (:func:`cotgen.pairs.scoring.score_rows`) and with a plain-Python loop over the same
   data, and prints the times side by side with their ratio.
2. Writes a run folder of N utterances x 8 candidates (gold + 7 predict samples, traces in the
   real TraceRecord format, shuffled as build writes them) and runs ``cotgen pairs`` on it in a
   child process for N = 10,000 and N = 100,000, printing wall time and the child's peak RSS: flat
   memory shows as a peak that barely grows while the data grows tenfold.

Options: ``--scores N`` (default 1,000,000), ``--utterances N`` (largest run, default 100,000),
``--workdir DIR`` (default a temporary folder).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_pairs_support import CLASSES, make_trace, make_utterance, trace_record  # noqa: E402

from cotgen.pairs.scoring import score_rows  # noqa: E402
from cotgen.records.utterance import write_utterances  # noqa: E402

CANDIDATES = 8
VARIANTS = 64


def python_kl(human: list[float], other: list[float], eps: float = 1e-6) -> float:
    """KL(human || other) with the project's smoothing, one pair at a time in plain Python."""
    hs, os_ = sum(human) + eps * len(human), sum(other) + eps * len(other)
    total = 0.0
    for h, o in zip(human, other):
        p, q = (h + eps) / hs, (o + eps) / os_
        total += p * math.log(p / q)
    return total


def python_js(p: list[float], q: list[float]) -> float:
    """JS in bits, unsmoothed, one pair at a time in plain Python."""
    total = 0.0
    for a, b in zip(p, q):
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return total


def bench_scoring(n: int) -> None:
    rng = np.random.default_rng(0)
    human = rng.dirichlet(np.ones(4), size=n)
    cand = rng.dirichlet(np.ones(4) * 0.5, size=n)
    human_list, cand_list = human.tolist(), cand.tolist()
    for metric, loop in (("kl", python_kl), ("js", python_js)):
        start = time.perf_counter()
        fast = score_rows(human, cand, metric)  # type: ignore[arg-type]
        vector_s = time.perf_counter() - start
        start = time.perf_counter()
        slow = [loop(h, c) for h, c in zip(human_list, cand_list)]
        loop_s = time.perf_counter() - start
        assert np.allclose(fast, slow, atol=1e-9), "vectorised and loop scores disagree"
        print(
            f"score {n:,} x 4 {metric}: vectorised {vector_s:.3f} s, python loop {loop_s:.3f} s, "
            f"ratio {loop_s / vector_s:.0f}x"
        )


def _variants() -> list[tuple[str, str]]:
    """VARIANTS distinct trace lines (JSON) with placeholder id and sample, for fast generation."""
    rng = random.Random(1)
    utt = make_utterance("__ID__", {"ang": 3, "sad": 2})
    lines = []
    for _ in range(VARIANTS):
        weights = [rng.random() for _ in CLASSES]
        trace = make_trace({c: w / sum(weights) for c, w in zip(CLASSES, weights)}, "high", tuple(CLASSES))
        for sample in (0, 1):
            lines.append(trace_record(utt, sample, trace).model_dump_json())
    gold = [line for line in lines if '"sample":0' in line]
    samples = [line for line in lines if '"sample":1' in line]
    return list(zip(gold, samples))


def write_big_run(run: Path, n: int) -> int:
    """N utterances, each with a gold trace and 7 samples; traces shuffled in blocks like completion order."""
    run.mkdir(parents=True, exist_ok=True)
    votes = [{"ang": 3, "sad": 2}, {"hap": 5}, {"neu": 2, "hap": 2, "sad": 1}, {"sad": 4, "neu": 1}]
    write_utterances(run / "utterances.jsonl", (make_utterance(f"u{i:07d}", votes[i % 4]) for i in range(n)))
    variants = _variants()
    rng = random.Random(2)
    written = 0
    with (run / "traces.jsonl").open("w", encoding="utf-8") as handle:
        block = 1000
        for start in range(0, n, block):
            lines = []
            for i in range(start, min(n, start + block)):
                uid = f"u{i:07d}"
                for sample in range(CANDIDATES):
                    gold, predicted = variants[rng.randrange(VARIANTS)]
                    template = gold if sample == 0 else predicted.replace('"sample":1', f'"sample":{sample}', 1)
                    lines.append(template.replace("__ID__", uid, 1))
            rng.shuffle(lines)
            handle.write("\n".join(lines) + "\n")
            written += len(lines)
    return written


def pair_in_child(run: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `cotgen pairs` over ``run`` in a fresh process."""
    # VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from the parent's peak at fork.
    code = (
        "import sys; from pathlib import Path;"
        "from cotgen.pairs.build import PairOptions, build_pairs;"
        "s = build_pairs(Path(sys.argv[1]), PairOptions(sources=frozenset({'gold', 'samples'}), margin=0.02));"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(s.pairs, hwm)"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(run)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    pairs, rss_kib = done.stdout.split()
    print(f"  pairs written: {int(pairs):,}")
    return wall, int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    bench_scoring(args.scores)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for n in (args.utterances // 10, args.utterances):
            run = Path(tmp) / f"run_{n}"
            start = time.perf_counter()
            lines = write_big_run(run, n)
            size = (run / "traces.jsonl").stat().st_size / 2**20
            print(
                f"run of {n:,} utterances x {CANDIDATES}: {lines:,} trace lines, {size:,.0f} MiB, "
                f"written in {time.perf_counter() - start:.1f} s"
            )
            wall, rss = pair_in_child(run)
            print(f"  pairing: {wall:.1f} s wall, {n * CANDIDATES / wall:,.0f} candidates/s, peak RSS {rss:,.0f} MiB")
    print(f"(benchmark process itself peaked at {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)")


if __name__ == "__main__":
    main()
