"""TESS (Toronto emotional speech set): the label is in the file name.

Two actresses (``OAF``, aged 64, and ``YAF``, aged 26) say "Say the word <word>" for 200 words in seven
emotions; a clip is ``<speaker>_<word>_<emotion>.wav`` (``angry, disgust, fear, happy, neutral, ps, sad``;
``ps`` is pleasant surprise), usually in one folder per speaker and emotion (``OAF_angry/``), which is
searched recursively. The emotion is the intended one: single-label data. Both speakers are female.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cotgen.corpora.classes import ClassSet
from cotgen.corpora.entries import CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, require_paths
from cotgen.corpora.single_label import UNEXPECTED_NAME, one_hot_entry

NAME = "tess"
DEFAULT_CLASSES = "all"
LAYOUT = "<speaker>_<word>_<emotion>.wav files (OAF/YAF speakers), in any folders below the root"
CLASSES_HELP = "all (default: seven intended emotions, ps as sur), 4 (neu, hap, ang, sad), or custom"

SPEAKERS = frozenset({"OAF", "YAF"})
EMOTIONS: dict[str, str] = {
    "angry": "ang",
    "disgust": "dis",
    "fear": "fea",
    "happy": "hap",
    "neutral": "neu",
    "ps": "sur",
    "sad": "sad",
}


def parse_name(stem: str) -> tuple[str, str, str]:
    """``OAF_back_angry`` -> (speaker, word, emotion code); ValueError naming the expected shape otherwise."""
    parts = stem.split("_")
    if len(parts) != 3:
        raise ValueError(f"{stem!r} is not <speaker>_<word>_<emotion>")
    speaker, word, emotion = parts[0].upper(), parts[1], parts[2].lower()
    if speaker not in SPEAKERS or emotion not in EMOTIONS or not word:
        raise ValueError(f"{stem!r}: speaker must be OAF or YAF and emotion one of {', '.join(EMOTIONS)}")
    return speaker, word, EMOTIONS[emotion]


def iter_raw(root: Path) -> Iterator[RawEntry | Dropped]:
    """Every ``*.wav`` below ``root`` as a one-hot entry; names that do not parse as Dropped notes."""
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".wav" and not p.name.startswith("."))
    for path in paths:
        try:
            speaker, word, code = parse_name(path.stem)
        except ValueError as exc:
            yield Dropped(UNEXPECTED_NAME, str(path), str(exc))
            continue
        yield one_hot_entry(
            path.stem,
            str(path),
            path,
            code,
            speaker=speaker,
            gender="F",
            transcript=f"Say the word {word}.",
            meta={"word": word},
        )


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load TESS from any folder tree holding its clips."""
    root = absolute(root)
    require_paths("TESS", root, LAYOUT, [])
    return assemble(NAME, iter_raw(root), class_set, allow_missing_audio)
