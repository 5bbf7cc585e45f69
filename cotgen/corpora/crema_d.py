"""CREMA-D: crowd votes on the voice-only presentation -> raw entries.

``processedResults/tabulatedVotes.csv`` has one row per clip and presentation mode; the first column is
``100000 * mode + clip`` and mode 1 is voice only, the one that matches audio models. Its A, D, F, H, N,
S columns are vote counts (``numResponses`` their sum), so the distribution is counts / numResponses.
Clip names are ``ACTOR_SENTENCE_EMOTION_LEVEL``: the actor is the speaker (gender from
``VideoDemographics.csv``), the sentence code gives the transcript, and the intended emotion and level
are kept as metadata; the intended emotion is the reference for fixed class sets.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import MALFORMED_ROW, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, require_paths
from cotgen.corpora.textfile import utf8_lines
from cotgen.corpora.votes import tally_counts

NAME = "crema-d"
DEFAULT_CLASSES = "all"
LAYOUT = "AudioWAV/<clip>.wav, processedResults/tabulatedVotes.csv and VideoDemographics.csv"
AUDIO_LAYOUT = f"{LAYOUT}; pass --allow-missing-audio to read the labels without the audio"
CLASSES_HELP = "all (default: the six emotions), 4 (neu, hap, ang, sad; kept by intended emotion), or custom"

VOTES_FILE = Path("processedResults") / "tabulatedVotes.csv"
DEMOGRAPHICS_FILE = Path("VideoDemographics.csv")
AUDIO_DIR = Path("AudioWAV")
VOICE_ONLY = 1
MODE_BASE = 100000

VOTE_COLUMNS: dict[str, str] = {"A": "ang", "D": "dis", "F": "fea", "H": "hap", "N": "neu", "S": "sad"}
EMOTION_CODES: dict[str, str] = {"ANG": "ang", "DIS": "dis", "FEA": "fea", "HAP": "hap", "NEU": "neu", "SAD": "sad"}
LEVELS = frozenset({"LO", "MD", "HI", "XX"})
SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
SEXES: dict[str, str] = {"Female": "F", "Male": "M"}


def read_genders(path: Path) -> dict[str, str]:
    """ActorID -> ``F``/``M`` from ``VideoDemographics.csv``; a missing column is a CotgenError."""
    with utf8_lines(path) as lines:
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or not {"ActorID", "Sex"} <= set(reader.fieldnames):
            raise CotgenError(f"{path}:1: expected columns ActorID and Sex")
        return {row["ActorID"].strip(): SEXES[row["Sex"].strip()] for row in reader if row["Sex"].strip() in SEXES}


def parse_clip_name(name: str) -> tuple[str, str, str, str]:
    """``1001_DFA_ANG_XX`` -> (actor, sentence code, intended emotion code, level); ValueError otherwise."""
    parts = name.split("_")
    if len(parts) != 4 or not parts[0].isdigit():
        raise ValueError(f"clip name {name!r} is not ACTOR_SENTENCE_EMOTION_LEVEL")
    actor, sentence, emotion, level = parts
    if sentence not in SENTENCES or emotion not in EMOTION_CODES or level not in LEVELS:
        raise ValueError(f"clip name {name!r} has an unknown sentence, emotion or level code")
    return actor, sentence, EMOTION_CODES[emotion], level


def _entry(row: dict[str, str], where: str, root: Path, genders: dict[str, str]) -> RawEntry:
    name = row["fileName"].strip()
    actor, sentence, intended, level = parse_clip_name(name)
    counts = {code: int(row[column]) for column, code in VOTE_COLUMNS.items()}
    responses = int(row["numResponses"])
    if any(value < 0 for value in counts.values()) or sum(counts.values()) != responses:
        raise ValueError(f"{name}: vote counts {counts} do not add up to numResponses {responses}")
    return RawEntry(
        id=name,
        where=where,
        audio=root / AUDIO_DIR / f"{name}.wav",
        vote_counts=tally_counts(counts),
        n_annotators=responses,
        reference=intended,
        speaker=actor,
        gender=genders.get(actor),
        transcript=SENTENCES[sentence],
        meta={"intended_emotion": intended, "level": level, "sentence": sentence},
    )


def iter_raw(root: Path) -> Iterator[RawEntry | Dropped]:
    """Voice-only rows of ``tabulatedVotes.csv`` as raw entries; bad rows as Dropped with ``file:line``."""
    votes_path = root / VOTES_FILE
    genders = read_genders(root / DEMOGRAPHICS_FILE)
    with utf8_lines(votes_path) as lines:
        reader = csv.reader(lines)
        header = next(reader, None)
        needed = [*VOTE_COLUMNS, "fileName", "numResponses"]
        if header is None or not set(needed) <= set(header):
            raise CotgenError(f"{votes_path}:1: expected columns {', '.join(needed)} after the row-id column")
        for row_values in reader:
            where = f"{votes_path}:{reader.line_num}"
            if len(row_values) != len(header):
                yield Dropped(MALFORMED_ROW, where, f"{len(row_values)} fields, expected {len(header)}")
                continue
            row = dict(zip(header, row_values))
            try:
                if int(row_values[0]) // MODE_BASE != VOICE_ONLY:
                    continue
                yield _entry(row, where, root, genders)
            except ValueError as exc:
                yield Dropped(MALFORMED_ROW, where, str(exc))


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load a CREMA-D checkout; the audio folder may be absent only with ``allow_missing_audio``."""
    root = absolute(root)
    require_paths("CREMA-D", root, LAYOUT, [root / VOTES_FILE, root / DEMOGRAPHICS_FILE])
    if not allow_missing_audio:
        require_paths("CREMA-D", root, AUDIO_LAYOUT, [root / AUDIO_DIR])
    return assemble(NAME, iter_raw(root), class_set, allow_missing_audio)
