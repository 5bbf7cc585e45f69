"""MSP-IMPROV: every rater's label from ``Evaluation.txt`` -> raw entries.

The label file (``Evaluation.txt``; some copies spell it ``Evalution.txt``) holds one block per clip,
blocks separated by blank lines. A block starts with the clip's header
``UTD-IMPROV-S01A-F01-P-MF01.avi; N; A:3.000000; V:3.500000; D:3.000000 ; N:5.000000;`` (consensus
class A/H/S/N/O, or X for no agreement, then the mean ratings) and continues with one line per rater,
``<rater id>; <Angry|Happy|Sad|Neutral|Other>; <secondary labels, possibly empty>; A:..; V:..; D:..; N:..;``.
Values may be ``NaN``. A rater listed twice on a clip counts once (the first line). The id says everything
else: ``S01A`` is target sentence 01 in the angry scenario, ``F01`` the speaker (gender and number; the
number is the session, the leave-one-session-out unit), ``P|R|S|T`` the recording type, and the clip lies at
``session1/S01A/P/MSP-IMPROV-S01A-F01-P-MF01.wav`` (optionally under ``Audio/``). The header class is the
reference for fixed class sets, as IEMOCAP's header label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import MALFORMED_BLOCK, UNKNOWN_LABEL, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.textfile import utf8_lines
from cotgen.corpora.votes import counted_annotators, weighted_vote_counts
from cotgen.records.utterance import VAD

NAME = "msp-improv"
DEFAULT_CLASSES = "4"
LABEL_FILES = ("Evaluation.txt", "Evalution.txt")
LAYOUT = "Evaluation.txt (or Evalution.txt) and [Audio/]session1..6/<S01A>/<P|R|S|T>/MSP-IMPROV-<id>.wav"
CLASSES_HELP = "4 (default: neu, hap, ang, sad; kept by the header class), all (adds oth), or custom"

HEADER_CODES: dict[str, str] = {"A": "ang", "H": "hap", "S": "sad", "N": "neu", "O": "oth"}
NO_AGREEMENT, NO_AGREEMENT_CODE = "X", "xxx"
PRIMARY_CODES: dict[str, str] = {"angry": "ang", "happy": "hap", "sad": "sad", "neutral": "neu", "other": "oth"}
DUPLICATE_RATERS = "duplicate rater lines (each rater counted once)"

_ID = re.compile(r"^UTD-IMPROV-(S(\d{2})([AHSN]))-([FM])(\d{2})-([PRST])-([A-Za-z]{2}\d{2})$")


@dataclass(frozen=True)
class ClipId:
    """The parts of ``UTD-IMPROV-S01A-F01-P-MF01``."""

    id: str
    folder: str  # S01A
    sentence: str  # 01
    scenario: str  # A, H, S or N
    gender: str
    speaker: str  # F01
    session: str  # "1".."6"
    kind: str  # P, R, S or T
    take: str  # MF01

    @property
    def audio_name(self) -> str:
        return self.id.replace("UTD-IMPROV-", "MSP-IMPROV-", 1) + ".wav"


def parse_clip_id(text: str) -> ClipId:
    """``UTD-IMPROV-S01A-F01-P-MF01`` -> its parts; ValueError naming the expected shape otherwise."""
    match = _ID.match(text)
    if match is None:
        raise ValueError(f"clip id {text!r} is not UTD-IMPROV-S<nn><A|H|S|N>-<F|M><nn>-<P|R|S|T>-<take>")
    folder, sentence, scenario, gender, number, kind, take = match.groups()
    return ClipId(text, folder, sentence, scenario, gender, f"{gender}{number}", str(int(number)), kind, take)


def _fields(line: str) -> list[str]:
    """``a; b; ;c;`` -> ["a", "b", "", "c"]: split on ';' with the trailing empty field removed."""
    fields = [field.strip() for field in line.strip().split(";")]
    return fields[:-1] if fields and fields[-1] == "" else fields


def _ratings(fields: list[str]) -> dict[str, float]:
    """``A:3.0``, ``V:NaN``... -> {"A": 3.0, "V": nan}; ValueError on a field that is not KEY:number."""
    ratings = {}
    for field in fields:
        key, sep, value = field.partition(":")
        if not sep or key.strip() not in ("A", "V", "D", "N"):
            raise ValueError(f"field {field!r} is not A:, V:, D: or N: with a number")
        ratings[key.strip()] = float(value)  # float() reads NaN
    return ratings


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class Block:
    """One clip's header and rater lines, with the line numbers they came from."""

    header: tuple[int, str]
    raters: list[tuple[int, str]]


