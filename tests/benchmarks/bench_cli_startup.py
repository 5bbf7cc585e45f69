"""How long ``cotgen --help`` and ``cotgen COMMAND --help`` take, beside ``python -c pass`` in the same run.

Run on demand: ``python tests/benchmarks/bench_cli_startup.py [--rounds 15]``.

Each command runs as a child process, the way a user's shell starts it, and the rounds interleave the commands so
that a burst of load from other processes on the machine falls on all of them alike. The table gives the median and
the fastest run of each, and each median as a multiple of the bare interpreter's (``python -c pass``), which is the
figure to compare between machines. ``hf --help`` (huggingface_hub's CLI) is timed too when it is installed, as a
neighbour's yardstick. Goal (issue 21): under 0.5 s for ``cotgen --help`` on the CI machine;
tests/test_cli_imports.py holds the cause (no heavy library is imported by any help).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.5


def _cotgen() -> str:
    beside = Path(sys.executable).with_name("cotgen")
    return str(beside) if beside.exists() else shutil.which("cotgen") or "cotgen"


def commands() -> dict[str, list[str]]:
    cotgen = _cotgen()
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "cotgen --help": [cotgen, "--help"],
        "cotgen build --help": [cotgen, "build", "--help"],
        "cotgen predict --help": [cotgen, "predict", "--help"],
        "cotgen batch status --help": [cotgen, "batch", "status", "--help"],
    }
    hf = shutil.which("hf") or (
        str(Path(sys.executable).with_name("hf")) if Path(sys.executable).with_name("hf").exists() else None
    )
    if hf:
        found["hf --help"] = [hf, "--help"]
    return found


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    runs = commands()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for argv in runs.values():  # one warm-up each: the first start reads the files from disk
        time_once(argv)
    for _ in range(rounds):
        for name, argv in runs.items():
            times[name].append(time_once(argv))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<28} {'median s':>9} {'fastest s':>10} {'x python':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28} {median:>9.3f} {min(values):>10.3f} {median / base:>9.1f}")
    help_median = statistics.median(times["cotgen --help"])
    verdict = "meets" if help_median < GOAL_S else "misses"
    print(f"cotgen --help: median {help_median:.3f} s over {rounds} rounds, {verdict} the {GOAL_S} s goal")


if __name__ == "__main__":
    main()
