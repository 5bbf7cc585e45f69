"""ESD (Emotional Speech Dataset): the label is the folder, the split is the subfolder.

Twenty speakers (``0001``-``0010`` Mandarin, ``0011``-``0020`` English) each read 350 sentences in five
emotions: ``<speaker>/<Emotion>/<train|evaluation|test>/<speaker>_<nnnnnn>.wav`` (some copies have no split
subfolders), with the transcripts in ``<speaker>/<speaker>.txt``, one ``id<TAB>text<TAB>emotion`` line per
clip. Those files are not all UTF-8: some Mandarin ones are GB18030 (GBK) and some carry a BOM or are
UTF-16, so each is decoded by the first encoding that reads it whole. The folder's emotion is the intended
one (single-label data); the split folders become ``session`` (train -> Train, evaluation -> Development,
test -> Test), the partition ``cotgen export --split corpus`` uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths, visible_files
from cotgen.corpora.single_label import UNEXPECTED_NAME, one_hot_entry

NAME = "esd"
DEFAULT_CLASSES = "all"
LAYOUT = (
    "<speaker 0001-0020>/<Angry|Happy|Neutral|Sad|Surprise>/[train|evaluation|test/]<id>.wav, <speaker>/<speaker>.txt"
)
CLASSES_HELP = "all (default: five intended emotions), 4 (neu, hap, ang, sad), or custom"

EMOTIONS: dict[str, str] = {"angry": "ang", "happy": "hap", "neutral": "neu", "sad": "sad", "surprise": "sur"}
SPLITS: dict[str, str] = {"train": "Train", "evaluation": "Development", "test": "Test"}
ENCODINGS = ("utf-8-sig", "utf-16", "gb18030")
UNREADABLE_LINES = "transcript lines not id<TAB>text<TAB>emotion"
_SPEAKER = re.compile(r"^\d{4}$")


def language(speaker: str) -> str:
    """``zh`` for speakers 0001-0010, ``en`` for 0011-0020."""
    return "zh" if int(speaker) <= 10 else "en"


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) by the first of UTF-8 (BOM allowed), UTF-16 (with a BOM) and GB18030 that reads it all."""
    for encoding in ENCODINGS:
        if encoding == "utf-16" and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            continue
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "utf-8 (undecodable bytes replaced)"


def read_transcripts(path: Path) -> tuple[dict[str, str], int]:
    """id -> text from ``<speaker>.txt`` and how many non-empty lines were not ``id<TAB>text<TAB>emotion``."""
    if not path.is_file():
        return {}, 0
    text, _ = decode(path.read_bytes())
    transcripts: dict[str, str] = {}
    unreadable = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            unreadable += 1
            continue
        transcripts[fields[0].strip()] = fields[1].strip()
    return transcripts, unreadable


def _clips(emotion_dir: Path) -> Iterator[tuple[Path, str | None]]:
    """(wav, split) below one emotion folder: in its split subfolders, or directly inside it."""
    for path in visible_files(emotion_dir, "*.wav"):
        yield path, None
    for sub in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
        split = SPLITS.get(sub.name.lower())
        for path in visible_files(sub, "*.wav"):
            yield path, split if split is not None else sub.name


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load an ESD release (the folder holding the speaker folders, or ``Emotional Speech Dataset (ESD)``)."""
    root = absolute(root)
    require_paths("ESD", root, LAYOUT, [])
    speakers = sorted(p for p in root.iterdir() if p.is_dir() and _SPEAKER.match(p.name))
    if not speakers:
        raise layout_error("ESD", root, LAYOUT, root / "0001")
    unreadable = 0

    def items() -> Iterator[RawEntry | Dropped]:
        nonlocal unreadable
        for speaker_dir in speakers:
            speaker = speaker_dir.name
            transcripts, bad = read_transcripts(speaker_dir / f"{speaker}.txt")
            unreadable += bad
            for emotion_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
                code = EMOTIONS.get(emotion_dir.name.lower())
                if code is None:
                    yield Dropped(
                        UNEXPECTED_NAME, str(emotion_dir), "emotion folder not Angry/Happy/Neutral/Sad/Surprise"
                    )
                    continue
                for path, split in _clips(emotion_dir):
                    if split is not None and split not in SPLITS.values():
                        yield Dropped(UNEXPECTED_NAME, str(path), f"split folder {split!r} not train/evaluation/test")
                        continue
                    if not path.stem.startswith(f"{speaker}_"):
                        yield Dropped(UNEXPECTED_NAME, str(path), f"clip of speaker folder {speaker} not {speaker}_*")
                        continue
                    yield one_hot_entry(
                        path.stem,
                        str(path),
                        path,
                        code,
                        speaker=speaker,
                        session=split,
                        transcript=transcripts.get(path.stem),
                        meta={"language": language(speaker)},
                    )

    load = assemble(NAME, items(), class_set, allow_missing_audio)
    if unreadable:
        load.notes[UNREADABLE_LINES] = unreadable
    return load
