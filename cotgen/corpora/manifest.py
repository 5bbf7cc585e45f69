"""Custom manifests (CSV or JSONL): a user's own corpus in one table -> raw entries.

Columns ``id, audio, transcript``, optional ``speaker, gender, session, n_annotators``, and the labels in
one of three styles: ``votes`` (one label per annotator, ``;``-separated; in JSONL also a list of labels
or a list of label lists for multi-label annotators), ``count_<code>`` columns, or ``distribution`` (an
object in JSONL, a JSON string in CSV). Any other column is kept in ``meta``. Relative audio paths
resolve against the manifest's folder. Entries are *strict*: with a fixed class set, a row that uses a
code outside it is dropped rather than silently losing that mass.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import CODE_PATTERN, ClassSet
from cotgen.corpora.entries import MALFORMED_ROW, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.votes import counted_annotators, tally_counts, weighted_vote_counts

NAME = "manifest"
DEFAULT_CLASSES = "all"
LAYOUT = (
    "a manifest FILE.csv or FILE.jsonl (or a folder holding manifest.csv / manifest.jsonl) with columns"
    " id, audio, transcript and one of votes, count_<code> or distribution"
)
CLASSES_HELP = "all (default: every code seen), 4 (neu, hap+exc, ang, sad), or custom; rows outside the set are dropped"

REQUIRED = ("id", "audio", "transcript")
KNOWN = frozenset({*REQUIRED, "speaker", "gender", "session", "n_annotators", "votes", "distribution", "meta"})
COUNT_PREFIX = "count_"
CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
GENDERS: dict[str, str] = {"f": "F", "female": "F", "m": "M", "male": "M"}
DISTRIBUTION_TOLERANCE = 1e-3


def find_manifest(root: Path) -> Path:
    """The manifest file: ``root`` itself, or ``manifest.csv`` / ``manifest.jsonl`` inside a folder."""
    require_paths("manifest", root, LAYOUT, [])
    if root.is_file():
        return root
    for name in ("manifest.csv", "manifest.jsonl"):
        if (root / name).is_file():
            return root / name
    raise layout_error("manifest", root, LAYOUT, root / "manifest.csv")


def _code(label: Any) -> str:
    code = str(label).strip().lower()
    if not CODE_PATTERN.match(code):
        raise ValueError(f"label {label!r} is not a class code (lowercase letters, digits, '_' or '-')")
    # A handful of codes recur in every vote of every row: one shared string each instead of a new one per
    # vote (about 300 bytes an utterance while the whole corpus is held by the loader).
    return sys.intern(code)


def parse_votes(value: Any) -> list[list[str]]:
    """``"neu;hap;neu"``, ``["neu", "hap"]`` or ``[["neu"], ["hap", "sad"]]`` -> per-annotator label lists."""
    if isinstance(value, str):
        return [[_code(label)] for label in value.split(";") if label.strip()]
    if isinstance(value, list):
        annotators = []
        for item in value:
            labels = item if isinstance(item, list) else [item]
            annotators.append([_code(label) for label in labels])
        return annotators
    raise ValueError(f"votes must be a ';'-separated string or a list, not {type(value).__name__}")


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} {value!r} must be a finite number >= 0")
    return number


def parse_distribution(value: Any) -> dict[str, float]:
    """A mapping (or its JSON text) code -> probability summing to 1 (within 1e-3), renormalised exactly."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"distribution is not valid JSON ({exc.msg})") from None
    if not isinstance(value, Mapping) or not value:
        raise ValueError("distribution must be a non-empty object of code -> probability")
    probabilities = {_code(code): _number(p, f"distribution[{code!r}]") for code, p in value.items()}
    total = sum(probabilities.values())
    if abs(total - 1.0) > DISTRIBUTION_TOLERANCE:
        raise ValueError(f"distribution sums to {total:.4f}, not 1")
    return tally_counts({code: p / total for code, p in probabilities.items()})


def _labels(row: Mapping[str, Any]) -> tuple[dict[str, float], list[list[str]] | None, int]:
    """(vote_counts, votes, n_annotators) from whichever label style the row uses."""
    count_keys = [key for key in row if key.startswith(COUNT_PREFIX) and _present(row[key])]
    styles = [name for name in ("votes", "distribution") if _present(row.get(name))]
    styles += ["count_<code>"] if count_keys else []
    if len(styles) != 1:
        raise ValueError(f"expected exactly one of votes, count_<code>, distribution; found {styles or 'none'}")
    declared = row.get("n_annotators")
    if styles[0] == "votes":
        votes = parse_votes(row["votes"])
        return weighted_vote_counts(votes), votes, counted_annotators(votes)
    if styles[0] == "distribution":
        n = int(_number(declared, "n_annotators")) if _present(declared) else 0
        return parse_distribution(row["distribution"]), None, n
    counts = {_code(key[len(COUNT_PREFIX) :]): _number(row[key], key) for key in count_keys}
    n = int(_number(declared, "n_annotators")) if _present(declared) else round(sum(counts.values()))
    return tally_counts(counts), None, n


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    return str(value).strip() if _present(value) else None


