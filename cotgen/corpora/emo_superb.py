"""EMO-SUPERB label files: one reader for the six corpora the benchmark publishes distributions for.

EMO-SUPERB ships, per corpus (IEMOCAP, CREMA-D, MSP-IMPROV, MSP-Podcast, NNIME, BIIC-Podcast) and label
type (``Primary/``, ``Secondary/``), a ``config.json`` whose ``categorical.emo_type`` lists the classes and
one ``labels_consensus_<n>.csv`` per fold with ``FileName``, one probability column per class (named as in
the config), ``SpkrID``, ``Gender`` and ``Split_Set`` (Train / Development / Test). ``--root`` names the
fold's CSV (or a label folder holding a single one); the clips are ``Audios/<FileName>`` in the corpus
folder above the label folder.

The published probabilities are label-smoothed: every class gets a floor e, p' = p·(1 − k·e) + e for k
classes. The floor is estimated as the smallest probability in the file (a class nobody chose has p = 0,
so its p' is exactly e) and undone, p = (p' − e) / (1 − k·e), each row then renormalised to absorb the
file's rounding (3 to 6 decimals). The summary states the floor and k.
``Split_Set`` becomes ``session``, the partition ``cotgen export --split corpus`` uses.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import CODE_PATTERN, ClassSet
from cotgen.corpora.entries import MALFORMED_ROW, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.textfile import utf8_lines
from cotgen.corpora.votes import tally_counts

NAME = "emo-superb"
DEFAULT_CLASSES = "all"
LAYOUT = (
    "<corpus>/<Primary|Secondary>/labels_consensus_<n>.csv (pass the file) with config.json beside it,"
    " and the clips in <corpus>/Audios/"
)
CLASSES_HELP = "all (default: the config's classes), 4 (neu, hap, ang, sad; renormalised), or custom"

CONFIG_FILE = "config.json"
AUDIO_DIR = "Audios"
FIXED_COLUMNS = ("FileName", "SpkrID", "Gender", "Split_Set")
GENDERS: dict[str, str] = {"female": "F", "f": "F", "male": "M", "m": "M"}
SPLITS = frozenset({"Train", "Development", "Test"})
ROW_SUM_TOLERANCE = 0.02  # rows are printed with 3 to 6 decimals
NAMED_CODES: dict[str, str] = {"happy": "hap", "surprise": "sur", "contempt": "con", "other": "oth"}
_FOLD = re.compile(r"^labels?_consensus_(\d+)\.csv$")

FLOOR_NOTE = "smoothing floor e (estimated, undone)"
CLASSES_NOTE = "smoothing classes k"


def class_code(name: str) -> str:
    """A class name of config.json -> its code (``angry`` -> ang, ``happy`` -> hap, ``depressed`` -> dep)."""
    word = name.strip().lower()
    code = NAMED_CODES.get(word, word[:3])
    if not CODE_PATTERN.match(code):
        raise ValueError(f"class {name!r} gives no class code")
    return code


def read_classes(path: Path) -> list[str]:
    """The class names of ``config.json`` (``categorical.emo_type``); CotgenError naming the file otherwise."""
    try:
        config = json.loads(path.read_text(encoding="utf-8-sig"))
        names = config["categorical"]["emo_type"]
    except FileNotFoundError:
        raise CotgenError(f"{path}: missing (EMO-SUPERB puts config.json beside the label files)") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CotgenError(f"{path}: expected JSON with categorical.emo_type, a list of class names ({exc})") from None
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise CotgenError(f"{path}: categorical.emo_type must list at least two class names")
    codes = [class_code(name) for name in names]
    if len(set(codes)) != len(codes):
        raise CotgenError(f"{path}: class names {names} give repeated codes {codes}")
    return names


def find_label_file(root: Path) -> Path:
    """The fold's CSV: ``root`` itself, or the one ``labels_consensus_<n>.csv`` of a label folder."""
    require_paths("EMO-SUPERB", root, LAYOUT, [])
    if root.is_file():
        return root
    folds = sorted(p for p in root.glob("label*_consensus_*.csv") if _FOLD.match(p.name))
    if len(folds) == 1:
        return folds[0]
    if not folds:
        raise layout_error("EMO-SUPERB", root, LAYOUT, root / "labels_consensus_1.csv")
    names = ", ".join(p.name for p in folds[:4])
    raise CotgenError(f"{root}: {len(folds)} folds ({names}, ...): pass one of them as --root")


