"""MSP-Podcast: consensus file plus per-worker labels -> raw entries.

``Labels/labels_consensus.csv`` gives each file's consensus class, VAD, speaker, gender and split.
Worker labels come from ``Labels/labels_detailed.csv`` (``FileName,EmoDetail``, one worker per row) or,
in older releases, the raw ``Labels/labels.txt`` (a ``<file>.wav; N; A:..; V:..; D:..;`` line, then one
EmoDetail line per worker, blocks separated by blank lines). EmoDetail is
``WORKER00000001; Other-confused; Concerned,Confused; A:3.000000; V:3.000000; D:4.000000;``: only the
primary emotion (second field) votes, every ``Other-*`` folded to ``oth``; the distribution is the share
of workers per primary emotion. The consensus EmoClass is the reference for fixed class sets, the same
rule as IEMOCAP's header label.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import (
    MALFORMED_BLOCK,
    MALFORMED_ROW,
    NO_VOTES,
    CorpusLoad,
    Dropped,
    RawEntry,
    assemble,
)
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.textfile import utf8_lines
from cotgen.corpora.votes import counted_annotators, weighted_vote_counts
from cotgen.records.utterance import VAD

NAME = "msp-podcast"
DEFAULT_CLASSES = "4"
LAYOUT = (
    "Audios/<file>.wav, Labels/labels_consensus.csv, Labels/labels_detailed.csv or Labels/labels.txt,"
    " Transcripts/<file>.txt (optional)"
)
CLASSES_HELP = "4 (default: neu, hap, ang, sad; kept by consensus EmoClass), all, or custom"

CONSENSUS_FILE = Path("Labels") / "labels_consensus.csv"
DETAILED_FILE = Path("Labels") / "labels_detailed.csv"
RAW_LABELS_FILE = Path("Labels") / "labels.txt"
CONSENSUS_COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")

EMO_CLASS_CODES: dict[str, str] = {
    "N": "neu",
    "H": "hap",
    "A": "ang",
    "S": "sad",
    "U": "sur",
    "F": "fea",
    "D": "dis",
    "C": "con",
    "O": "oth",
}
NO_AGREEMENT = "X"
NO_AGREEMENT_CODE = "xxx"  # as IEMOCAP writes it; in no fixed class set
PRIMARY_CODES: dict[str, str] = {
    "neutral": "neu",
    "happy": "hap",
    "angry": "ang",
    "sad": "sad",
    "surprise": "sur",
    "fear": "fea",
    "disgust": "dis",
    "contempt": "con",
    "other": "oth",
}
GENDERS: dict[str, str] = {"Female": "F", "Male": "M"}
# MSP-PODCAST_<podcast>_<segment>: segments are numbered in the order they occur in their podcast.
_SEGMENT = re.compile(r"^MSP-PODCAST_(\d+)_(\d+)$")


def podcast_position(stem: str) -> tuple[str | None, float | None]:
    """(podcast, segment number) from a file stem, for dialogue context; (None, None) for other names."""
    match = _SEGMENT.match(stem)
    return (match.group(1), float(match.group(2))) if match else (None, None)


def primary_code(emotion: str) -> str:
    """A worker's primary emotion word -> code (case-insensitive); every ``Other-*`` is ``oth``."""
    word = emotion.strip().lower()
    code = PRIMARY_CODES.get("other" if word.startswith("other") else word)
    if code is None:
        raise ValueError(f"primary emotion {emotion.strip()!r} is not an MSP-Podcast category")
    return code


def parse_emo_detail(text: str) -> tuple[str, str]:
    """``WORKER..; Primary; Secondary,...; A:..; V:..; D:..;`` -> (worker id, primary code)."""
    fields = [field.strip() for field in text.split(";")]
    if len(fields) < 2 or not fields[0] or not fields[1]:
        raise ValueError(f"{text.strip()!r} is not 'WORKER; Primary; Secondary; A:..; V:..; D:..;'")
    return fields[0], primary_code(fields[1])


@dataclass
class WorkerVotes:
    """Primary-emotion votes per file; files whose label entry is unreadable; lines that belong to no file."""

    votes: dict[str, list[list[str]]] = field(default_factory=dict)
    bad: dict[str, Dropped] = field(default_factory=dict)
    stray: list[Dropped] = field(default_factory=list)


def _add_vote(table: WorkerVotes, file_name: str, detail: str, where: str, reason: str) -> None:
    try:
        _, code = parse_emo_detail(detail)
    except ValueError as exc:
        table.bad.setdefault(file_name, Dropped(reason, where, str(exc)))
        return
    table.votes.setdefault(file_name, []).append([code])


