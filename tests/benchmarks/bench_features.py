"""Benchmark: cotgen's full feature set against openSMILE eGeMAPSv02 functionals and librosa pYIN.

Run on demand (not collected by pytest; needs ``pip install -e '.[bench]'`` for opensmile and psutil)::

    python tests/benchmarks/bench_features.py [--clips DIR] [--rounds 3] [--corpus-copies 40]

Part 1 runs the three extractors side by side on the same clips, in one process, round-robin, and
prints real-time factors (seconds of processing per second of audio) in wall time and in CPU time
(user + system of every thread: Praat runs some analyses on several threads, so wall time alone
flatters it), then the CPU-time ratios. Part 2 breaks cotgen's CPU time down by analysis, so every
feature's cost is visible. Part 3 runs ``extract_features`` with the default workers over the clips
repeated ``--corpus-copies`` times and reports how busy the cores were (total CPU / (wall x cores)).
Nothing here asserts a time; it prints measurements.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import opensmile
import parselmouth
import psutil
import soundfile as sf
from parselmouth.praat import call

from cotgen.acoustics import extract_features
from cotgen.acoustics.extract import extract_batch, extract_one, load_sound
from cotgen.acoustics.loudness import segment
from cotgen.acoustics.pitch import adaptive_range
from cotgen.acoustics.settings import DEFAULT_SETTINGS as S
from cotgen.acoustics.settings import AnalysisSettings
from cotgen.core.paths import CORPORA_DIR

PROCESS = psutil.Process()


def cpu_seconds() -> float:
    """User + system time of this process, all threads."""
    times = PROCESS.cpu_times()
    return times.user + times.system


def measure(fn: Callable[[str], object], files: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds to run ``fn`` over every file once."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    for path in files:
        fn(path)
    return time.perf_counter() - wall, cpu_seconds() - cpu


def cotgen_full(path: str) -> object:
    return extract_one(path, path)


def make_egemaps() -> Callable[[str], object]:
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )
    return smile.process_file


def pyin_pitch(path: str) -> object:
    signal, sr = librosa.load(path, sr=None, mono=True)
    return librosa.pyin(signal, fmin=60.0, fmax=700.0, sr=sr)


def side_by_side(files: list[str], audio_s: float, rounds: int) -> dict[str, tuple[float, float]]:
    methods = {"cotgen full set": cotgen_full, "openSMILE eGeMAPSv02": make_egemaps(), "librosa pYIN": pyin_pitch}
    for fn in methods.values():  # warm-up: imports, JIT (librosa), openSMILE config parsing
        fn(files[0])
    totals = dict.fromkeys(methods, (0.0, 0.0))
    for _ in range(rounds):
        for name, fn in methods.items():
            wall, cpu = measure(fn, files)
            totals[name] = (totals[name][0] + wall, totals[name][1] + cpu)
    return {name: (wall / (rounds * audio_s), cpu / (rounds * audio_s)) for name, (wall, cpu) in totals.items()}


def breakdown(files: list[str], audio_s: float) -> dict[str, float]:
    """CPU real-time factor of each analysis cotgen runs, in the order it runs them."""
    sounds = [load_sound(path) for path in files]
    costs: dict[str, float] = {}

    def step(name: str, fn: Callable[[parselmouth.Sound, dict], None], state: list[dict]) -> None:
        cpu = cpu_seconds()
        for sound, st in zip(sounds, state):
            fn(sound, st)
        costs[name] = (cpu_seconds() - cpu) / audio_s

    state: list[dict] = [{} for _ in sounds]
    step(
        "pitch pass 1 (coarse, wide)",
        lambda s, st: st.update(
            first=s.to_pitch_ac(
                time_step=S.first_pass_time_step_s,
                pitch_floor=S.first_pass_floor_hz,
                pitch_ceiling=S.first_pass_ceiling_hz,
            )
        ),
        state,
    )

    def second(s: parselmouth.Sound, st: dict) -> None:
        floor, ceiling = adaptive_range(st["first"].selected_array["frequency"], S)
        st["pitch"] = s.to_pitch_ac(time_step=S.time_step_s, pitch_floor=floor, pitch_ceiling=ceiling)

    step("pitch pass 2 (adapted range)", second, state)
    step(
        "intensity",
        lambda s, st: st.update(
            intensity=s.to_intensity(minimum_pitch=S.intensity_min_pitch_hz, time_step=S.time_step_s)
        ),
        state,
    )
    step(
        "silences + nuclei (numpy)",
        lambda s, st: st.update(seg=segment(st["intensity"].values[0], st["intensity"].dx, S)),
        state,
    )
    step("point process (cc)", lambda s, st: st.update(pulses=call([s, st["pitch"]], "To PointProcess (cc)")), state)
    step(
        "jitter + shimmer",
        lambda s, st: (
            call(st["pulses"], "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3),
            call([s, st["pulses"]], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6),
        ),
        state,
    )
    step("(not used) Harmonicity cc", lambda s, st: s.to_harmonicity_cc(), state)
    step("(not used) Harmonicity ac", lambda s, st: s.to_harmonicity_ac(), state)
    return costs


def tree_cpu_seconds() -> float:
    """CPU of this process, its reaped children and every live descendant with the children it reaped.

    Pool workers are forked by the multiprocessing forkserver, a child of this process that outlives the
    pool and reaps them, so their time shows in the server's ``children_*`` fields.
    """
    total = 0.0
    for proc in [PROCESS, *PROCESS.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def timed_batch(items: list[tuple[str, str]], settings: AnalysisSettings) -> tuple[list[dict], tuple[float, ...]]:
    """extract_batch, plus when it ran (monotonic clock, shared by all processes) and its CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    rows = extract_batch(items, settings)
    return rows, (start, time.perf_counter(), time.process_time() - cpu)


