"""Peak memory of ``cotgen build`` hardly grows with the corpus (issue 22: 100,000 utterances within 20 % of 10,000).

Each build runs the real command in a fresh interpreter that reports its own peak resident memory
(``ru_maxrss``, which the kernel keeps, so nothing is sampled or timed). Two corpus sizes give the
cost per added utterance: about 0.44 KB here between 9,000 and 30,000 (0.2 KB between 10,000 and 100,000;
fixed-size buffers fill up at the small end). Holding the utterance records while loading (2.6 KB each), the
features stage's pandas frame (0.7 KB), a cue profile per utterance (2.5 KB) or the run's records read whole
for the dataset card (24 KB) pushes it over the bound. The feature cache is warmed first, so no feature worker
starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
from make_manifest import write_manifest  # noqa: E402

# Runs the console script's entry point and prints the process's peak RSS (kB on Linux) at exit.
CHILD = """
import atexit, json, resource, sys
atexit.register(lambda: print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                          "modules": sorted(sys.modules)}), file=sys.stderr))
from cotgen.cli.main import main
sys.argv = ["cotgen", *sys.argv[1:]]
main()
"""
# Above 8,192 utterances at the small end: features.parquet is written 8,192 rows at a time.
SMALL, LARGE = 9_000, 30_000
MAX_KB_PER_UTTERANCE = 0.75
# Libraries a template-teacher build never calls; each costs tens of MB if a module imports it eagerly.
UNUSED_BY_BUILD = ("scipy", "matplotlib", "datasets", "librosa", "parselmouth")


def _child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


def _build(manifest: Path, out: Path, cache: Path, *extra: str) -> dict:
    return _child(
        ["build", "--corpus", "manifest", "--root", str(manifest), "--out", str(out), "--cache", str(cache)]
        + ["--no-progress", *extra]
    )


@pytest.fixture(scope="module")
def peaks(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    work = tmp_path_factory.mktemp("memory")
    cache = work / "cache"
    _build(write_manifest(24, work / "warm.csv"), work / "warm", cache, "--workers", "1")
    return {n: _build(write_manifest(n, work / f"m{n}.csv"), work / f"run{n}", cache) for n in (SMALL, LARGE)}


def test_peak_memory_grows_by_less_than_a_record_per_utterance(peaks: dict[int, dict]) -> None:
    slope = (peaks[LARGE]["peak_kb"] - peaks[SMALL]["peak_kb"]) / (LARGE - SMALL)
    assert slope < MAX_KB_PER_UTTERANCE, (
        f"peak RSS grew by {slope:.2f} kB per utterance ({peaks[SMALL]['peak_kb'] / 1024:.0f} MB at {SMALL:,}, "
        f"{peaks[LARGE]['peak_kb'] / 1024:.0f} MB at {LARGE:,}): something holds a record per utterance"
    )


def test_a_template_build_never_imports_libraries_it_does_not_use(peaks: dict[int, dict]) -> None:
    loaded = {name.split(".")[0] for name in peaks[LARGE]["modules"]}
    assert not loaded & set(UNUSED_BY_BUILD)