def iter_blocks(path: Path) -> Iterator[Block | Dropped]:
    """The blocks of the label file; a rater line before any header is a Dropped note."""
    current: Block | None = None
    with utf8_lines(path) as lines:
        for lineno, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                if current is not None:
                    yield current
                current = None
                continue
            if _fields(line)[0].lower().endswith(".avi"):
                if current is not None:
                    yield current
                current = Block((lineno, line), [])
            elif current is None:
                yield Dropped(MALFORMED_BLOCK, f"{path}:{lineno}", f"rater line {line!r} outside a clip block")
            else:
                current.raters.append((lineno, line))
    if current is not None:
        yield current


class BlockError(ValueError):
    """A block that cannot be read: the drop reason and the line where it went wrong."""

    def __init__(self, reason: str, lineno: int, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.lineno, self.detail = reason, lineno, detail


def _rater_votes(block: Block) -> tuple[list[list[str]], int]:
    """Each distinct rater's primary emotion as a one-label vote, and how many repeated lines were ignored."""
    votes: list[list[str]] = []
    seen: set[str] = set()
    duplicates = 0
    for lineno, line in block.raters:
        fields = _fields(line)
        if len(fields) < 3 or not fields[0] or not fields[1]:
            raise BlockError(MALFORMED_BLOCK, lineno, f"{line!r} is not 'rater; Primary; secondary; A:..; V:..; ...'")
        rater, primary = fields[0], fields[1].lower()
        code = PRIMARY_CODES.get("other" if primary.startswith("other") else primary)
        if code is None:
            raise BlockError(UNKNOWN_LABEL, lineno, f"primary emotion {fields[1]!r} is not an MSP-IMPROV category")
        try:
            _ratings(fields[3:])
        except ValueError as exc:
            raise BlockError(MALFORMED_BLOCK, lineno, str(exc)) from None
        if rater in seen:
            duplicates += 1
            continue
        seen.add(rater)
        votes.append([code])
    return votes, duplicates


def _entry(block: Block, path: Path, audio_root: Path) -> tuple[RawEntry, int]:
    lineno, header = block.header
    fields = _fields(header)
    label = fields[1] if len(fields) > 1 else ""
    try:
        clip = parse_clip_id(fields[0][: -len(".avi")])
        ratings = _ratings(fields[2:])
    except ValueError as exc:
        raise BlockError(MALFORMED_BLOCK, lineno, f"header {header!r}: {exc}") from None
    if label not in HEADER_CODES and label != NO_AGREEMENT:
        raise BlockError(UNKNOWN_LABEL, lineno, f"header class {label!r} is not A, H, S, N, O or X")
    votes, duplicates = _rater_votes(block)
    vad = VAD(valence=_finite(ratings.get("V")), arousal=_finite(ratings.get("A")), dominance=_finite(ratings.get("D")))
    entry = RawEntry(
        id=clip.id,
        where=f"{path}:{lineno}",
        audio=audio_root / f"session{clip.session}" / clip.folder / clip.kind / clip.audio_name,
        vote_counts=weighted_vote_counts(votes),
        n_annotators=counted_annotators(votes),
        votes=votes,
        reference=HEADER_CODES.get(label, NO_AGREEMENT_CODE),
        speaker=clip.speaker,
        gender=clip.gender,
        session=clip.session,
        vad=vad,
        meta={"header_label": label, "sentence": clip.sentence, "scenario": clip.scenario, "type": clip.kind},
    )
    return entry, duplicates


def find_label_file(root: Path) -> Path:
    """``Evaluation.txt`` or ``Evalution.txt`` in ``root``; a layout error naming the first when neither is."""
    require_paths("MSP-IMPROV", root, LAYOUT, [])
    for name in LABEL_FILES:
        if (root / name).is_file():
            return root / name
    raise layout_error("MSP-IMPROV", root, LAYOUT, root / LABEL_FILES[0])


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load MSP-IMPROV from its label file; the audio tree is ``root/Audio/`` when present, else ``root``."""
    root = absolute(root)
    path = find_label_file(root)
    audio_root = root / "Audio" if (root / "Audio").is_dir() else root
    duplicates = 0

    def items() -> Iterator[RawEntry | Dropped]:
        nonlocal duplicates
        for block in iter_blocks(path):
            if isinstance(block, Dropped):
                yield block
                continue
            try:
                entry, repeated = _entry(block, path, audio_root)
            except BlockError as exc:
                yield Dropped(exc.reason, f"{path}:{exc.lineno}", exc.detail)
                continue
            duplicates += repeated
            yield entry

    load = assemble(NAME, items(), class_set, allow_missing_audio)
    if duplicates:
        load.notes[DUPLICATE_RATERS] = duplicates
    return load