class TimedExecutor(Executor):
    """Sends ``timed_batch`` instead of ``extract_batch`` to a pool and keeps the timings."""

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.timings: list[tuple[float, ...]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        outer: Future = Future()

        def unwrap(inner: Future) -> None:
            rows, timing = inner.result()
            self.timings.append(timing)
            outer.set_result(rows)

        self.pool.submit(timed_batch, *args, **kwargs).add_done_callback(unwrap)
        return outer


def pool_occupancy(items: list[tuple[str, str]], cores: int) -> None:
    """How much of the wall time the workers spent inside tasks, and how much CPU they got while there.

    On a machine shared with other jobs, cores-busy mixes our scheduling with their load; these two
    numbers separate them: occupancy is ours (start-up, hand-out, tail), CPU-in-task is the neighbours'.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cotgen.acoustics.extract"])
    start = time.perf_counter()
    with ProcessPoolExecutor(cores, mp_context=context) as pool:
        timed = TimedExecutor(pool)
        extract_features(items, executor=timed, progress=False)
    wall = time.perf_counter() - start
    inside = sum(end - begin for begin, end, _ in timed.timings)
    cpu = sum(c for _, _, c in timed.timings)
    first = min(begin for begin, _, _ in timed.timings) - start
    print(f"  worker occupancy {inside / (cores * wall):.0%} (first task began after {first:.2f} s of pool start-up);")
    print(f"  CPU share while in a task {cpu / inside:.0%} (below 100 % = other jobs or Praat threads competing)")


def corpus_run(files: list[str], audio_s: float, copies: int) -> None:
    items = [(f"{i}:{path}", path) for i in range(copies) for path in files]
    cores = os.cpu_count() or 1
    before = tree_cpu_seconds()
    load_before = os.getloadavg()[0]
    wall = time.perf_counter()
    extract_features(items, progress=False)  # default workers = all cores, no cache
    wall = time.perf_counter() - wall
    cpu = tree_cpu_seconds() - before
    print(f"\ncorpus run: {len(items)} clips, {copies * audio_s:.0f} s of audio, {cores} cores, default workers")
    print(f"  wall {wall:.2f} s, CPU (all processes) {cpu:.2f} s, CPU RTF {cpu / (copies * audio_s):.5f}")
    print(f"  cores busy {cpu / (wall * cores):.0%}; wall / (CPU / cores) = {wall / (cpu / cores):.2f} (goal <= 1.15)")
    print(
        f"  1-min load average before / after (other users of the machine count too): "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    )
    pool_occupancy(items, cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=CORPORA_DIR / "demo" / "wav")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus-copies", type=int, default=40)
    args = parser.parse_args()
    files = sorted(str(p) for p in args.clips.glob("*.wav"))
    audio_s = float(sum(sf.info(path).duration for path in files))
    print(f"{len(files)} clips, {audio_s:.1f} s of audio, {args.rounds} rounds, single process")
    print(f"{'method':28s} {'RTF wall':>10s} {'RTF CPU':>10s}")
    results = side_by_side(files, audio_s, args.rounds)
    for name, (wall, cpu) in results.items():
        print(f"{name:28s} {wall:10.5f} {cpu:10.5f}")
    ours = results["cotgen full set"][1]
    for other in ("openSMILE eGeMAPSv02", "librosa pYIN"):
        print(
            f"CPU time cotgen / {other}: {ours / results[other][1]:.2f}  (wall: "
            f"{results['cotgen full set'][0] / results[other][0]:.2f})"
        )
    print("\ncotgen CPU RTF by analysis:")
    costs = breakdown(files, audio_s)
    for name, rtf in costs.items():
        print(f"  {name:32s} {rtf:.5f}")
    corpus_run(files, audio_s, args.corpus_copies)
    print(
        f"\nnumpy {np.__version__}, parselmouth {parselmouth.__version__} (Praat {parselmouth.PRAAT_VERSION}), "
        f"opensmile {opensmile.__version__}, librosa {librosa.__version__}"
    )


if __name__ == "__main__":
    main()