def read_detailed(path: Path) -> WorkerVotes:
    """Votes from ``labels_detailed.csv`` (``FileName,EmoDetail``, one worker per row)."""
    table = WorkerVotes()
    with utf8_lines(path) as lines:
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or not {"FileName", "EmoDetail"} <= set(reader.fieldnames):
            raise CotgenError(f"{path}:1: expected columns FileName and EmoDetail")
        for row in reader:
            name = (row["FileName"] or "").strip()
            _add_vote(table, name, row["EmoDetail"] or "", f"{path}:{reader.line_num}", MALFORMED_ROW)
    return table


def read_raw_labels(path: Path) -> WorkerVotes:
    """Votes from ``labels.txt``: a ``<file>.wav; ...`` line, then one EmoDetail line per worker."""
    table = WorkerVotes()
    current: str | None = None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            where = f"{path}:{lineno}"
            if not text:
                current = None
                continue
            first = text.split(";", 1)[0].strip()
            if first.lower().endswith(".wav"):
                current = first
                table.votes.setdefault(current, [])
            elif current is None:
                table.stray.append(Dropped(MALFORMED_BLOCK, where, f"worker line {text!r} outside a block"))
            else:
                _add_vote(table, current, text, where, MALFORMED_BLOCK)
    return table


def read_transcript(folder: Path, file_name: str) -> str | None:
    """``Transcripts/<name>.txt`` (one line), or None when absent."""
    path = folder / f"{Path(file_name).stem}.txt"
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except FileNotFoundError:
        return None


def _vad(row: dict[str, str]) -> VAD:
    return VAD(valence=float(row["EmoVal"]), arousal=float(row["EmoAct"]), dominance=float(row["EmoDom"]))


def iter_raw(root: Path, workers: WorkerVotes) -> Iterator[RawEntry | Dropped]:
    """One raw entry per consensus row, with that file's worker votes."""
    consensus = root / CONSENSUS_FILE
    yield from workers.stray
    with utf8_lines(consensus) as lines:
        reader = csv.DictReader(lines)
        missing = [c for c in CONSENSUS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CotgenError(f"{consensus}:1: missing columns {', '.join(missing)}")
        for row in reader:
            where = f"{consensus}:{reader.line_num}"
            name = (row["FileName"] or "").strip()
            if name in workers.bad:
                yield workers.bad[name]
                continue
            emo_class = (row["EmoClass"] or "").strip()
            if not name or (emo_class not in EMO_CLASS_CODES and emo_class != NO_AGREEMENT):
                yield Dropped(MALFORMED_ROW, where, f"FileName {name!r} / EmoClass {emo_class!r}")
                continue
            votes = workers.votes.get(name, [])
            if not votes:
                yield Dropped(NO_VOTES, where, f"{name}: no worker labels")
                continue
            try:
                vad = _vad(row)
            except ValueError as exc:
                yield Dropped(MALFORMED_ROW, where, f"{name}: {exc}")
                continue
            podcast, segment = podcast_position(Path(name).stem)
            yield RawEntry(
                id=Path(name).stem,
                where=where,
                audio=root / "Audios" / name,
                vote_counts=weighted_vote_counts(votes),
                n_annotators=counted_annotators(votes),
                votes=votes,
                reference=EMO_CLASS_CODES.get(emo_class, NO_AGREEMENT_CODE),
                speaker=(row["SpkrID"] or "").strip() or None,
                gender=GENDERS.get((row["Gender"] or "").strip()),
                session=(row["Split_Set"] or "").strip() or None,
                transcript=read_transcript(root / "Transcripts", name),
                vad=vad,
                meta={"emo_class": emo_class},
                dialogue=podcast,
                turn=segment,
            )


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load an MSP-Podcast release; worker labels from labels_detailed.csv, else labels.txt."""
    root = absolute(root)
    require_paths("MSP-Podcast", root, LAYOUT, [root / CONSENSUS_FILE])
    if (root / DETAILED_FILE).is_file():
        workers = read_detailed(root / DETAILED_FILE)
    elif (root / RAW_LABELS_FILE).is_file():
        workers = read_raw_labels(root / RAW_LABELS_FILE)
    else:
        raise layout_error("MSP-Podcast", root, LAYOUT, root / DETAILED_FILE)
    if not allow_missing_audio:
        require_paths("MSP-Podcast", root, f"{LAYOUT}; or pass --allow-missing-audio", [root / "Audios"])
    return assemble(NAME, iter_raw(root, workers), class_set, allow_missing_audio)
