"""A real OpenAI-compatible HTTP server on 127.0.0.1, with scripted faults, for tests and benchmarks.

The teacher client is tested against real HTTP, not mocks: this server speaks enough of the Chat
Completions API for the official ``openai`` client (``POST /v1/chat/completions``, ``GET
/v1/models``), logs every request (body, arrival time, fault, status), and injects the faults a
real server produces, scripted per request. It runs an asyncio loop in a background thread, so
one process sustains hundreds of concurrent connections, each with a configurable added latency.

Use it in a test::

    with LoopbackServer(latency=0.2, plan=[Fault("rate_limit", retry_after="0.2"), None]) as srv:
        teacher = OpenAITeacher(TeacherConfig(model="m", base_url=srv.base_url), cache=None)
        ...
        assert len(srv.chat_requests) == 2

or from another process (a build in a subprocess, a benchmark)::

    python tests/loopback_server.py --port 0 --latency 0.2 --fault-rate 0.3 --log requests.jsonl

which prints its base URL as the first line of stdout and serves until SIGTERM or SIGINT.

**The default answer** is a valid trace (it passes ``cotgen.records.trace.validate_trace``) over the
request's class codes, found by the first rule that applies:

1. the distribution keys of the ``response_format`` JSON schema (what the teacher sends when structured);
2. else the last line in the messages that starts with ``Classes:`` or ``class codes ...:`` (a list
   markup dash allowed), split at commas, each item's leading code (``neu (neutral)`` gives ``neu``);
3. else the known codes of :data:`cotgen.core.labels.EMOTION_NAMES` found as whole words in the messages;
4. else ``neu, hap, ang, sad``.

Its distribution echoes the first JSON object keyed by exactly those codes in the latest user
message that has one (the human distribution of a rationalize prompt, or the target a repair turn
quotes), and otherwise is derived from a hash of the user messages, so different utterances get
different, reproducible answers.

**Student mode** (``responder=student_responder``): the answer is a tagged trace *text* (the four
tags of the student prompt, as a trained student writes it) instead of JSON. A responder may return
a :class:`Choice` to set the finish reason too (a truncated answer). A request with ``n`` gets
``n`` choices, each from its own responder call, unless ``n_mode`` says the server ignores ``n``
(one choice, as Ollama does) or refuses it (HTTP 400, as some providers do).

**Faults** come from ``plan``: a sequence (request *i* of ``/v1/chat/completions`` gets item *i*;
past its end, no fault) or a callable ``plan(index, body) -> Fault | None``. The kinds are in
:data:`FAULT_KINDS`; :func:`random_faults` makes a reproducible soak plan.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import random
import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from loopback_cues import stock_cues

from cotgen.core.divergence import round_distribution
from cotgen.core.labels import EMOTION_NAMES
from cotgen.records.consistency import expected_level
from cotgen.records.trace import (
    AcousticStage,
    AmbiguityStage,
    LexicalCue,
    LexicalStage,
    Trace,
    render_trace,
)

DEFAULT_CLASSES: tuple[str, ...] = ("neu", "hap", "ang", "sad")
MODEL_ID = "loopback"
CHAT_ROUTE = "/v1/chat/completions"
MODELS_ROUTE = "/v1/models"

# HTTP-level faults: the client retries these (except no_structured and unauthorized, which are final).
RATE_LIMIT = "rate_limit"  # 429, with Retry-After when Fault.retry_after is set
SERVER_ERROR = "server_error"  # 500
UNAVAILABLE = "unavailable"  # 503
HANG = "hang"  # no answer for Fault.seconds (None: until the client hangs up or the server stops), then close
RESET = "reset"  # the connection is reset (RST) instead of answered
NO_STRUCTURED = "no_structured"  # 400 "response_format json_schema is not supported"
UNAUTHORIZED = "unauthorized"  # 401 whose message quotes the key, as OpenAI's does
FORBIDDEN = "forbidden"  # 403 quoting the key, the URL and the Authorization header (a proxy echoing the request)
# Content faults: a 200 answer whose content the build must reject or repair.
MALFORMED_JSON = "malformed_json"  # content is not JSON
WRONG_KEYS = "wrong_keys"  # distribution keyed by a code outside the class set
SCHEMA_INVALID = "schema_invalid"  # a stage key misspelt ("acoustics")
SUM_1_3 = "sum_1_3"  # distribution sums to 1.3
NEGATIVE = "negative_probability"  # one probability below zero
TRUNCATED = "truncated"  # content cut in half, finish_reason "length"
REFUSAL = "refusal"  # content null, message.refusal set
# Broken 200s (issue 20 item 4): the answer's bytes, not its content, are wrong.
TRICKLE = "trickle"  # a good answer, one byte every Fault.seconds (default 0.5)
CUT_BODY = "cut_body"  # Content-Length of the whole answer, half of it sent, then the connection closed
NOT_UTF8 = "not_utf8"  # a JSON-looking body with bytes that are not UTF-8
NOT_JSON = "not_json"  # a 200 application/json body that is not JSON at all (an error page)
OVERSIZED = "oversized"  # a valid answer padded to Fault.size bytes (default 6 MB), no Content-Length

FAULT_KINDS: tuple[str, ...] = (
    RATE_LIMIT,
    SERVER_ERROR,
    UNAVAILABLE,
    HANG,
    RESET,
    NO_STRUCTURED,
    UNAUTHORIZED,
    FORBIDDEN,
    MALFORMED_JSON,
    WRONG_KEYS,
    SCHEMA_INVALID,
    SUM_1_3,
    NEGATIVE,
    TRUNCATED,
    REFUSAL,
    TRICKLE,
    CUT_BODY,
    NOT_UTF8,
    NOT_JSON,
    OVERSIZED,
)
BODY_FAULTS: tuple[str, ...] = (TRICKLE, CUT_BODY, NOT_UTF8, NOT_JSON, OVERSIZED)
# Every fault a build must survive item by item (the fatal configuration errors and the broken bodies,
# tested on their own, are left out).
SOAK_FAULTS: tuple[str, ...] = tuple(
    k for k in FAULT_KINDS if k not in (NO_STRUCTURED, UNAUTHORIZED, FORBIDDEN, *BODY_FAULTS)
)
CONTENT_FAULTS: tuple[str, ...] = (MALFORMED_JSON, WRONG_KEYS, SCHEMA_INVALID, SUM_1_3, NEGATIVE, TRUNCATED, REFUSAL)


@dataclass(frozen=True)
class Fault:
    """What to do instead of a normal answer to one request."""

    kind: str
    retry_after: str | None = None  # rate_limit: the Retry-After header value (seconds or an HTTP date)
    seconds: float | None = None  # hang: how long before closing (None: until the client gives up); trickle: gap
    size: int | None = None  # oversized: the answer's size in bytes

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")


@dataclass(frozen=True)
class Choice:
    """A scripted answer with its finish reason ("length" for an answer cut at the token limit).

    ``tokens``: the answer as the model generated it, one ``(token, alternatives)`` pair per token, the
    alternatives mapping token -> probability at that position (the token itself among them, or
    probability 1). A request with ``logprobs: true`` gets them in OpenAI's and vLLM's chat shape,
    the ``top_logprobs`` most likely alternatives per token; without ``tokens`` the server splits the
    text itself (:func:`split_tokens`), every token certain.
    """

    content: str | None
    finish_reason: str = "stop"
    tokens: tuple[tuple[str, Mapping[str, float]], ...] | None = None


# The words-with-their-space split of GPT-style tokenizers: ' neu', 'Label', ':', '\n'.
_TOKEN = re.compile(r" ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+")
MAX_TOP_LOGPROBS = 20  # OpenAI's limit (and vLLM's default --max-logprobs)


def split_tokens(text: str) -> list[str]:
    """``text`` cut into tokens the way a GPT-style tokenizer cuts words (for the loopback's logprobs)."""
    return _TOKEN.findall(text)


def logprobs_content(tokens: Sequence[tuple[str, Mapping[str, float]]], top: int) -> list[dict[str, Any]]:
    """``choices[i].logprobs.content`` of the chat completions API for ``tokens`` with ``top`` alternatives."""

    def entry(token: str, prob: float) -> dict[str, Any]:
        return {"token": token, "logprob": math.log(prob), "bytes": list(token.encode("utf-8"))}

    content = []
    for token, alternatives in tokens:
        ranked = sorted(alternatives.items(), key=lambda item: -item[1])[:top]
        content.append({**entry(token, alternatives.get(token, 1.0)), "top_logprobs": [entry(*a) for a in ranked]})
    return content


Plan = Callable[[int, dict], "Fault | None"] | Sequence["Fault | None"]
Responder = Callable[[dict, tuple[str, ...]], "dict | str | Choice"]
N_MODES: tuple[str, ...] = ("honour", "ignore", "refuse")
# The token limit's name a server takes: today's, or only the older one (it refuses the newer name with a 400).
TOKEN_LIMITS: tuple[str, ...] = ("max_completion_tokens", "max_tokens")


@dataclass
class LoggedRequest:
    """One request as the server saw it. ``status`` is None when it hung up or reset instead of answering."""

    index: int  # arrival order among all requests
    method: str
    path: str
    body: Any
    received: float  # time.monotonic() when the whole request had arrived
    fault: str | None = None
    status: int | None = None
    answered: float | None = None  # time.monotonic() when the answer was written
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names; authorization left out


def random_faults(
    rate: float,
    seed: int = 0,
    kinds: Sequence[str] = SOAK_FAULTS,
    retry_after: str | None = "0",
    hang_seconds: float | None = None,
) -> Callable[[int, dict], Fault | None]:
    """A soak plan: each request independently gets a fault with probability ``rate``, of a uniform kind.

    Reproducible: request *i* draws from a generator seeded by ``(seed, i)``, whatever the arrival timing.
    """
    kinds = tuple(kinds)

    def plan(index: int, body: dict) -> Fault | None:
        rng = random.Random(f"{seed}:{index}")
        if rng.random() >= rate:
            return None
        kind = rng.choice(kinds)
        return Fault(kind, retry_after=retry_after if kind == RATE_LIMIT else None, seconds=hang_seconds)

    return plan


# ---------------------------------------------------------------------------------------------
# Answers


_CLASS_LINE = re.compile(
    r"^[ \t*-]*(?:emotion\s+)?(?:classes|class codes)\b[^:\n]*:[ \t]*(?P<items>[^\n]+)$", re.I | re.M
)
_CODE = re.compile(r"[A-Za-z0-9_]+")
_KNOWN_CODE = re.compile(r"\b(" + "|".join(EMOTION_NAMES) + r")\b")
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message (text parts only; audio parts say nothing about classes)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text") or "" for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def request_classes(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The class codes a request asks about, by the rules in the module docstring."""
    try:
        keys = body["response_format"]["json_schema"]["schema"]["properties"]["distribution"]["properties"]
        if isinstance(keys, Mapping) and keys:
            return tuple(keys)
    except (KeyError, TypeError):
        pass
    text = "\n".join(message_text(m) for m in body.get("messages") or () if isinstance(m, Mapping))
    lines = _CLASS_LINE.findall(text)
    if lines:
        codes = [m.group(0) for item in lines[-1].split(",") if (m := _CODE.search(item))]
        if codes:
            return tuple(dict.fromkeys(codes))
    found = set(_KNOWN_CODE.findall(text))
    if found:
        return tuple(code for code in EMOTION_NAMES if code in found)
    return DEFAULT_CLASSES


def _last_user_text(body: Mapping[str, Any]) -> str:
    users = [m for m in body.get("messages") or () if isinstance(m, Mapping) and m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def _user_texts_latest_first(body: Mapping[str, Any]) -> str:
    """The user messages' text, the latest first: a repair turn without the human distribution still echoes it."""
    users = [m for m in body.get("messages") or () if isinstance(m, Mapping) and m.get("role") == "user"]
    return "\n".join(message_text(m) for m in reversed(users))


def _distribution_for(text: str, classes: tuple[str, ...]) -> dict[str, float]:
    for candidate in _JSON_OBJECT.findall(text):
        try:
            decoded = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(decoded, dict) and set(decoded) == set(classes):
            values = [decoded[c] for c in classes]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values) and sum(values):
                total = float(sum(values))
                return round_distribution({c: float(decoded[c]) / total for c in classes})
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=max(1, len(classes))).digest()
    weights = [1 + digest[i % len(digest)] for i in range(len(classes))]
    total = float(sum(weights))
    return round_distribution({c: w / total for c, w in zip(classes, weights)})


