"""Peak memory and speed of ``cotgen build`` (template teacher) at 10,000 and 100,000 utterances.

Run on demand: ``python tests/benchmarks/bench_memory.py [--sizes 10000,100000] [--work DIR]``.

The corpus is a generated manifest reusing the demo clips under new ids (``make_manifest.py``); the
feature cache is keyed by audio content, so after one warm-up build the clips cost nothing to measure
and the figures are the build's own cost: loading, hashing, cue references, teaching, writing. The
warm-up build measures the 24 clips with the default feature workers (forkserver), and its table
gives their peaks. Each
build runs as the real ``cotgen`` console script in a child process; a sampler thread reads the RSS
of that process and of every process below it (the feature workers) every 50 ms with psutil, and
``getrusage(RUSAGE_CHILDREN)`` gives the kernel's own peak over all waited-for descendants as a
cross-check the sampler cannot miss. Goals: issue 7, peak RSS < 500 MB at 100,000 and cost linear; issue 22,
the main process's peak at 100,000 under 250 MB and within 20 % of its peak at 10,000.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_manifest import write_manifest  # noqa: E402

MB = 1024 * 1024
SAMPLE_S = 0.05


@dataclass
class PeakSampler:
    """Peak RSS per process of a process tree, sampled from a background thread."""

    root: psutil.Process
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                    label = _label(proc, self.root)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                if rss > self.peaks.get(proc.pid, ("", 0))[1]:
                    self.peaks[proc.pid] = (label, rss)
            time.sleep(SAMPLE_S)

    def __enter__(self) -> PeakSampler:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _label(proc: psutil.Process, root: psutil.Process) -> str:
    """What a process of the build's tree is: the build, the forkserver, a feature worker, the resource tracker."""
    if proc.pid == root.pid:
        return "main"
    command = " ".join(proc.cmdline())
    if "resource_tracker" in command:
        return "resource tracker"
    if "forkserver" in command:
        return "forkserver" if proc.ppid() == root.pid else "feature worker"
    return command[-60:]


@dataclass(frozen=True)
class Measurement:
    n: int
    wall_s: float
    main_peak: int
    worker_peaks: list[int]
    children_maxrss: int
    processes: list[tuple[str, int]]  # (label, peak RSS) of every process of the tree, main first


def run_build(manifest: Path, out: Path, cache: Path) -> Measurement:
    """One ``cotgen build`` in a child process; its wall time and the peak RSS of each process in its tree."""
    command = ["cotgen", "build", "--corpus", "manifest", "--root", str(manifest), "--out", str(out)]
    command += ["--cache", str(cache), "--no-progress"]
    started = time.perf_counter()
    proc = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakSampler(proc) as sampler:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{stdout}\n{stderr}")
    n = sum(1 for _ in manifest.open(encoding="utf-8")) - 1
    main_peak = sampler.peaks.get(proc.pid, ("main", 0))[1]
    workers = sorted((rss for pid, (_, rss) in sampler.peaks.items() if pid != proc.pid), reverse=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: kilobytes
    print(f"  {stdout.strip().splitlines()[0]}", flush=True)
    processes = sorted(sampler.peaks.values(), key=lambda p: (p[0] != "main", p[0], -p[1]))
    return Measurement(n, wall, main_peak, workers, children, processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="cotgen-bench-memory-"))
    cache = work / "cache"
    print(f"work folder {work}")
    warm = write_manifest(24, work / "warm.csv")
    warmup = run_build(warm, work / "warm-run", cache)  # measures the 24 clips once into the feature cache
    print("warm-up build (24 clips measured by the feature workers unless the cache was warm):")
    for label, rss in warmup.processes:
        print(f"  {label:<18} peak {rss / MB:6.0f} MB")
    results = []
    for n in sizes:
        manifest = write_manifest(n, work / f"manifest-{n}.csv")
        out = work / f"run-{n}"
        shutil.rmtree(out, ignore_errors=True)
        print(f"build of {n:,} utterances ...", flush=True)
        results.append(run_build(manifest, out, cache))
    print()
    print(f"{'utterances':>10} {'wall s':>8} {'utt/s':>8} {'main peak MB':>13} {'worker peaks MB':>18} {'us/utt':>8}")
    for m in results:
        workers = ", ".join(f"{w / MB:.0f}" for w in m.worker_peaks) or "none started"
        print(
            f"{m.n:>10,} {m.wall_s:>8.1f} {m.n / m.wall_s:>8.0f} {m.main_peak / MB:>13.0f} {workers:>18}"
            f" {1e6 * m.wall_s / m.n:>8.0f}"
        )
    peak = results[-1].children_maxrss / MB
    print(f"getrusage(RUSAGE_CHILDREN) peak over every build and its workers: {peak:.0f} MB")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(
            f"growth {b.n / a.n:.0f}x utterances: wall {b.wall_s / a.wall_s:.1f}x, "
            f"main peak RSS {b.main_peak / a.main_peak:.2f}x (goal: < 250 MB and <= 1.2x at 10x the corpus; "
            "wall ~linear)"
        )


if __name__ == "__main__":
    main()
