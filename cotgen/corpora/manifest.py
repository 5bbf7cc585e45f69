"""Custom manifests (CSV or JSONL): a user's own corpus in one table -> raw entries.

Columns ``id, audio, transcript``, optional ``speaker, gender, session, n_annotators``, and the labels in
one of three styles: ``votes`` (one label per annotator, ``;``-separated; in JSONL also a list of labels
or a list of label lists for multi-label annotators), ``count_<code>`` columns, or ``distribution`` (an
object in JSONL, a JSON string in CSV). Any other column is kept in ``meta``. Relative audio paths
resolve against the manifest's folder. Votes outside a fixed class set follow the one rule every corpus follows
(``--out-of-set``, :mod:`cotgen.corpora.out_of_set`).
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import math
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_json_rows
from cotgen.corpora.classes import CODE_PATTERN, ClassSet
from cotgen.corpora.entries import MALFORMED_ROW, CorpusLoad, Dropped, RawEntry, assemble
from cotgen.corpora.layout import absolute, layout_error, require_paths
from cotgen.corpora.votes import counted_annotators, tally_counts, weighted_vote_counts

logger = logging.getLogger(__name__)

NAME = "manifest"
DEFAULT_CLASSES = "all"
LAYOUT = (
    "a manifest FILE.csv or FILE.jsonl (or a folder holding manifest.csv / manifest.jsonl) with columns"
    " id, audio, transcript and one of votes, count_<code> or distribution"
)
CLASSES_HELP = (
    "all (default: every code seen), 4 (neu, hap+exc, ang, sad), or custom; votes outside the set follow --out-of-set"
)

REQUIRED = ("id", "audio", "transcript")
LABEL_COLUMNS = ("votes", "distribution")
KNOWN = frozenset({*REQUIRED, *LABEL_COLUMNS, "speaker", "gender", "session", "n_annotators", "meta"})
# How alike (difflib ratio) an unknown column must be to a known one to be named as its likely misspelling:
# speakr/speaker 0.92, vote/votes 0.89, transcrpt/transcript 0.95; an unrelated extra (notes/votes 0.8) stays below.
SPELLING_CUTOFF = 0.85
# Names other tools give the columns cotgen reads, suggested like misspellings.
SYNONYMS: dict[str, str] = {
    "speaker_id": "speaker",
    "spk": "speaker",
    "text": "transcript",
    "sentence": "transcript",
    "wav": "audio",
    "path": "audio",
    "file": "audio",
    "label": "votes",
    "labels": "votes",
    "sex": "gender",
}
COUNT_PREFIX = "count_"
# The largest vote count or annotator number read: crowd-sourced corpora have tens of raters per clip at most.
MAX_COUNT = 1_000_000
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


# What people separate votes with in a spreadsheet; the manifest's separator is ';'.
OTHER_SEPARATORS = re.compile(r"[,|/\s]+")


def _code(label: Any) -> str:
    code = str(label).strip().lower()
    if not CODE_PATTERN.match(code):
        pieces = [piece for piece in OTHER_SEPARATORS.split(code) if piece]
        hint = ""
        if len(pieces) > 1 and all(CODE_PATTERN.match(piece) for piece in pieces):
            hint = f"; votes are separated by ';', as in {';'.join(pieces)!r}"
        raise ValueError(f"label {label!r} is not a class code (lowercase letters, digits, '_' or '-'){hint}")
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


def _number(value: Any, what: str, maximum: float = MAX_COUNT) -> float:
    """A finite number between 0 and ``maximum``: a count of 1e300 is a broken cell, not a million annotators."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} {str(value)[:40]!r} must be a finite number >= 0")
    if number > maximum:
        raise ValueError(f"{what} {str(value)[:40]!r} is over {maximum:,.0f} (no utterance has that many votes)")
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
    """One manifest row (CSV strings or JSON values) -> a raw entry; ValueError on bad fields."""
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
        speaker=_shared_text(row, "speaker"),
        gender=gender,
        session=_shared_text(row, "session"),
        transcript=_text(row, "transcript"),
        meta=meta,
    )


def likely_column(name: str, candidates: list[str]) -> str | None:
    """The column of ``candidates`` that ``name`` most probably stands for (a misspelling or a synonym), or None."""
    if SYNONYMS.get(name.lower()) in candidates:
        return SYNONYMS[name.lower()]
    close = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=SPELLING_CUTOFF)
    return close[0] if close else None


def _did_you_mean(wanted: list[str], found: list[str]) -> str:
    """`` (did you mean speaker for speakr?)`` for the wanted names a found one stands for, else ``""``."""
    hints = [f"{want} for {name}" for name in found if (want := likely_column(name, wanted)) is not None]
    return f" (did you mean {'; '.join(hints)}?)" if hints else ""


def check_columns(path: Path, lineno: int, columns: list[str]) -> None:
    """Fail once on the header, not once per row, when the required or the label columns are missing; warn on
    columns cotgen does not read, naming the column each one probably misspells.

    Unknown columns are kept in ``meta``, so a misspelt optional one (``speakr``) would otherwise leave every
    speaker null without a word, and a misspelt label column (``vote``) drop every row as malformed.
    """
    unknown = [name for name in columns if name not in KNOWN and not name.startswith(COUNT_PREFIX)]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise CotgenError(
            f"{path}:{lineno}: missing column(s) {', '.join(missing)}{_did_you_mean(missing, unknown)} "
            f"(expected {LAYOUT})"
        )
    if not any(name in LABEL_COLUMNS or name.startswith(COUNT_PREFIX) for name in columns):
        raise CotgenError(
            f"{path}:{lineno}: no label column{_did_you_mean(list(LABEL_COLUMNS), unknown)}; expected votes "
            "(one label per annotator, ';'-separated), count_<code> columns or distribution"
        )
    absent = sorted(KNOWN - set(columns) - {"meta"})
    kept = []
    for name in unknown:
        meant = likely_column(name, absent)
        if meant is not None:
            logger.warning(
                "%s:%d: column %s is not one cotgen reads (it goes to meta); did you mean %s?",
                *(path, lineno),
                *(name, meant),
            )
        else:
            kept.append(name)
    if kept:
        logger.info("%s:%d: column(s) %s kept in each utterance's meta", path, lineno, ", ".join(kept))


def iter_csv(path: Path) -> Iterator[RawEntry | Dropped]:
    """Rows of a CSV manifest; the header must name the required columns."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        check_columns(path, 1, [name.strip() for name in reader.fieldnames or []])
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
    checked = False
    for lineno, row in iter_json_rows(path):
        where = f"{path}:{lineno}"
        if isinstance(row, str):  # not UTF-8, not JSON or not an object: jsonlines says which
            yield Dropped(MALFORMED_ROW, where, row)
            continue
        if not checked:  # the first object's keys stand for the header a CSV would have
            check_columns(path, lineno, list(row))
            checked = True
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