def valid_trace(classes: tuple[str, ...], text: str = "", cues_text: str | None = None) -> dict[str, Any]:
    """A trace over ``classes`` that passes validation (with or without a transcript), as a JSON-ready dict.

    Its acoustic cues cite the levels the prompt (``cues_text``, default ``text``) shows, as a faithful teacher
    would (:mod:`loopback_cues`); a prompt without a cue line gets "pitch moderate, loudness high".
    """
    distribution = _distribution_for(text, classes)
    ranked = sorted(classes, key=lambda c: -distribution[c])
    # Consistent with its own distribution (cotgen.records.consistency), as a careful teacher writes it.
    level = expected_level(distribution)
    competing = ranked[:1] if level == "low" else ranked[:2]
    trace = Trace(
        acoustic=AcousticStage(
            cues=stock_cues(text if cues_text is None else cues_text, ranked[0]),
            summary="Moderately aroused delivery.",
        ),
        lexical=LexicalStage(
            cues=[LexicalCue(cue="wording", observation="Few explicit emotion words.", suggests=[ranked[0]])],
            summary="The words alone are not decisive.",
        ),
        ambiguity=AmbiguityStage(
            level=level,
            competing=competing,
            explanation="The voice and the words could reasonably be heard more than one way.",
        ),
        distribution=distribution,
    )
    return trace.model_dump()