@dataclass(frozen=True)
class Smoothing:
    """The floor e of a label file over k classes."""

    floor: float
    classes: int

    def undo(self, values: list[float]) -> list[float]:
        """The exact inverse of p' = p(1 - k e) + e, renormalised (the file rounds p' to a few decimals).

        Values below the floor (none when the floor is the file's minimum) are read as 0.
        """
        scale = 1.0 - self.classes * self.floor
        raw = [max(0.0, (value - self.floor) / scale) for value in values]
        total = sum(raw)
        return [p / total for p in raw] if total > 0 else raw


def estimate_floor(rows: list[list[float]], k: int) -> float:
    """The smoothing floor: the smallest probability in the file (0 when some class has exactly 0)."""
    smallest = min((value for row in rows for value in row), default=0.0)
    if not 0.0 <= smallest < 1.0 / k:
        raise ValueError(f"smallest probability {smallest} is not a floor below 1/k = {1.0 / k:.4f}")
    return smallest


def _parse(row: dict[str, str], names: list[str]) -> list[float]:
    values = [float(row[name]) for name in names]
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"probabilities {values} must be finite and >= 0")
    if abs(sum(values) - 1.0) > ROW_SUM_TOLERANCE:
        raise ValueError(f"probabilities sum to {sum(values):.4f}, not 1")
    return values


def read_rows(path: Path, names: list[str]) -> tuple[list[tuple[str, dict[str, str], list[float]]], list[Dropped]]:
    """The rows with their parsed probabilities, and the rows that could not be read (as Dropped)."""
    kept: list[tuple[str, dict[str, str], list[float]]] = []
    dropped: list[Dropped] = []
    with utf8_lines(path) as lines:
        reader = csv.DictReader(lines)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in (*FIXED_COLUMNS, *names) if c not in header]
        if missing:
            raise CotgenError(f"{path}:1: missing columns {', '.join(missing)} (classes come from config.json)")
        reader.fieldnames = header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or any(value is None for value in row.values()):
                dropped.append(Dropped(MALFORMED_ROW, where, "number of fields differs from the header"))
                continue
            try:
                kept.append((where, row, _parse(row, names)))
            except ValueError as exc:
                dropped.append(Dropped(MALFORMED_ROW, where, f"{row['FileName'].strip()}: {exc}"))
    return kept, dropped


def _entries(
    rows: list[tuple[str, dict[str, str], list[float]]], codes: list[str], smoothing: Smoothing, audio_dir: Path
) -> Iterator[RawEntry | Dropped]:
    source = audio_dir.parent.name
    for where, row, values in rows:
        name = row["FileName"].strip()
        split = row["Split_Set"].strip()
        if not name or split not in SPLITS:
            yield Dropped(MALFORMED_ROW, where, f"FileName {name!r} / Split_Set {split!r} (expected Train, ...)")
            continue
        probabilities = smoothing.undo(values)
        yield RawEntry(
            id=Path(name).stem,
            where=where,
            audio=audio_dir / name,
            vote_counts=tally_counts(dict(zip(codes, probabilities))),
            n_annotators=0,  # the files give distributions, not counts
            speaker=row["SpkrID"].strip() or None,
            gender=GENDERS.get(row["Gender"].strip().lower()),
            session=split,
            meta={"emo_superb_corpus": source, "smoothed": dict(zip(codes, values))},
        )


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False) -> CorpusLoad:
    """Load one EMO-SUPERB fold file with its folder's config.json and its corpus's Audios/ folder."""
    path = find_label_file(absolute(root))
    names = read_classes(path.parent / CONFIG_FILE)
    codes = [class_code(name) for name in names]
    rows, dropped = read_rows(path, names)
    try:
        floor = estimate_floor([values for _, _, values in rows], len(codes))
    except ValueError as exc:
        raise CotgenError(f"{path}: cannot estimate the smoothing floor ({exc})") from None
    smoothing = Smoothing(floor, len(codes))
    audio_dir = path.parent.parent / AUDIO_DIR
    if not allow_missing_audio:
        require_paths("EMO-SUPERB", path.parent.parent, f"{LAYOUT}; or pass --allow-missing-audio", [audio_dir])
    load = assemble(NAME, chain(dropped, _entries(rows, codes, smoothing, audio_dir)), class_set, allow_missing_audio)
    fold = _FOLD.match(path.name)
    load.notes.update(
        {
            FLOOR_NOTE: round(floor, 6),
            CLASSES_NOTE: len(codes),
            "fold": int(fold.group(1)) if fold else path.stem,
        }
    )
    return load
