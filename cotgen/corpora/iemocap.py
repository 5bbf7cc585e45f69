"""IEMOCAP (``IEMOCAP_full_release``): evaluation blocks and transcripts -> raw entries.

Each ``SessionN/dialog/EmoEvaluation/<dialog>.txt`` holds one block per utterance: a header line
``[start - end]<TAB>id<TAB>label<TAB>[V, A, D]`` then evaluator lines (``C-E2:<TAB>Frustration; Sadness;
<TAB>(comment)``) up to a blank line. Fields are split on tabs because comments contain spaces, commas
and colons. External evaluators (``C-E*``) vote; the actors' self-evaluations (``C-F*``, ``C-M*``) only
with ``self_eval``. The header label is the reference that decides membership of a fixed class set, which
reproduces the usual 5,531-utterance four-class benchmark (exc read as hap). Each block is a turn of its
dialog, ordered by start time, for dialogue context (``--context``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import MALFORMED_BLOCK, UNKNOWN_LABEL, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths, visible_files
from cotgen.corpora.votes import counted_annotators, weighted_vote_counts
from cotgen.records.utterance import VAD

NAME = "iemocap"
DEFAULT_CLASSES = "4"
SESSIONS = ("Session1", "Session2", "Session3", "Session4", "Session5")
LAYOUT = (
    "IEMOCAP_full_release/Session1..5/ with dialog/EmoEvaluation/<dialog>.txt, dialog/transcriptions/<dialog>.txt"
    " and sentences/wav/<dialog>/<utterance>.wav"
)
CLASSES_HELP = "4 (default: neu, hap+exc, ang, sad; kept by header label, the 5,531 benchmark set), all, or custom"

LABEL_CODES = frozenset({"neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth"})
NO_AGREEMENT = "xxx"

_TIMES = re.compile(r"^\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]$")
_VAD = re.compile(r"^\[\s*(\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?)\s*\]$")
_EVALUATOR = re.compile(r"^([CA])-([A-Za-z]+\d*):$")
_SESSION = re.compile(r"^Ses(\d+)")
_TRANSCRIPT = re.compile(r"^(\S+) \[[^\]]*\]:\s?(.*)$")


class BlockError(ValueError):
    """A block that cannot be read; carries the drop reason and the offending line."""

    def __init__(self, reason: str, lineno: int, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.lineno = lineno
        self.detail = detail


def label_code(word: str) -> str:
    """IEMOCAP label word -> code by its first three lowercase letters ("Neutral state" -> neu)."""
    return word.strip()[:3].lower()


@dataclass(frozen=True)
class Block:
    """One evaluation block as written in the file."""

    id: str
    label: str
    start: float
    end: float
    vad: VAD
    external: list[list[str]]
    self_evaluations: list[list[str]]
    lineno: int


def _labels(field: str, lineno: int) -> list[str]:
    codes = []
    for word in field.split(";"):
        if not word.strip():
            continue
        code = label_code(word)
        if code not in LABEL_CODES:
            raise BlockError(UNKNOWN_LABEL, lineno, f"label {word.strip()!r} is not an IEMOCAP category")
        codes.append(code)
    return codes


def parse_header(line: str, lineno: int) -> tuple[str, str, float, float, VAD]:
    """``[start - end]<TAB>id<TAB>label<TAB>[V, A, D]`` -> (id, label, start, end, vad)."""
    fields = line.split("\t")
    if len(fields) != 4:
        raise BlockError(MALFORMED_BLOCK, lineno, f"header has {len(fields)} tab-separated fields, expected 4")
    times, utt_id, label, vad_text = (field.strip() for field in fields)
    time_match, vad_match = _TIMES.match(times), _VAD.match(vad_text)
    if time_match is None or vad_match is None or not utt_id:
        raise BlockError(MALFORMED_BLOCK, lineno, f"header {line.strip()!r} is not '[start - end] id label [V, A, D]'")
    if label not in LABEL_CODES and label != NO_AGREEMENT:
        raise BlockError(UNKNOWN_LABEL, lineno, f"header label {label!r} is not an IEMOCAP code")
    valence, arousal, dominance = (float(x) for x in vad_match.groups())
    vad = VAD(valence=valence, arousal=arousal, dominance=dominance)
    return utt_id, label, float(time_match.group(1)), float(time_match.group(2)), vad


def _parse_block(lines: list[tuple[int, str]]) -> Block:
    header_lineno, header = lines[0]
    utt_id, label, start, end, vad = parse_header(header, header_lineno)
    external: list[list[str]] = []
    self_evaluations: list[list[str]] = []
    for lineno, line in lines[1:]:
        fields = line.split("\t")
        match = _EVALUATOR.match(fields[0].strip())
        if match is None:
            raise BlockError(MALFORMED_BLOCK, lineno, f"line {line.strip()!r} is not an evaluator line")
        kind, evaluator = match.groups()
        if kind == "A":
            continue  # dimensional ratings; the header carries their mean
        codes = _labels(fields[1] if len(fields) > 1 else "", lineno)
        (external if evaluator.startswith("E") else self_evaluations).append(codes)
    return Block(utt_id, label, start, end, vad, external, self_evaluations, header_lineno)


def iter_blocks(path: Path) -> Iterator[Block | BlockError]:
    """Every block of an EmoEvaluation file, or a BlockError for each unreadable one (the rest go on)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        text_lines = handle.read().splitlines()
    current: list[tuple[int, str]] = []

    def flush() -> Iterator[Block | BlockError]:
        if current:
            try:
                yield _parse_block(current)
            except BlockError as exc:
                yield exc
            current.clear()

    for lineno, line in enumerate(text_lines, start=1):
        if not line.strip():
            yield from flush()
        elif line.startswith("%"):
            continue
        elif line.startswith("["):
            yield from flush()
            current.append((lineno, line))
        elif current:
            current.append((lineno, line))
        else:
            yield BlockError(MALFORMED_BLOCK, lineno, f"line {line.strip()!r} outside any block")
    yield from flush()