def trace_responder(body: dict, classes: tuple[str, ...]) -> dict[str, Any]:
    """The default answer: a valid trace for the request's classes and its user messages.

    Its distribution echoes the latest user message that has one (a repair turn's quoted target), and its cues
    come from all user messages, so a repair turn's answer still cites the first prompt's measured levels.
    """
    users = [message_text(m) for m in body.get("messages") or () if isinstance(m, Mapping) and m.get("role") == "user"]
    return valid_trace(classes, _user_texts_latest_first(body), "\n".join(users))


def student_text(classes: tuple[str, ...], text: str = "") -> str:
    """A student's answer: a valid trace over ``classes`` rendered as the four tagged sections."""
    return render_trace(Trace.model_validate(valid_trace(classes, text)))


def student_responder(body: dict, classes: tuple[str, ...]) -> str:
    """The student-mode answer: a tagged trace text for the request's classes and its last user message."""
    return student_text(classes, _last_user_text(body))


def _broken_content(kind: str, good: dict[str, Any], classes: tuple[str, ...]) -> tuple[str | None, str]:
    """Content and finish_reason of a content fault, derived from a good answer."""
    if kind == MALFORMED_JSON:
        return "Sure! The speaker sounds {acoustic: pitch high, distribution: mostly angry", "stop"
    if kind == TRUNCATED:
        text = json.dumps(good)
        return text[: len(text) // 2], "length"
    if kind == REFUSAL:
        return None, "stop"
    broken = json.loads(json.dumps(good))
    n = len(classes)
    if kind == WRONG_KEYS:
        broken["distribution"] = {("xyz" if i == 0 else c): v for i, (c, v) in enumerate(good["distribution"].items())}
    elif kind == SCHEMA_INVALID:
        broken["acoustics"] = broken.pop("acoustic")
    elif kind == SUM_1_3:
        broken["distribution"] = {c: round(1.3 / n, 4) for c in classes}
    elif kind == NEGATIVE:
        broken["distribution"] = {c: round(1.0 / n, 4) for c in classes}
        broken["distribution"][classes[0]] = -0.1
    return json.dumps(broken), "stop"


# ---------------------------------------------------------------------------------------------
# HTTP


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests"}
_REASONS |= {500: "Internal Server Error", 503: "Service Unavailable"}


def _error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


class LoopbackServer:
    """The server; a context manager that starts it on entry and stops it (closing every connection) on exit."""

    def __init__(
        self,
        latency: float = 0.0,
        plan: Plan | None = None,
        responder: Responder = trace_responder,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        usage: bool = True,
        structured_supported: bool = True,
        n_mode: str = "honour",
        token_limit: str = "max_completion_tokens",
        log_file: IO[str] | None = None,
    ) -> None:
        if n_mode not in N_MODES:
            raise ValueError(f"n_mode {n_mode!r}: expected one of {', '.join(N_MODES)}")
        if token_limit not in TOKEN_LIMITS:
            raise ValueError(f"token_limit {token_limit!r}: expected one of {', '.join(TOKEN_LIMITS)}")
        self.n_mode = n_mode
        self.token_limit = token_limit
        self.latency = latency
        self.plan = plan
        self.responder = responder
        self.host = host
        self.usage = usage
        self.structured_supported = structured_supported
        self._requested_port = port
        self._log_file = log_file
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._chat_index = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._startup_error: BaseException | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LoopbackServer:
        """Start serving in a background thread; returns once the port is listening."""
        self._thread = threading.Thread(target=self._run, name="loopback-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Stop accepting, cancel every open connection (hung ones included) and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(self._connection, self.host, self._requested_port, backlog=2048)
        except OSError as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    # ------------------------------------------------------------------ inspection

    @property
    def base_url(self) -> str:
        """What to give the client as ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._log)

    @property
    def chat_requests(self) -> list[LoggedRequest]:
        """The ``POST /v1/chat/completions`` requests so far, in arrival order."""
        return [r for r in self.requests if r.path.split("?", 1)[0].rstrip("/") == CHAT_ROUTE]

    @property
    def max_in_flight(self) -> int:
        """The most chat requests the server was working on at the same moment."""
        with self._lock:
            return self._max_in_flight

    def clear(self) -> None:
        """Forget the log and restart plan indices at 0 (between phases of one test)."""
        with self._lock:
            self._log.clear()
            self._chat_index = 0
            self._max_in_flight = self._in_flight

    # ------------------------------------------------------------------ serving

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            keep_alive = True
            while keep_alive:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, headers = _parse_head(head)
                raw = await _read_body(reader, headers)
                keep_alive = await self._handle(method, path, headers, raw, reader, writer)
                keep_alive = keep_alive and headers.get("connection", "").lower() != "close"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass  # the client went away or spoke something other than HTTP/1.1: drop the connection
        except asyncio.CancelledError:
            pass  # server stopping
        finally:
            self._connections.discard(task)
            writer.close()

    async def _handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; False when the connection must be dropped afterwards."""
        received = time.monotonic()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        logged_headers = {k: v for k, v in headers.items() if k != "authorization"}
        logged_headers["authorization-present"] = str("authorization" in headers)
        route = path.split("?", 1)[0].rstrip("/")
        is_chat = method == "POST" and route == CHAT_ROUTE
        with self._lock:
            entry = LoggedRequest(len(self._log), method, path, body, received, headers=logged_headers)
            self._log.append(entry)
            chat_index = self._chat_index
            if is_chat:
                self._chat_index += 1
                self._in_flight += 1
                self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if is_chat:
                return await self._chat(entry, chat_index, headers, reader, writer)
            if method == "GET" and route == MODELS_ROUTE:
                payload = {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "cotgen-tests"}]}
                return await self._send(entry, writer, 200, payload)
            return await self._send(entry, writer, 404, _error_body(f"no route {method} {path}", "not_found"))
        finally:
            if is_chat:
                with self._lock:
                    self._in_flight -= 1

    def _fault_for(self, index: int, body: Any) -> Fault | None:
        if self.plan is None:
            return None
        if callable(self.plan):
            return self.plan(index, body)
        return self.plan[index] if index < len(self.plan) else None

    async def _chat(
        self,
        entry: LoggedRequest,
        index: int,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        body = entry.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            error = _error_body("the body must be a JSON object with a messages list", "invalid_request_error")
            return await self._send(entry, writer, 400, error)
        fault = self._fault_for(index, body)
        wants_schema = (body.get("response_format") or {}).get("type") == "json_schema"
        if fault is None and wants_schema and not self.structured_supported:
            fault = Fault(NO_STRUCTURED)
        entry.fault = fault.kind if fault else None
        if self.latency:
            await asyncio.sleep(self.latency)
        kind = fault.kind if fault else None
        if kind == HANG:
            try:
                await asyncio.wait_for(reader.read(1), timeout=fault.seconds)
            except asyncio.TimeoutError:  # noqa: UP041 (TimeoutError is a distinct class on Python 3.10)
                pass
            self._write_log(entry)
            return False
        if kind == RESET:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            self._write_log(entry)
            return False
        if kind == RATE_LIMIT:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            error = _error_body("Rate limit reached for requests", "requests", None)
            return await self._send(entry, writer, 429, error, extra)
        if kind == SERVER_ERROR:
            return await self._send(entry, writer, 500, _error_body("The server had an error", "server_error"))
        if kind == UNAVAILABLE:
            return await self._send(entry, writer, 503, _error_body("The engine is currently overloaded", "overloaded"))
        if kind == NO_STRUCTURED:
            message = "response_format json_schema is not supported by this server"
            return await self._send(
                entry, writer, 400, _error_body(message, "invalid_request_error", "response_format")
            )
        if kind in (UNAUTHORIZED, FORBIDDEN):
            key = headers.get("authorization", "").removeprefix("Bearer ")
            if kind == UNAUTHORIZED:
                message = f"Incorrect API key provided: {key}. You can find your API key at https://example.invalid."
                return await self._send(entry, writer, 401, _error_body(message, "invalid_request_error"))
            raw = headers.get("authorization", "")
            decoded = base64.b64decode(raw.removeprefix("Basic ")).decode() if raw.startswith("Basic ") else ""
            message = (
                f"Project of key {key} may not use model {body.get('model')!r} "
                f"(request POST http://{decoded + '@' if decoded else ''}{headers.get('host')}{entry.path}, "
                f"Authorization: {raw})"
            )
            return await self._send(entry, writer, 403, _error_body(message, "permission_denied"))
        if self.token_limit == "max_tokens" and "max_completion_tokens" in body:
            message = "Unrecognized request argument supplied: max_completion_tokens"
            return await self._send(entry, writer, 400, _error_body(message, "invalid_request_error"))
        n = body.get("n", 1)
        if n != 1 and self.n_mode == "refuse":
            error = _error_body("only n=1 is supported", "invalid_request_error", "n")
            return await self._send(entry, writer, 400, error)
        top = body.get("top_logprobs")
        if top is not None and not (isinstance(top, int) and 0 <= top <= MAX_TOP_LOGPROBS and body.get("logprobs")):
            message = f"top_logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}] with logprobs true, got {top!r}"
            return await self._send(entry, writer, 400, _error_body(message, "invalid_request_error", "top_logprobs"))
        count = n if isinstance(n, int) and n > 1 and self.n_mode == "honour" else 1
        classes = request_classes(body)
        answers = []
        for number in range(count):
            answer = self.responder(body, classes)
            if isinstance(answer, Choice):
                answers.append((answer.content, answer.finish_reason, answer.tokens))
            elif kind is None or number > 0:
                answers.append(((answer if isinstance(answer, str) else json.dumps(answer)), "stop", None))
            else:
                good = answer if isinstance(answer, dict) else valid_trace(classes, _user_texts_latest_first(body))
                answers.append((*_broken_content(kind, good, classes), None))
        completion = self._completion(index, body, answers, kind == REFUSAL)
        if kind in BODY_FAULTS:
            return await self._send_broken(entry, writer, fault, completion)
        return await self._send(entry, writer, 200, completion)

    async def _send_broken(
        self, entry: LoggedRequest, writer: asyncio.StreamWriter, fault: Fault, completion: dict[str, Any]
    ) -> bool:
        """A 200 whose bytes are wrong (:data:`BODY_FAULTS`); False: the connection is closed afterwards."""
        data = json.dumps(completion).encode("utf-8")
        head = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
        entry.status = 200
        try:
            if fault.kind == OVERSIZED:
                size = fault.size or 6 * 1024 * 1024
                padded = dict(completion, padding="x" * max(0, size - len(data)))
                data = json.dumps(padded).encode("utf-8")
                writer.write(("\r\n".join([*head, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))
                for start in range(0, len(data), 65536):
                    writer.write(data[start : start + 65536])
                    await writer.drain()
            elif fault.kind == NOT_UTF8:
                data = data.replace(b"{", b'{"x": "\xff\xfe\xc0",', 1)
                writer.write(("\r\n".join([*head, f"Content-Length: {len(data)}"]) + "\r\n\r\n").encode("latin-1"))
                writer.write(data)
                await writer.drain()
                self._write_log(entry)
                return True
            elif fault.kind == NOT_JSON:
                data = b"<html><body>502 Bad Gateway</body></html>"
                writer.write(("\r\n".join([*head, f"Content-Length: {len(data)}"]) + "\r\n\r\n").encode("latin-1"))
                writer.write(data)
                await writer.drain()
                self._write_log(entry)
                return True
            else:
                writer.write(("\r\n".join([*head, f"Content-Length: {len(data)}"]) + "\r\n\r\n").encode("latin-1"))
                await writer.drain()
                if fault.kind == CUT_BODY:
                    writer.write(data[: len(data) // 2])
                    await writer.drain()
                else:  # TRICKLE
                    for position in range(len(data)):
                        writer.write(data[position : position + 1])
                        await writer.drain()
                        await asyncio.sleep(0.5 if fault.seconds is None else fault.seconds)
        except ConnectionError:
            pass  # the client hung up (a deadline, a size cap): what it does is the test's to check
        entry.answered = time.monotonic()
        self._write_log(entry)
        return False

    def _completion(
        self,
        index: int,
        body: dict,
        answers: Sequence[
            tuple[str | None, str] | tuple[str | None, str, tuple[tuple[str, Mapping[str, float]], ...] | None]
        ],
        refused: bool,
    ) -> dict[str, Any]:
        """The chat completion of ``answers``: (content, finish reason) pairs, optionally with their tokens."""
        choices = []
        for number, (content, finish, *scripted) in enumerate(answers):
            tokens = scripted[0] if scripted else None
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
            if refused and number == 0:
                message["refusal"] = "I'm sorry, I can't help with that request."
            logprobs = None
            if body.get("logprobs") and content is not None:
                generated = tokens if tokens is not None else [(t, {t: 1.0}) for t in split_tokens(content)]
                logprobs = {"content": logprobs_content(generated, body.get("top_logprobs") or 0)}
            choices.append({"index": number, "message": message, "finish_reason": finish, "logprobs": logprobs})
        completion: dict[str, Any] = {
            "id": f"chatcmpl-loopback-{index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL_ID),
            "choices": choices,
        }
        if self.usage:
            prompt = sum(math.ceil(len(message_text(m)) / 4) for m in body["messages"] if isinstance(m, Mapping))
            completion_tokens = sum(
                math.ceil(len(c["message"]["content"] or c["message"]["refusal"] or "") / 4) for c in choices
            )
            completion["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens,
            }
        return completion

    async def _send(
        self,
        entry: LoggedRequest,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        extra_headers: Mapping[str, str] | None = None,
    ) -> bool:
        data = json.dumps(payload).encode("utf-8")
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            "Connection: keep-alive",
            *(f"{name}: {value}" for name, value in (extra_headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()
        entry.status = status
        entry.answered = time.monotonic()
        self._write_log(entry)
        return True

    def _write_log(self, entry: LoggedRequest) -> None:
        """Script mode: one JSON line per finished request, flushed, so another process can count them."""
        if self._log_file is None:
            return
        record = {
            "index": entry.index,
            "method": entry.method,
            "path": entry.path,
            "fault": entry.fault,
            "status": entry.status,
            "received": entry.received,
            "answered": entry.answered,
            "body": entry.body,
        }
        self._log_file.write(json.dumps(record) + "\n")
        self._log_file.flush()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0"))
    return await reader.readexactly(length) if length else b""


# ---------------------------------------------------------------------------------------------
# Script mode


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the loopback OpenAI-compatible server until SIGTERM/SIGINT.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of chat requests given a random fault")
    parser.add_argument("--faults", default=",".join(SOAK_FAULTS), help="comma-separated fault kinds to draw from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after", default="0", help="Retry-After value sent with 429")
    parser.add_argument("--hang", type=float, default=None, help="seconds a hang lasts (default: until hang-up)")
    parser.add_argument("--no-usage", action="store_true", help="leave the usage block out of answers")
    parser.add_argument("--no-structured-support", action="store_true", help="reject json_schema response formats")
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per request to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server in the foreground, printing the base URL as the first line of stdout."""
    args = _arguments(argv)
    kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
    for kind in kinds:
        Fault(kind)  # unknown kinds fail here, with the list of known ones
    plan = random_faults(args.fault_rate, args.seed, kinds, args.retry_after, args.hang) if args.fault_rate else None
    log_file = args.log.open("a", encoding="utf-8") if args.log else None
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    server = LoopbackServer(
        args.latency,
        plan,
        host=args.host,
        port=args.port,
        usage=not args.no_usage,
        structured_supported=not args.no_structured_support,
        log_file=log_file,
    )
    with server:
        print(server.base_url, flush=True)
        while not done.wait(0.5):
            pass
    if log_file is not None:
        log_file.close()


if __name__ == "__main__":
    main()
