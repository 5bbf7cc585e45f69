"""The Batch API's file formats: request lines, files split at the API's limits, and result rows.

A request line is ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`` with
``body`` exactly the synchronous request (the same dict, in the same key order). Files hold at most
:data:`MAX_REQUESTS` lines and :data:`MAX_BYTES` bytes, OpenAI's limits per batch input file.

A result row comes in two layouts, both read here: OpenAI's (and current ``vllm run-batch``'s)
``{"custom_id", "response": {"status_code", "request_id", "body"}, "error"}``, and the older
``vllm run-batch`` one whose ``response`` is the bare chat completion. What a row says is decided
by :func:`parse_result_line` and nothing else, so a downloaded output file, a downloaded error
file and a results file a user brings are held to the same rules. Rows are matched to requests by
``custom_id`` only: the order of a file means nothing (OpenAI does not keep the input order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_json_lines
from cotgen.teachers.openai_teacher import CallFailure, retry_cause
from cotgen.teachers.response_cache import canonical_json

BATCH_URL = "/v1/chat/completions"
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1_000_000
# Error codes OpenAI writes into the error file for requests the batch never ran: they are still to do.
NOT_RUN_CODES = frozenset({"batch_expired", "batch_cancelled"})
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch: its ``custom_id`` (unique within the batch) and the chat completion body."""

    custom_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Answered:
    """A 200 row: the chat completion the server answered (validated by the caller like a synchronous answer)."""

    custom_id: str
    completion: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    """A row that carries an error (an error-file row, a non-200 response); ``reason`` is a reject reason."""

    custom_id: str
    reason: CallFailure
    detail: str


RowOutcome = Answered | Failed


def request_line(request: BatchRequest) -> bytes:
    """The JSONL line of one request, body keys in the order the synchronous client sends them.

    Encoded here rather than by jsonlines' writer: :class:`ShardWriter` cuts files by their size in bytes, so it
    needs each line's bytes before it writes them.
    """
    line = {"custom_id": request.custom_id, "method": "POST", "url": BATCH_URL, "body": request.body}
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def body_digest(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a request body: whether a row answers *this* question, whatever key order."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass
class Shard:
    """One input file being written: its path, its requests' custom_ids and its size in bytes."""

    path: Path
    custom_ids: list[str]
    size: int = 0


class ShardWriter:
    """Writes request lines into files of at most ``max_requests`` lines and ``max_bytes`` bytes, as they come.

    Streaming, so a round of 28,000 requests (with ``--send-audio``, hundreds of MB) never sits in
    memory. Files are named ``<prefix>-<n>.jsonl`` and created only when a line goes into them.
    """

    def __init__(
        self, directory: Path, prefix: str, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
    ) -> None:
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("batch file limits must be positive")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.prefix = prefix
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.shards: list[Shard] = []
        self._handle: IO[bytes] | None = None
        self._ids: set[str] = set()

    def add(self, request: BatchRequest) -> None:
        """Append one request, starting a new file when this line would break a limit."""
        if request.custom_id in self._ids:
            raise ValueError(f"custom_id {request.custom_id!r} twice in one round")
        line = request_line(request)
        if len(line) > self.max_bytes:
            raise CotgenError(
                f"request {request.custom_id}: {len(line):,} bytes, more than a batch file may hold "
                f"({self.max_bytes:,}); send it without --batch"
            )
        self._ids.add(request.custom_id)
        current = self.shards[-1] if self.shards and self._handle is not None else None
        if current is None or not fits(
            len(current.custom_ids), current.size, len(line), self.max_requests, self.max_bytes
        ):
            self._close_handle()
            current = Shard(self.directory / f"{self.prefix}-{len(self.shards) + 1}.jsonl", [])
            self.shards.append(current)
            self._handle = current.path.open("wb")
        assert self._handle is not None
        self._handle.write(line)
        current.custom_ids.append(request.custom_id)
        current.size += len(line)

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            self._handle.close()
            self._handle = None

    def close(self) -> list[Shard]:
        """Finish the last file; the files written, in order."""
        self._close_handle()
        return self.shards


def fits(count: int, size: int, line_size: int, max_requests: int, max_bytes: int) -> bool:
    """Whether a line of ``line_size`` bytes still goes into a file holding ``count`` lines of ``size`` bytes."""
    return count + 1 <= max_requests and size + line_size <= max_bytes


def status_reason(status: int) -> CallFailure:
    """The reject reason of a result row's HTTP status: 429 rate_limited, 408 timeout, 5xx server_error, else
    request_refused (a 4xx is the request's own, final; the others are server faults a plain rerun asks again)."""
    cause = retry_cause(status)
    if cause is None:
        return "request_refused"
    return cause if cause in ("rate_limited", "timeout") else "server_error"  # type: ignore[return-value]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _error_text(error: Any) -> tuple[str | None, str]:
    """The code and message of an ``error`` object (``{"code", "message"}``, or anything else as text)."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            code = inner.get("code") if isinstance(inner.get("code"), str) else None
            message = inner.get("message")
            return code, str(message) if message is not None else json.dumps(inner)
    return None, str(error)


def parse_result_line(line: bytes, where: str) -> tuple[str, RowOutcome | None]:
    """The ``custom_id`` of one result row and what it says; None for a request the batch never ran.

    ``where`` (file:line) goes into the one-line error raised for a line that is not a result row.
    """
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise CotgenError(f"{where}: not JSON ({exc}); expected one batch result object per line") from None
    return row_outcome(row, where)


def row_outcome(row: Any, where: str) -> tuple[str, RowOutcome | None]:
    """What one decoded result row says (see :func:`parse_result_line`)."""
    if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
        raise CotgenError(
            f"{where}: not a batch result row (expected a JSON object with a string custom_id and a response or error)"
        )
    custom_id: str = row["custom_id"]
    response, error = row.get("response"), row.get("error")
    if isinstance(response, dict):
        if "choices" in response and "status_code" not in response:  # the older vllm run-batch layout
            return custom_id, Answered(custom_id, response)
        status, body = response.get("status_code"), response.get("body")
        if not isinstance(status, int):
            raise CotgenError(f"{where}: response without an integer status_code (custom_id {custom_id})")
        if status == 200 and isinstance(body, dict) and error is None:
            return custom_id, Answered(custom_id, body)
        code, message = _error_text(body if body is not None else error)
        if code in NOT_RUN_CODES:
            return custom_id, None
        return custom_id, Failed(custom_id, status_reason(status), _short(f"batch row HTTP {status}: {message}"))
    if error is not None:
        code, message = _error_text(error)
        if code in NOT_RUN_CODES:
            return custom_id, None
        label = f"{code}: " if code else ""
        return custom_id, Failed(custom_id, "server_error", _short(f"batch row error {label}{message}"))
    return custom_id, Failed(custom_id, "server_error", "the batch row has neither a response nor an error")


def iter_result_rows(path: Path) -> Iterator[tuple[str, RowOutcome | None]]:
    """Every row of a result file (output, error, or a ``vllm run-batch`` output), blank lines skipped."""
    for lineno, row in iter_json_lines(path, "batch result object"):
        yield row_outcome(row, f"{path}:{lineno}")


def iter_request_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(custom_id, body)`` of every line of a request file this package wrote."""
    for lineno, row in iter_json_lines(path, "batch request line"):
        if not isinstance(row.get("custom_id"), str) or not isinstance(row.get("body"), dict):
            raise CotgenError(f"{path}:{lineno}: not a batch request line (the file was changed after cotgen wrote it)")
        yield row["custom_id"], row["body"]