def _shared_text(row: Mapping[str, Any], key: str) -> str | None:
    """:func:`_text` for a field whose few values recur in many rows (speaker, session): one string per value."""
    text = _text(row, key)
    return sys.intern(text) if text is not None else None


def row_entry(row: Mapping[str, Any], where: str, base: Path) -> RawEntry:
    """One manifest row (CSV strings or JSON values) -> a strict raw entry; ValueError on bad fields."""
    utt_id, audio = _text(row, "id"), _text(row, "audio")
    if utt_id is None or audio is None:
        raise ValueError("id and audio must not be empty")
    gender_text = _text(row, "gender")
    gender = GENDERS.get(gender_text.lower()) if gender_text else None
    if gender_text and gender is None:
        raise ValueError(f"gender {gender_text!r} is not F, M, female or male")
    vote_counts, votes, n_annotators = _labels(row)
    meta = dict(row["meta"]) if isinstance(row.get("meta"), Mapping) else {}
    meta.update({k: v for k, v in row.items() if k not in KNOWN and not k.startswith(COUNT_PREFIX) and _present(v)})
    audio_path = Path(audio).expanduser()
    return RawEntry(
        id=utt_id,
        where=where,
        audio=audio_path if audio_path.is_absolute() else base / audio_path,
        vote_counts=vote_counts,
        n_annotators=n_annotators,
        votes=votes,
        strict=True,
        speaker=_shared_text(row, "speaker"),
        gender=gender,
        session=_shared_text(row, "session"),
        transcript=_text(row, "transcript"),
        meta=meta,
    )


def _check_columns(path: Path, lineno: int, columns: list[str]) -> None:
    missing = [column for column in REQUIRED if column not in columns]
    if missing:
        raise CotgenError(f"{path}:{lineno}: missing column(s) {', '.join(missing)} (expected {LAYOUT})")


def iter_csv(path: Path) -> Iterator[RawEntry | Dropped]:
    """Rows of a CSV manifest; the header must name the required columns."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        _check_columns(path, 1, [name.strip() for name in reader.fieldnames or []])
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or any(value is None for value in row.values()):
                yield Dropped(MALFORMED_ROW, where, "number of fields differs from the header")
                continue
            try:
                yield row_entry({key.strip(): value for key, value in row.items()}, where, path.parent)
            except ValueError as exc:
                yield Dropped(MALFORMED_ROW, where, str(exc))


def iter_jsonl(path: Path) -> Iterator[RawEntry | Dropped]:
    """Objects of a JSONL manifest, one per line; each must carry the required keys."""
    with path.open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Dropped(MALFORMED_ROW, where, f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                yield Dropped(MALFORMED_ROW, where, "a line must be a JSON object")
                continue
            missing = [key for key in REQUIRED if key not in row]
            if missing:
                yield Dropped(MALFORMED_ROW, where, f"missing key(s) {', '.join(missing)}")
                continue
            try:
                yield row_entry(row, where, path.parent)
            except ValueError as exc:
                yield Dropped(MALFORMED_ROW, where, str(exc))


def iter_raw(path: Path) -> Iterator[RawEntry | Dropped]:
    """Rows of a manifest file, by its suffix."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _utf8_only(path, iter_csv(path))
    if suffix in JSONL_SUFFIXES:
        return _utf8_only(path, iter_jsonl(path))
    raise CotgenError(f"{path}: manifest must end in .csv or .jsonl")


def _utf8_only(path: Path, rows: Iterator[RawEntry | Dropped]) -> Iterator[RawEntry | Dropped]:
    """The rows, with a file that is not UTF-8 (a spreadsheet's UTF-16 or Latin-1 export) as one clear error."""
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise CotgenError(f"{path}: not UTF-8 text (byte 0x{bad}); save the manifest as UTF-8") from None


def load(root: Path, class_set: ClassSet, allow_missing_audio: bool = False, corpus: str = NAME) -> CorpusLoad:
    """Load a manifest file (or folder holding one); ``corpus`` names the records (``demo`` reuses this)."""
    path = find_manifest(absolute(root))
    return assemble(corpus, iter_raw(path), class_set, allow_missing_audio)
