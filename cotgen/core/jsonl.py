"""JSONL read and written through the jsonlines library, a bad line named by its file and line number.

Every JSONL file cotgen reads whole (a run's record files, a user's manifest, predictions or rollouts, an id file,
batch results) goes through :func:`iter_json_lines` or :func:`iter_models`, and whole files and streamed outputs
are written through :func:`jsonl_writer`. jsonlines decodes UTF-8, skips blank lines, checks each line is a JSON
object and reports a bad one with its line number (``InvalidLineError.lineno``); here that becomes one
:class:`~cotgen.core.errors.CotgenError` line, ``FILE:LINE: what was wrong``, as every user error is.

Two jobs stay hand-written, each saying why where it is done: the crash-safe recovery of a run's append-only files
(:mod:`cotgen.core.durable_files` cuts a torn last line off, which needs each line's byte offset and whether it
ended in a newline) and the byte-offset indexes that seek to one line (:mod:`cotgen.pairs.index`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import jsonlines
from pydantic import BaseModel, ValidationError

from cotgen.core.errors import CotgenError

ModelT = TypeVar("ModelT", bound=BaseModel)


class _CountedLines:
    """The lines of a file, counted as jsonlines takes them, so a value it returns is known by its line number."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.lineno = 0

    def __iter__(self) -> _CountedLines:
        return self

    def __next__(self) -> bytes:
        line = next(self._handle)
        self.lineno += 1
        return line


def _reason(exc: jsonlines.InvalidLineError) -> str:
    """jsonlines' message without the ``(line N)`` it appends: the line number leads the error already."""
    return str(exc).removesuffix(f" (line {exc.lineno})")


def iter_json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line number, object)`` of each non-blank line of ``path``, or ``(line number, why)`` for a bad one.

    For a user's file where one bad line is dropped and counted (a manifest) and reading goes on after it.
    """
    with path.open("rb") as handle:
        lines = _CountedLines(handle)
        reader = jsonlines.Reader(lines)
        while True:
            try:
                value = reader.read(type=dict, skip_empty=True)
            except EOFError:
                return
            except jsonlines.InvalidLineError as exc:
                yield exc.lineno, _reason(exc)
                continue
            yield lines.lineno, value


def iter_json_lines(path: Path, what: str = "JSON object") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of each non-blank line of ``path``, read lazily.

    A line that is not UTF-8, not JSON or not a JSON object raises a CotgenError ``PATH:LINE: not a <what> (...)``.
    """
    for lineno, value in iter_json_rows(path):
        if isinstance(value, str):
            raise CotgenError(f"{path}:{lineno}: not a {what} ({value})")
        yield lineno, value


def validation_reason(exc: ValidationError) -> str:
    """The first error of a pydantic validation, in one line: where in the record, and what was wrong."""
    first = exc.errors()[0] if exc.errors() else None
    if first is None:
        return str(exc).splitlines()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def iter_models(path: Path, model: type[ModelT]) -> Iterator[tuple[int, ModelT]]:
    """``(line number, record)`` of each non-blank line validated against ``model``; a bad line names file and line."""
    for lineno, value in iter_json_lines(path, f"valid {model.__name__}"):
        try:
            yield lineno, model.model_validate(value)
        except ValidationError as exc:
            raise CotgenError(f"{path}:{lineno}: not a valid {model.__name__} ({validation_reason(exc)})") from None


def dumps_line(value: BaseModel | Mapping[str, Any]) -> str:
    """One record as a compact JSON line: a model as pydantic writes it, a mapping with non-ASCII kept as is."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def jsonl_writer(handle: IO[str], flush: bool = False) -> jsonlines.Writer:
    """A jsonlines writer of models and mappings onto an open text file (``flush``: after every line)."""
    return jsonlines.Writer(handle, dumps=dumps_line, flush=flush)