def read_transcripts(path: Path) -> dict[str, str]:
    """``id [start-end]: text`` lines -> id -> text; other lines (noise markers without ids) are ignored."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        matches = (_TRANSCRIPT.match(line.rstrip("\r\n")) for line in handle)
        return {m.group(1): m.group(2).strip() for m in matches if m is not None}


def speaker_of(utt_id: str) -> tuple[str, str, str]:
    """(speaker, gender, session) from an id: session + the letter starting the LAST ``_`` field.

    ``Ses01F_impro01_M000`` is the male speaker of session 1 (``Ses01M``); the dialog part varies
    (``Ses03M_impro05a``, ``Ses05M_script01_1b``), so no fixed character positions are used.
    """
    session = _SESSION.match(utt_id)
    last = utt_id.rsplit("_", 1)[-1]
    if session is None or "_" not in utt_id or not last or last[0] not in "FM":
        raise ValueError(f"id {utt_id!r} is not SesNN<dialog>_<F|M>NNN")
    return f"Ses{session.group(1)}{last[0]}", last[0], str(int(session.group(1)))


def _entry(block: Block, path: Path, wav_dir: Path, transcripts: dict[str, str], self_eval: bool) -> RawEntry:
    votes = block.external + (block.self_evaluations if self_eval else [])
    voted = [labels for labels in votes if labels]
    speaker, gender, session = speaker_of(block.id)
    dialog = path.stem
    return RawEntry(
        id=block.id,
        where=f"{path}:{block.lineno}",
        audio=wav_dir / f"{block.id}.wav",
        vote_counts=weighted_vote_counts(voted),
        n_annotators=counted_annotators(voted),
        votes=voted,
        reference=block.label,  # "xxx" (no agreement) is in no fixed class set
        speaker=speaker,
        gender=gender,
        session=session,
        transcript=transcripts.get(block.id),
        vad=block.vad,
        meta={"dialog": dialog, "header_label": block.label, "start": block.start, "end": block.end},
        dialogue=f"{session}/{dialog}",
        turn=block.start,
    )


def find_release(root: Path) -> Path:
    """The ``IEMOCAP_full_release`` folder: ``root`` itself, or that folder directly inside it."""
    nested = root / "IEMOCAP_full_release"
    return nested if not (root / SESSIONS[0]).exists() and nested.is_dir() else root


def session_dirs(root: Path) -> list[Path]:
    """The sessions present under the release folder; a layout error when none or one is incomplete."""
    require_paths("IEMOCAP", root, LAYOUT, [])
    present = [root / name for name in SESSIONS if (root / name).is_dir()]
    if not present:
        raise layout_error("IEMOCAP", root, LAYOUT, root / SESSIONS[0])
    for session in present:
        require_paths("IEMOCAP", root, LAYOUT, [session / "dialog" / "EmoEvaluation"])
    return present


def iter_raw(root: Path, self_eval: bool = False) -> Iterator[RawEntry | Dropped]:
    """Every block of every session as a raw entry, or a Dropped note with ``file:line``."""
    for session_dir in session_dirs(root):
        dialog_dir = session_dir / "dialog"
        for path in visible_files(dialog_dir / "EmoEvaluation", "*.txt"):
            transcripts = read_transcripts(dialog_dir / "transcriptions" / path.name)
            wav_dir = session_dir / "sentences" / "wav" / path.stem
            for item in iter_blocks(path):
                if isinstance(item, BlockError):
                    yield Dropped(item.reason, f"{path}:{item.lineno}", item.detail)
                    continue
                try:
                    yield _entry(item, path, wav_dir, transcripts, self_eval)
                except ValueError as exc:
                    yield Dropped(MALFORMED_BLOCK, f"{path}:{item.lineno}", str(exc))


def load(root: Path, class_set: ClassSet, self_eval: bool = False, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load an IEMOCAP release folder (or its parent) under ``class_set``."""
    release = find_release(absolute(root))
    return assemble(NAME, iter_raw(release, self_eval), class_set, allow_missing_audio)
