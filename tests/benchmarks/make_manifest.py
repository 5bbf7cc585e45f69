"""Write a large custom-manifest corpus for the scale benchmarks: the demo clips reused under many ids.

Usage: ``python tests/benchmarks/make_manifest.py N OUT.csv [--speakers S] [--unique-transcripts]``.

Each row reuses one of the 24 demo clips (absolute path, so the manifest can live anywhere) with its
transcript and votes, under a new id and one of ``S`` speakers. The feature cache is keyed by audio
content, so identical audio is measured once and the benchmark measures the build's own cost (loading,
cue references, teaching, writing), which is what grows with the corpus. ``--unique-transcripts`` appends
``(take N)`` to each transcript so every utterance's teacher request differs (one request per item,
none answered from the response cache by coincidence).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from cotgen.core.paths import CORPORA_DIR

DEMO_DIR = CORPORA_DIR / "demo"
FIELDS = ("id", "audio", "transcript", "speaker", "gender", "session", "votes")


def demo_rows() -> list[dict[str, str]]:
    """The demo manifest's rows with absolute audio paths."""
    with (DEMO_DIR / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["audio"] = str((DEMO_DIR / row["audio"]).resolve())
    return rows


def write_manifest(n: int, out: Path, speakers: int = 200, unique_transcripts: bool = False) -> Path:
    """``n`` rows cycling through the demo clips; speaker k keeps one gender so cue references stay sensible."""
    rows = demo_rows()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for i in range(n):
            row = rows[i % len(rows)]
            speaker = (i // len(rows)) % speakers
            writer.writerow(
                {
                    "id": f"utt{i:07d}",
                    "audio": row["audio"],
                    "transcript": f"{row['transcript']} (take {i})" if unique_transcripts else row["transcript"],
                    "speaker": f"{row['gender']}{speaker:04d}",
                    "gender": row["gender"],
                    "session": str(1 + speaker % 5),
                    "votes": row["votes"],
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--speakers", type=int, default=200)
    parser.add_argument("--unique-transcripts", action="store_true")
    args = parser.parse_args()
    print(write_manifest(args.n, args.out, args.speakers, args.unique_transcripts))


if __name__ == "__main__":
    main()
