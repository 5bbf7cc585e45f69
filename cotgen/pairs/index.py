"""Where each utterance's lines sit in a JSONL file, so a stage can read them group by group.

``cotgen build`` writes ``traces.jsonl`` in completion order, so one utterance's samples are
scattered through the file. Loading every record to group them would make memory grow with the
number of candidates; instead one pass records, per line, the utterance's ordinal and the line's
byte offset (12 bytes a line in two compact arrays), and a stable sort groups the offsets. Lines
are then read back one utterance at a time with a seek.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from cotgen.core.errors import CotgenError

# pydantic writes ``id`` first; a line that does not start this way is decoded in full instead.
_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _line_id(line: bytes, path: Path, lineno: int) -> str:
    match = _LEADING_ID.match(line)
    if match is not None:
        raw = match.group(1)
        return raw.decode("utf-8") if b"\\" not in raw else json.loads(b'"' + raw + b'"')
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CotgenError(f"{path}:{lineno}: not a JSON object ({exc}); expected one record per line") from None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise CotgenError(f"{path}:{lineno}: expected a JSON object with a string 'id'")
    return record["id"]


@dataclass(frozen=True)
class GroupedLines:
    """Byte offsets of a JSONL file's lines grouped by utterance ordinal, file order kept within a group."""

    path: Path
    offsets: NDArray[np.int64]
    starts: NDArray[np.int64]
    lines: int
    unknown_lines: int

    def offsets_of(self, ordinal: int) -> NDArray[np.int64]:
        """The offsets of the lines belonging to utterance ``ordinal`` (possibly none)."""
        return self.offsets[self.starts[ordinal] : self.starts[ordinal + 1]]


def index_lines(path: Path, ordinals: Mapping[str, int]) -> GroupedLines:
    """Scan ``path`` once and group its lines by ``ordinals[id]``; lines with other ids are counted, not kept."""
    if not path.exists():
        raise CotgenError(f"{path}: no such file")
    owners, offsets = array("i"), array("q")
    lines = unknown = 0
    # Hand-written, not jsonlines: the index keeps each line's byte offset to seek back to it, which jsonlines
    # (it hands out decoded values) does not give, and decodes only the id of a line.
    with path.open("rb") as handle:
        offset = 0
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                lines += 1
                ordinal = ordinals.get(_line_id(line, path, lineno))
                if ordinal is None:
                    unknown += 1
                else:
                    owners.append(ordinal)
                    offsets.append(offset)
            offset += len(line)
    owner_arr = np.frombuffer(owners, dtype=np.int32) if owners else np.empty(0, dtype=np.int32)
    offset_arr = np.frombuffer(offsets, dtype=np.int64) if offsets else np.empty(0, dtype=np.int64)
    order = np.argsort(owner_arr, kind="stable")
    counts = np.bincount(owner_arr, minlength=len(ordinals)) if owner_arr.size else np.zeros(len(ordinals), int)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return GroupedLines(path, offset_arr[order].copy(), starts, lines, unknown)


class LineReader:
    """Reads single JSONL lines by offset from an open file; errors name the file and line."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self._handle = handle
        self._path = path

    def line_number(self, offset: int) -> int:
        """The 1-based line number at ``offset`` (counted only when an error needs it)."""
        here = self._handle.tell()
        self._handle.seek(0)
        number = self._handle.read(offset).count(b"\n") + 1
        self._handle.seek(here)
        return number

    def read(self, offset: int) -> bytes:
        self._handle.seek(int(offset))
        return self._handle.readline()

    def read_json(self, offset: int) -> dict[str, Any]:
        line = self.read(offset)
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CotgenError(f"{self._path}:{self.line_number(offset)}: not a JSON object ({exc})") from None
        if not isinstance(record, dict):
            raise CotgenError(f"{self._path}:{self.line_number(offset)}: expected a JSON object")
        return record

    def fail(self, offset: int, what: str) -> CotgenError:
        """A CotgenError naming the file and the line at ``offset``."""
        return CotgenError(f"{self._path}:{self.line_number(offset)}: {what}")
