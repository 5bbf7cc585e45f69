"""Regenerate the bundled demo corpus: ``manifest.csv`` and ``wav/*.wav`` in ``corpora/demo/``.

Why a synthetic corpus: the real emotion corpora cannot be redistributed, yet ``cotgen build`` must run
end to end on a fresh checkout. Four espeak-ng voices read everyday emotional sentences; each clip gets
the prosody of the emotion it is meant to sound like (angry: high, fast, loud; happy: high, lively;
sad: low, slow, quiet; neutral: default), so pitch, rate and loudness really differ between clips and
the acoustic stage has something to measure. Votes are invented: unanimous for some clips, genuinely
mixed for the ambiguous lines, 5 or 6 annotators each, in the custom-manifest format (one label per
annotator, ``;``-separated).

Needs ``espeak-ng`` and ``sox`` on PATH (Debian: ``apt-get install espeak-ng sox``). The tests never
run this script; they read the committed clips. Run it from anywhere::

    python tools/make_demo.py

Output is 16 kHz mono 16-bit PCM WAV, leading/trailing silence trimmed, each clip fitted to 1.5-3 s;
sox runs with ``-R`` (repeatable dither) so regenerating gives the same bytes.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "corpora" / "demo"
WAV_DIR = HERE / "wav"
MANIFEST = HERE / "manifest.csv"
SAMPLE_RATE = 16000
MIN_SECONDS = 1.5
MAX_SECONDS = 3.0


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    speaker: str
    espeak_voice: str
    gender: str
    session: str


@dataclass(frozen=True)
class Prosody:
    """espeak-ng pitch (0-99), speed (words/min) and amplitude (0-200), plus a sox gain in dB."""

    pitch: int
    speed: int
    amplitude: int
    gain_db: float


# The sound each clip is rendered with; mixed-vote clips use the in-between styles.
STYLES: dict[str, Prosody] = {
    "ang": Prosody(pitch=72, speed=215, amplitude=190, gain_db=2.0),
    "hap": Prosody(pitch=80, speed=190, amplitude=140, gain_db=0.0),
    "neu": Prosody(pitch=45, speed=160, amplitude=100, gain_db=-3.0),
    "sad": Prosody(pitch=18, speed=115, amplitude=55, gain_db=-9.0),
    "tense": Prosody(pitch=60, speed=185, amplitude=150, gain_db=-1.0),
    "flat": Prosody(pitch=32, speed=140, amplitude=80, gain_db=-6.0),
}

VOICES: dict[str, Voice] = {
    "spk1": Voice("spk1", "en+m3", "M", "1"),
    "spk2": Voice("spk2", "en+f2", "F", "1"),
    "spk3": Voice("spk3", "en+m1", "M", "2"),
    "spk4": Voice("spk4", "en+f4", "F", "2"),
}

# (speaker, style, transcript, votes): six clips per speaker.
CLIPS: list[tuple[str, str, str, str]] = [
    ("spk1", "ang", "I can't believe you did that again!", "ang;ang;ang;ang;ang"),
    ("spk1", "hap", "We finally got the tickets for tonight!", "hap;hap;hap;neu;hap"),
    ("spk1", "neu", "I'll see you at the station at noon.", "neu;neu;neu;neu;neu"),
    ("spk1", "sad", "I really thought she would call me back.", "sad;sad;neu;sad;sad;neu"),
    ("spk1", "tense", "Oh, so you decided to show up after all.", "ang;neu;hap;ang;neu"),
    ("spk1", "flat", "Fine. Do whatever you want.", "ang;sad;ang;neu;sad;ang"),
    ("spk2", "hap", "This is the best day I've had in years!", "hap;hap;hap;hap;hap;hap"),
    ("spk2", "ang", "Why does nobody ever listen to me?", "ang;ang;sad;ang;ang"),
    ("spk2", "neu", "The meeting moved to Thursday morning.", "neu;neu;neu;neu;neu"),
    ("spk2", "sad", "I miss the way things used to be.", "sad;sad;sad;sad;sad;sad"),
    ("spk2", "tense", "Well, that was certainly a surprise.", "hap;neu;hap;ang;neu;neu"),
    ("spk2", "flat", "I guess it doesn't matter anymore.", "sad;neu;sad;neu;ang;sad"),
    ("spk3", "neu", "Please put the boxes by the door.", "neu;neu;neu;neu;neu;neu"),
    ("spk3", "ang", "Get out of my office, right now!", "ang;ang;ang;ang;ang;ang"),
    ("spk3", "sad", "Nobody came to the party.", "sad;sad;sad;neu;sad"),
    ("spk3", "hap", "You got the job? That's wonderful!", "hap;hap;hap;hap;neu;hap"),
    ("spk3", "flat", "Sure, I'll do it myself, as usual.", "ang;neu;sad;ang;neu;sad"),
    ("spk3", "tense", "You really didn't have to do that.", "hap;ang;neu;hap;neu;hap"),
    ("spk4", "sad", "The doctor called with the results.", "sad;neu;sad;sad;neu"),
    ("spk4", "neu", "The train leaves at half past six.", "neu;neu;neu;neu;neu"),
    ("spk4", "hap", "I can't wait to see everyone again!", "hap;hap;hap;hap;hap"),
    ("spk4", "ang", "Don't you dare touch my things again!", "ang;ang;ang;ang;ang;neu"),
    ("spk4", "tense", "I suppose we could try it your way.", "neu;ang;neu;hap;neu;sad"),
    ("spk4", "flat", "It's raining again, of course.", "sad;neu;neu;sad;ang;neu"),
]


def _run(args: list[str]) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _duration(path: Path) -> float:
    return float(_run(["soxi", "-D", str(path)]).strip())


def synthesize(text: str, voice: Voice, prosody: Prosody, out: Path, work: Path) -> float:
    """Speak ``text`` into ``out`` (16 kHz mono 16-bit), fitted to MIN..MAX seconds; returns its duration."""
    raw = work / "raw.wav"
    trimmed = work / "trimmed.wav"
    _run(
        [
            "espeak-ng",
            "-v",
            voice.espeak_voice,
            "-p",
            str(prosody.pitch),
            "-s",
            str(prosody.speed),
            "-a",
            str(prosody.amplitude),
            "-w",
            str(raw),
            text,
        ]
    )
    # Resample, trim silence at both ends, apply the style's gain (limited so loud clips never clip).
    _run(
        [
            "sox",
            "-R",
            str(raw),
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(trimmed),
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
            "gain",
            "-l",
            str(prosody.gain_db),
        ]
    )
    seconds = _duration(trimmed)
    fit: list[str] = []
    if seconds > MAX_SECONDS:
        fit = ["tempo", "-s", f"{seconds / (MAX_SECONDS - 0.05):.4f}"]
    elif seconds < MIN_SECONDS:
        fit = ["pad", "0", f"{MIN_SECONDS + 0.05 - seconds:.3f}"]
    _run(["sox", "-R", str(trimmed), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out), *fit])
    return _duration(out)


def main() -> None:
    """Write every clip and the manifest, replacing what was there."""
    for tool in ("espeak-ng", "sox", "soxi"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found on PATH: install espeak-ng and sox to regenerate the demo corpus")
    if WAV_DIR.exists():
        shutil.rmtree(WAV_DIR)
    WAV_DIR.mkdir(parents=True)
    rows = []
    counters: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for speaker, style, text, votes in CLIPS:
            voice = VOICES[speaker]
            counters[speaker] = counters.get(speaker, 0) + 1
            clip_id = f"demo_{speaker}_{counters[speaker]:02d}"
            out = WAV_DIR / f"{clip_id}.wav"
            seconds = synthesize(text, voice, STYLES[style], out, Path(tmp))
            print(f"{clip_id}  {style:5s}  {seconds:.2f}s  {text}")
            rows.append(
                {
                    "id": clip_id,
                    "audio": f"wav/{out.name}",
                    "transcript": text,
                    "speaker": speaker,
                    "gender": voice.gender,
                    "session": voice.session,
                    "votes": votes,
                }
            )
    with MANIFEST.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} clips and {MANIFEST}")


if __name__ == "__main__":
    main()
