"""Audio whose header lies, or that is longer than the cap, is refused from its header before a sample is read.

Praat takes a WAV header at its word: 1 KB whose data chunk claims 2 GB made it allocate 2 GB (8 GB measured for a
claim of 0x7FFFFFF0 bytes). The features stage must reject such files, and files longer than
``--max-audio-seconds``, from their header: the 1 KB file must raise the process's peak memory by under 200 MB
(it raises it by nothing now); the option raises the cap.
"""

from __future__ import annotations

import csv
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import soundfile

from cotgen.core.audio import audio_header_problem
from cotgen.core.paths import CORPORA_DIR

DEMO = CORPORA_DIR / "demo"


def _wav(path: Path, declared: int | None, samples: bytes, rate: int = 16_000, extra_chunk: bytes = b"") -> Path:
    """A 16-bit mono PCM WAV whose data chunk declares ``declared`` bytes (None: the truth)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    size = len(samples) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + extra_chunk + b"data" + struct.pack("<I", size) + samples
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + body)
    return path


def test_the_header_alone_decides(tmp_path: Path) -> None:
    samples = b"\x10\x00\x20\x00" * 250  # 1 KB of samples
    promised = audio_header_problem(_wav(tmp_path / "lie.wav", 0x7FFF_0000, samples))
    assert promised is not None and "promises 2,147,418,112 bytes" in promised and "holds 1,000" in promised
    assert audio_header_problem(_wav(tmp_path / "true.wav", None, samples)) is None
    assert audio_header_problem(_wav(tmp_path / "pipe.wav", 0xFFFF_FFFF, samples)) is None  # "to the end"
    list_chunk = b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"  # an odd-sized chunk before the data, padded
    assert audio_header_problem(_wav(tmp_path / "list.wav", 0x4000_0000, samples, extra_chunk=list_chunk))
    runaway = b"junk" + struct.pack("<I", 0x7000_0000)
    junk = _wav(tmp_path / "junk.wav", None, samples, extra_chunk=runaway)
    assert audio_header_problem(junk) is None  # no data chunk to judge: left to the decoders, which refuse it
    assert audio_header_problem(DEMO / "wav" / "demo_spk1_01.wav") is None
    # 12 minutes at 1 kHz (1.4 MB): over the 10-minute default, under a raised cap.
    long = _wav(tmp_path / "long.wav", None, b"\x00\x01" * 1000 * 720, rate=1000)
    assert "720 s of audio, over the 600 s cap" in str(audio_header_problem(long))
    assert audio_header_problem(long, max_seconds=800) is None
    flac = tmp_path / "long.flac"
    soundfile.write(flac, [0.1, -0.1] * 360_000, 1000, format="FLAC")  # 12 minutes again, as FLAC
    assert "over the 600 s cap" in str(audio_header_problem(flac))


def _manifest(tmp_path: Path, clips: dict[str, Path]) -> Path:
    with (DEMO / "manifest.csv").open(encoding="utf-8") as handle:
        demo = list(csv.DictReader(handle))
    path = tmp_path / "m.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo[0]))
        writer.writeheader()
        for row, (uid, clip) in zip(demo, clips.items()):
            writer.writerow(dict(row, id=uid, audio=str(clip)))
    return path


def _features(tmp_path: Path, manifest: Path, *options: str) -> pd.DataFrame:
    """``cotgen features`` in a child process, one worker: its rows."""
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    args = ["features", "--corpus", "manifest", "--root", str(manifest), "--out", str(out), "--workers", "1"]
    cache = ["--cache", str(tmp_path / "cache")]
    done = subprocess.run([sys.executable, "-m", "cotgen", *args, *cache, *options], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return pd.read_parquet(out / "features.parquet")


def _errors(rows: pd.DataFrame) -> dict[str, str | None]:
    return {uid: (None if pd.isna(error) else error) for uid, error in zip(rows["id"], rows["error"])}


# Measures one good clip (Praat and every import loaded), then the lying one: the growth of the peak RSS is what
# the lying file cost. Absolute peaks are mostly imports (pandas, pyarrow, Praat: about 200 MB on the CI machine).
PEAK_SCRIPT = """
import resource, sys
from cotgen.acoustics.parallel import extract_features
good, lie = sys.argv[1:3]
print(extract_features([("good", good)], workers=1, cache_dir=None, progress=False)["error"].tolist())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(extract_features([("lie", lie)], workers=1, cache_dir=None, progress=False)["error"].tolist())
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_kilobyte_promising_gigabytes_costs_no_memory(tmp_path: Path) -> None:
    lie = _wav(tmp_path / "lie.wav", 0x7FFF_0000, b"\x10\x00\x20\x00" * 250)
    good = DEMO / "wav" / "demo_spk1_01.wav"
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(good), str(lie)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "WAV header promises" in done.stdout
    growth_mb = int(done.stdout.rsplit("GROWTH_KB", 1)[1].split()[0]) / 1024
    assert growth_mb < 200, f"the 1 KB file raised the peak RSS by {growth_mb:.0f} MB"


def test_the_features_stage_rejects_by_header_and_the_cap_is_an_option(tmp_path: Path) -> None:
    lie = _wav(tmp_path / "lie.wav", 0x7FFF_0000, b"\x10\x00\x20\x00" * 250)
    long = _wav(tmp_path / "long.wav", None, b"\x00\x01" * 1000 * 720, rate=1000)
    manifest = _manifest(tmp_path, {"fine": DEMO / "wav" / "demo_spk1_01.wav", "lie": lie, "long": long})
    errors = _errors(_features(tmp_path, manifest))
    assert errors["fine"] is None
    assert "WAV header promises" in str(errors["lie"]) and "over the 600 s cap" in str(errors["long"])
    # Raised, the long clip is measured (it was not cached as rejected); the lie is still refused.
    errors = _errors(_features(tmp_path, manifest, "--max-audio-seconds", "800"))
    assert "cap" not in str(errors["long"]) and "WAV header promises" in str(errors["lie"])
