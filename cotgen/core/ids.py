"""Utterance ids as safe keys: the rule an id must meet, its normal form, and the id list file format.

An id is a key in every file a run writes: JSONL lines, numpy columns, one-a-line id lists (``test.ids``),
file names of copied audio. An id holding a newline (or U+2028, U+0085, which ``str.splitlines`` also
splits on) or starting with ``#`` (a comment in an id list) reads back as another id or as none; a NUL is
dropped by numpy's byte-string columns, so ``x`` and ``x\\0`` become one key; NFC and NFD spellings of the
same name are one file on a file system that normalises. So the corpus load checks every id against
:func:`id_problem` and normalises it with :func:`normal_id`, and every id list is written and read here,
split on ``\\n`` only.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.core.inert import FORBIDDEN_CATEGORIES, visible
from cotgen.core.jsonl import iter_json_lines

# Longer ids are refused: no corpus names an utterance with a kilobyte, and every file name, log line and
# prompt that quotes the id would carry it.
MAX_ID_LENGTH = 512
COMMENT = "#"


def shown_id(utterance_id: str, limit: int = 60) -> str:
    """The id for a message: quoted, control characters visible, cut to ``limit`` characters."""
    shown = visible(utterance_id)
    return f"'{shown if len(shown) <= limit else shown[:limit] + '...'}'"


def normal_id(utterance_id: str) -> str:
    """The id in Unicode NFC, the form every file and comparison uses."""
    return unicodedata.normalize("NFC", utterance_id)


def id_problem(utterance_id: str) -> str | None:
    """Why ``utterance_id`` cannot be a key (one phrase), or None when it can."""
    if not utterance_id:
        return "empty id"
    if len(utterance_id) > MAX_ID_LENGTH:
        return f"id of {len(utterance_id)} characters (at most {MAX_ID_LENGTH})"
    bad = sorted({ch for ch in utterance_id if unicodedata.category(ch) in FORBIDDEN_CATEGORIES})
    if bad:
        names = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        return f"id holds control or separator characters ({names})"
    if utterance_id != utterance_id.strip():
        return "id starts or ends with whitespace"
    if utterance_id.startswith(COMMENT):
        return f"id starts with {COMMENT!r} (a comment in id list files)"
    return None


def id_line(utterance_id: str) -> str:
    """One line of an id list: the id and ``\n``; a ValueError for an id that would not read back as itself."""
    problem = id_problem(utterance_id)
    if problem is not None:
        raise ValueError(f"cannot list id {shown_id(utterance_id)}: {problem}")
    return utterance_id + "\n"


def parse_id_list(text: str) -> list[str]:
    """The ids of an id list's text, in order: split on ``\\n`` only, blank lines and ``#`` comments skipped.

    Surrounding whitespace (a ``\\r`` of Windows line ends, indentation) is dropped: no accepted id has any.
    """
    ids = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith(COMMENT):
            ids.append(normal_id(stripped))
    return ids


# Files of ids read as JSON rows with an "id" (an export's split files); any other file is an id list.
JSONL_SUFFIXES = frozenset({".jsonl", ".json"})


def read_id_file(path: Path, option: str = "--ids") -> list[str]:
    """The ids of a file ``--ids``, ``--train-ids`` or a fold names, in order, each once.

    One reader for every command taking such a file (eval and predict take one ``--ids`` option): a ``.jsonl``
    file's rows' ``id`` (e.g. an export's ``sft_test.jsonl``), any other file an id list (:func:`parse_id_list`).
    The file's name decides, never a line's first character: an id may start with ``{``.
    """
    if path.suffix in JSONL_SUFFIXES:
        ids = []
        try:
            for lineno, record in iter_json_lines(path, "JSON row"):
                if not isinstance(record.get("id"), str):
                    raise CotgenError(f"{path}:{lineno}: JSON record without a string 'id'")
                ids.append(normal_id(record["id"]))
        except OSError as exc:
            raise CotgenError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    else:
        ids = parse_id_list(_utf8_text(path, option))
    if not ids:
        raise CotgenError(f"{option} {path}: no id in the file (expected one id a line, or .jsonl rows with an 'id')")
    return list(dict.fromkeys(ids))


def _utf8_text(path: Path, option: str) -> str:
    """An id list's text; a byte that is not UTF-8 is named with its line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CotgenError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise CotgenError(
            f"{path}:{lineno}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8"
        ) from None
