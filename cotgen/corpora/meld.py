"""MELD (Multimodal EmotionLines Dataset, Friends dialogues): one label per utterance, clips as mp4.

``{train,dev,test}_sent_emo.csv`` have ``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID,
Utterance_ID, Season, Episode, StartTime, EndTime``; the clip of a row is ``dia<D>_utt<U>.mp4`` in its split's
folder (``train_splits/``, ``dev_splits_complete/``, ``output_repeated_splits_test/`` in the release, or
``train/``, ``dev/``, ``test/``). Its audio is decoded from the mp4 with librosa and ffmpeg. The emotion is
the annotators' majority label, so the distribution is one-hot (single-label data); ``joy`` is ``hap``.
Ids repeat across splits (``dia0_utt0`` is in all three), so an utterance's id is ``<split>_dia<D>_utt<U>``.
The official split becomes ``session`` (Train, Development, Test). Turns are ordered by Utterance_ID within
their dialogue, for dialogue context.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import MALFORMED_ROW, UNKNOWN_LABEL, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.single_label import one_hot_entry
from cotgen.corpora.textfile import utf8_lines

NAME = "meld"
DEFAULT_CLASSES = "all"
LAYOUT = (
    "{train,dev,test}_sent_emo.csv and the clips dia<D>_utt<U>.mp4 in train_splits/, dev_splits_complete/,"
    " output_repeated_splits_test/ (or train/, dev/, test/)"
)
CLASSES_HELP = "all (default: seven emotions, joy as hap), 4 (neu, hap, ang, sad), or custom"

# split -> (label file, clip folders in the order they are looked for, partition name)
SPLITS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "train": ("train_sent_emo.csv", ("train_splits", "train"), "Train"),
    "dev": ("dev_sent_emo.csv", ("dev_splits_complete", "dev_splits", "dev"), "Development"),
    "test": ("test_sent_emo.csv", ("output_repeated_splits_test", "test_splits", "test"), "Test"),
}
REQUIRED = ("Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
EMOTIONS: dict[str, str] = {
    "neutral": "neu",
    "joy": "hap",
    "sadness": "sad",
    "anger": "ang",
    "surprise": "sur",
    "fear": "fea",
    "disgust": "dis",
}
META_COLUMNS = ("Sentiment", "Season", "Episode", "StartTime", "EndTime")


def clip_folder(root: Path, split: str) -> Path:
    """The first of the split's clip folders that exists (the release's name when none does)."""
    names = SPLITS[split][1]
    return next((root / name for name in names if (root / name).is_dir()), root / names[0])


def _row_entry(row: dict[str, str], where: str, split: str, folder: Path) -> RawEntry | Dropped:
    emotion = (row["Emotion"] or "").strip().lower()
    code = EMOTIONS.get(emotion)
    if code is None:
        return Dropped(UNKNOWN_LABEL, where, f"emotion {row['Emotion']!r} is not one of {', '.join(EMOTIONS)}")
    try:
        dialogue, utterance = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
    except (TypeError, ValueError):
        return Dropped(
            MALFORMED_ROW, where, f"Dialogue_ID {row['Dialogue_ID']!r} / Utterance_ID {row['Utterance_ID']!r}"
        )
    name = f"dia{dialogue}_utt{utterance}"
    return one_hot_entry(
        f"{split}_{name}",
        where,
        folder / f"{name}.mp4",
        code,
        speaker=(row["Speaker"] or "").strip() or None,
        session=SPLITS[split][2],
        transcript=(row["Utterance"] or "").strip() or None,
        meta={column.lower(): (row.get(column) or "").strip() for column in META_COLUMNS if row.get(column)},
        dialogue=f"{split}/{dialogue}",
        turn=float(utterance),
    )


def iter_split(root: Path, split: str) -> Iterator[RawEntry | Dropped]:
    """The rows of one split's label file as one-hot entries; bad rows as Dropped with ``file:line``."""
    path = root / SPLITS[split][0]
    folder = clip_folder(root, split)
    with utf8_lines(path) as lines:
        reader = csv.DictReader(lines)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [column for column in REQUIRED if column not in header]
        if missing:
            raise CotgenError(f"{path}:1: missing columns {', '.join(missing)} (expected {', '.join(REQUIRED)}, ...)")
        reader.fieldnames = header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or any(value is None for value in row.values()):
                yield Dropped(MALFORMED_ROW, where, "number of fields differs from the header")
                continue
            yield _row_entry(row, where, split, folder)


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load MELD from the folder holding its label files (``MELD.Raw``); a missing split file is skipped."""
    root = absolute(root)
    require_paths("MELD", root, LAYOUT, [])
    present = [split for split, (label_file, _, _) in SPLITS.items() if (root / label_file).is_file()]
    if not present:
        raise layout_error("MELD", root, LAYOUT, root / SPLITS["train"][0])

    def items() -> Iterator[RawEntry | Dropped]:
        for split in present:
            yield from iter_split(root, split)

    return assemble(NAME, items(), class_set, allow_missing_audio)
