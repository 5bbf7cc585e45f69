"""RAVDESS (speech, audio only): the label is in the file name.

``Actor_12/03-01-05-01-02-01-12.wav`` has seven two-digit fields: modality (03 = audio only), vocal channel
(01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
08 surprised), intensity (01 normal, 02 strong), statement (01 "Kids are talking by the door", 02 "Dogs
are sitting by the door"), repetition (01, 02) and actor (01-24; odd actors are male, even female). The
emotion is the actor's intended one: single-label data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths, visible_files
from cotgen.corpora.single_label import UNEXPECTED_NAME, one_hot_entry

NAME = "ravdess"
DEFAULT_CLASSES = "all"
LAYOUT = "Actor_01..Actor_24/<modality>-<channel>-<emotion>-<intensity>-<statement>-<repetition>-<actor>.wav"
CLASSES_HELP = "all (default: the eight intended emotions, calm as cal), 4 (neu, hap, ang, sad), or custom"

AUDIO_ONLY = "03"
EMOTIONS: dict[str, str] = {
    "01": "neu",
    "02": "cal",
    "03": "hap",
    "04": "sad",
    "05": "ang",
    "06": "fea",
    "07": "dis",
    "08": "sur",
}
CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
INTENSITIES: dict[str, str] = {"01": "normal", "02": "strong"}
STATEMENTS: dict[str, str] = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
NOT_AUDIO_ONLY = "not an audio-only file"


def parse_name(stem: str) -> dict[str, str]:
    """The seven fields of a RAVDESS file name; ValueError naming the expected shape otherwise."""
    fields = stem.split("-")
    if len(fields) != 7 or not all(len(f) == 2 and f.isdigit() for f in fields):
        raise ValueError(f"{stem!r} is not seven two-digit fields MM-VV-EE-II-SS-RR-AA")
    modality, channel, emotion, intensity, statement, repetition, actor = fields
    known = (emotion in EMOTIONS, channel in CHANNELS, intensity in INTENSITIES, statement in STATEMENTS)
    if not all(known):
        raise ValueError(f"{stem!r} has an unknown emotion, channel, intensity or statement code")
    if not 1 <= int(actor) <= 24:
        raise ValueError(f"{stem!r}: actor {actor} is not 01-24")
    return {
        "modality": modality,
        "channel": channel,
        "emotion": emotion,
        "intensity": intensity,
        "statement": statement,
        "repetition": repetition,
        "actor": actor,
    }


def iter_raw(root: Path) -> Iterator[RawEntry | Dropped]:
    """Every ``Actor_NN/*.wav`` as a one-hot entry; names that do not parse as Dropped notes."""
    actors = sorted(p for p in root.glob("Actor_*") if p.is_dir())
    if not actors:
        raise layout_error("RAVDESS", root, LAYOUT, root / "Actor_01")
    for folder in actors:
        for path in visible_files(folder, "*.wav"):
            try:
                fields = parse_name(path.stem)
            except ValueError as exc:
                yield Dropped(UNEXPECTED_NAME, str(path), str(exc))
                continue
            if fields["modality"] != AUDIO_ONLY:
                yield Dropped(NOT_AUDIO_ONLY, str(path), f"modality {fields['modality']}, expected {AUDIO_ONLY}")
                continue
            if folder.name != f"Actor_{fields['actor']}":
                yield Dropped(UNEXPECTED_NAME, str(path), f"actor {fields['actor']} filed under {folder.name}")
                continue
            yield one_hot_entry(
                path.stem,
                str(path),
                path,
                EMOTIONS[fields["emotion"]],
                speaker=folder.name,
                gender="M" if int(fields["actor"]) % 2 else "F",
                transcript=STATEMENTS[fields["statement"]],
                meta={
                    "channel": CHANNELS[fields["channel"]],
                    "intensity": INTENSITIES[fields["intensity"]],
                    "repetition": int(fields["repetition"]),
                },
            )


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load a RAVDESS speech release (the folder holding ``Actor_01``..``Actor_24``)."""
    root = absolute(root)
    require_paths("RAVDESS", root, LAYOUT, [])
    return assemble(NAME, iter_raw(root), class_set, allow_missing_audio)
