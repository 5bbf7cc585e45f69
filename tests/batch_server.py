"""The loopback server with the Batch API: ``/v1/files`` and ``/v1/batches``, and the faults batches meet.

It extends :class:`loopback_server.LoopbackServer` (chat completions stay served as before) with:

- ``POST /v1/files`` (multipart upload, ``purpose=batch``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``;
- ``POST /v1/batches``, ``GET /v1/batches`` (newest first, cursor pagination with ``after``),
  ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

Batches move ``validating`` → ``in_progress`` → their end one step per retrieve, so a test controls
time by polling; a held batch (``BatchPlan.hold``) stays ``in_progress`` until :meth:`release`. At
its end a batch answers its lines with the same chat completion the synchronous route gives (usage
includes ``prompt_tokens_details.cached_tokens``: the system message's tokens), and writes the rows
its :class:`BatchPlan` asks for: shuffled output lines, error rows (a 500, a 429, an ``error``
object), content faults (an answer that fails validation), an expired end with partial results, a
failed batch. Every ``custom_id`` of every created batch is counted in :attr:`submitted`.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback_server import LoggedRequest, LoopbackServer, message_text, request_classes

# Faults of the create and upload calls.
RATE_LIMIT = "rate_limit"  # 429 with Retry-After: 0
UNAUTHORIZED = "unauthorized"  # 401 quoting the key, as OpenAI's message does
CREATE_THEN_HANG = "create_then_hang"  # the batch is created, then the answer never comes (for a kill)
CREATE_THEN_500 = "create_then_500"  # the batch is created, then the answer is a 500 (did it work? it did)
CALL_FAULTS = (RATE_LIMIT, UNAUTHORIZED, CREATE_THEN_HANG, CREATE_THEN_500)

EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass
class BatchPlan:
    """How one batch (by creation order) behaves."""

    end: str = "completed"  # completed | expired | failed
    hold: bool = False  # stay in_progress until release()
    shuffle: bool = False  # output lines in a shuffled order
    server_errors: frozenset[int] = frozenset()  # line numbers answered by an error-file row with HTTP 500
    rate_limited: frozenset[int] = frozenset()  # line numbers answered by an error-file row with HTTP 429
    error_objects: frozenset[int] = frozenset()  # line numbers with an ``error`` object (quoting the key), no response
    malformed: frozenset[int] = frozenset()  # line numbers answered 200 with content that is not JSON
    answered: int | None = None  # expired: how many lines (the first ones) were answered
    expired_rows: bool = True  # expired: unanswered lines get batch_expired error rows (else they are absent)


@dataclass
class _Batch:
    data: dict[str, Any]
    lines: list[dict[str, Any]]
    plan: BatchPlan
    index: int
    key: str = ""  # the API key the batch was created with (echoed by error-object rows, as a careless proxy would)
    released: bool = False


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


class BatchServer(LoopbackServer):
    """:class:`LoopbackServer` plus the Files and Batches APIs (see the module docstring)."""

    def __init__(
        self,
        batch_plans: list[BatchPlan] | Callable[[int], BatchPlan] | None = None,
        create_faults: list[str | None] | None = None,
        upload_faults: list[str | None] | None = None,
        hang_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_plans = batch_plans
        self.create_faults = list(create_faults or [])
        self.upload_faults = list(upload_faults or [])
        self.hang_seconds = hang_seconds
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self.submitted: Counter[str] = Counter()  # custom_id -> how many created batches carried it
        self.not_run: Counter[str] = Counter()  # custom_id -> how many batches ended without running it
        self.error_rows: dict[str, str] = {}  # custom_id -> the reject reason its error row means
        self.creates = 0  # POST /v1/batches calls, answered or not
        self._counter = 0

    # ------------------------------------------------------------------ inspection and control

    def release(self) -> None:
        """Let every held batch end at its next retrieve."""
        with self._lock:
            for batch in self.batches.values():
                batch.released = True

    def api_requests(self, prefix: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.path.split("?", 1)[0].startswith(prefix)]

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}-{self._counter:05d}"

    def _plan(self, index: int) -> BatchPlan:
        if callable(self.batch_plans):
            return self.batch_plans(index)
        if self.batch_plans is not None and index < len(self.batch_plans):
            return self.batch_plans[index]
        return BatchPlan()

    # ------------------------------------------------------------------ routing

    async def _handle(self, method, path, headers, raw, reader, writer) -> bool:  # type: ignore[override]
        route = urlsplit(path).path.rstrip("/")
        if not (route.startswith("/v1/files") or route.startswith("/v1/batches")):
            return await super()._handle(method, path, headers, raw, reader, writer)
        with self._lock:
            entry = LoggedRequest(len(self._log), method, path, None, time.monotonic())
            self._log.append(entry)
        parts = route.split("/")[2:]  # ["files", id?, "content"?] or ["batches", id?, "cancel"?]
        if parts[0] == "files":
            if method == "POST" and len(parts) == 1:
                return await self._upload(entry, headers, raw, writer)
            file = self.files.get(parts[1]) if len(parts) > 1 else None
            if file is None:
                return await self._send(entry, writer, 404, {"error": {"message": "no such file", "type": "nf"}})
            if len(parts) == 3 and parts[2] == "content":
                return await self._send_bytes(entry, writer, file.content)
            return await self._send(entry, writer, 200, file.object())
        if method == "POST" and len(parts) == 1:
            return await self._create(entry, headers, json.loads(raw or b"{}"), writer)
        if method == "GET" and len(parts) == 1:
            return await self._list(entry, path, writer)
        batch = self.batches.get(parts[1]) if len(parts) > 1 else None
        if batch is None:
            return await self._send(entry, writer, 404, {"error": {"message": "no such batch", "type": "nf"}})
        if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
            if batch.data["status"] in ("validating", "in_progress", "finalizing"):
                batch.data["status"] = "cancelling"
                batch.data["cancelling_at"] = int(time.time())
            return await self._send(entry, writer, 200, batch.data)
        self._advance(batch)
        return await self._send(entry, writer, 200, batch.data)

    async def _send_bytes(self, entry: LoggedRequest, writer: asyncio.StreamWriter, data: bytes) -> bool:
        head = [
            "HTTP/1.1 200 OK",
            "Content-Type: application/octet-stream",
            f"Content-Length: {len(data)}",
            "Connection: keep-alive",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()
        entry.status = 200
        return True

    async def _fault(self, entry, headers, writer, kind: str | None) -> bool | None:
        """Answer a call fault (429, 401); None when the call goes on."""
        if kind == RATE_LIMIT:
            error = {"error": {"message": "Enqueued token limit reached", "type": "rate_limit", "code": None}}
            return await self._send(entry, writer, 429, error, {"Retry-After": "0"})
        if kind == UNAUTHORIZED:
            key = headers.get("authorization", "").removeprefix("Bearer ")
            error = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error"}}
            return await self._send(entry, writer, 401, error)
        return None

    # ------------------------------------------------------------------ files

    async def _upload(self, entry, headers, raw: bytes, writer) -> bool:
        fault = self.upload_faults.pop(0) if self.upload_faults else None
        answered = await self._fault(entry, headers, writer, fault)
        if answered is not None:
            return answered
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + headers["content-type"].encode("latin-1") + b"\r\n\r\n" + raw
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        filename, content = fields["file"]
        purpose = fields["purpose"][1].decode()
        file = _File(self._next_id("file"), filename or "upload.jsonl", purpose, content)
        self.files[file.id] = file
        return await self._send(entry, writer, 200, file.object())

    def _add_file(self, name: str, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        content = "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")
        file = _File(self._next_id("file"), name, "batch_output", content)
        self.files[file.id] = file
        return file.id

    # ------------------------------------------------------------------ batches

    async def _create(self, entry, headers, body: dict[str, Any], writer) -> bool:
        self.creates += 1
        fault = self.create_faults.pop(0) if self.create_faults else None
        answered = await self._fault(entry, headers, writer, fault)
        if answered is not None:
            return answered
        source = self.files.get(body.get("input_file_id", ""))
        if source is None or source.purpose != "batch":
            error = {"error": {"message": "input_file_id is not a batch file", "type": "invalid_request_error"}}
            return await self._send(entry, writer, 400, error)
        lines = [json.loads(line) for line in source.content.splitlines() if line.strip()]
        now = int(time.time())
        data = {
            "id": self._next_id("batch"),
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": source.id,
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86400,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        with self._lock:
            key = headers.get("authorization", "").removeprefix("Bearer ")
            batch = _Batch(data, lines, self._plan(len(self.batches)), len(self.batches), key)
            self.batches[data["id"]] = batch
            self.submitted.update(line["custom_id"] for line in lines)
        if fault == CREATE_THEN_HANG:
            await asyncio.sleep(self.hang_seconds)
            return False
        if fault == CREATE_THEN_500:
            return await self._send(entry, writer, 500, {"error": {"message": "The server had an error"}})
        return await self._send(entry, writer, 200, data)

    async def _list(self, entry, path: str, writer) -> bool:
        query = parse_qs(urlsplit(path).query)
        limit = int(query.get("limit", ["20"])[0])
        after = query.get("after", [None])[0]
        ordered = sorted(self.batches.values(), key=lambda b: (b.data["created_at"], b.data["id"]), reverse=True)
        ids = [b.data["id"] for b in ordered]
        start = ids.index(after) + 1 if after in ids else 0
        page = [b.data for b in ordered[start : start + limit]]
        payload = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(ordered),
        }
        return await self._send(entry, writer, 200, payload)

    def _advance(self, batch: _Batch) -> None:
        """One step of the batch's life per retrieve."""
        data = batch.data
        now = int(time.time())
        if data["status"] == "validating":
            data["status"], data["in_progress_at"] = "in_progress", now
        elif data["status"] == "in_progress" and (not batch.plan.hold or batch.released):
            self._end(batch, batch.plan.end)
        elif data["status"] == "cancelling":
            self._end(batch, "cancelled")

    def _end(self, batch: _Batch, end: str) -> None:
        plan, data, now = batch.plan, batch.data, int(time.time())
        if end == "failed":
            data["status"], data["failed_at"] = "failed", now
            data["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": "The input file could not be read", "line": None}],
            }
            return
        answered = len(batch.lines)
        if end == "expired":
            answered = plan.answered if plan.answered is not None else len(batch.lines) // 2
        elif end == "cancelled":
            answered = 0
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for number, line in enumerate(batch.lines):
            row_id = f"batch_req_{batch.index}_{number}"
            custom_id = line["custom_id"]
            if number >= answered:
                self.not_run[custom_id] += 1
                if plan.expired_rows and end in ("expired", "cancelled"):
                    code = "batch_expired" if end == "expired" else "batch_cancelled"
                    error = {"code": code, "message": EXPIRED_MESSAGE}
                    errors.append({"id": row_id, "custom_id": custom_id, "response": None, "error": error})
                continue
            if number in plan.server_errors or number in plan.rate_limited:
                status = 500 if number in plan.server_errors else 429
                self.error_rows[custom_id] = "server_error" if status == 500 else "rate_limited"
                message = "The server had an error" if status == 500 else "Rate limit reached for requests"
                response = {"status_code": status, "request_id": row_id, "body": {"error": {"message": message}}}
                errors.append({"id": row_id, "custom_id": custom_id, "response": response, "error": None})
                continue
            if number in plan.error_objects:
                error = {"code": "invalid_prompt", "message": f"The prompt sent with key {batch.key} was flagged"}
                self.error_rows[custom_id] = "server_error"
                errors.append({"id": row_id, "custom_id": custom_id, "response": None, "error": error})
                continue
            completion = self.batch_completion(number, line["body"], malformed=number in plan.malformed)
            response = {"status_code": 200, "request_id": row_id, "body": completion}
            outputs.append({"id": row_id, "custom_id": custom_id, "response": response, "error": None})
        if plan.shuffle:
            random.Random(batch.index).shuffle(outputs)
        data["status"] = end
        data[f"{end}_at" if end != "completed" else "completed_at"] = now
        data["output_file_id"] = self._add_file(f"{data['id']}_output.jsonl", outputs)
        data["error_file_id"] = self._add_file(f"{data['id']}_error.jsonl", errors)
        data["request_counts"] = {"total": len(batch.lines), "completed": len(outputs), "failed": len(errors)}

    def batch_completion(self, number: int, body: dict[str, Any], malformed: bool = False) -> dict[str, Any]:
        """The chat completion of one batch line: the synchronous answer, with prompt-cache usage."""
        classes = request_classes(body)
        answer = self.responder(body, classes)
        content = "Sure! mostly angry" if malformed else (answer if isinstance(answer, str) else json.dumps(answer))
        completion = self._completion(number, body, [(content, "stop", None)], False)
        system = [m for m in body["messages"] if m.get("role") == "system"]
        cached = sum(math.ceil(len(message_text(m)) / 4) for m in system)
        completion["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
        return completion
