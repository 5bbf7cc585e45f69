"""The teacher behind any OpenAI-compatible server (OpenAI, vLLM, Ollama, ...), through the official client.

A build sends thousands of paid requests, so this client does four things and nothing else:
it looks every request up in the :class:`~cotgen.teachers.response_cache.ResponseCache` first (never pay twice);
it keeps at most ``concurrency`` requests in flight and paces them under ``rpm``/``tpm``; it
retries what is worth retrying (429, 5xx, timeouts, dropped connections) with capped, jittered
exponential backoff that honours Retry-After — as the *only* retry layer (the openai client's own
retries are off), so the server's request log and our counts agree exactly; and it turns
everything else into a :class:`TeacherCallError` whose reason is a reject reason of docs/architecture.md.
One failure is not an item's fault: a server that cannot be reached at all. While no request has
had any answer, failures to connect are counted across all requests, and at the limit the client
raises :class:`TeacherUnreachableError` (a one-line user error) instead of letting every item of a
large corpus sit through its retries and end as a reject: the build stops, and the items stay to do.
Validating the text is the caller's job: this module returns the raw answer (text, finish
reason, refusal, usage) and caches it raw, so a change in validation needs no new request.

Everything that is the same for every call (the HTTP client, the ``response_format`` of a class
set, the sampling parameters) is built once: at concurrency 50 on two cores, the client's CPU per
request is what limits throughput.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2
import soundfile
from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    DefaultAsyncHttpxClient,
)

from cotgen.acoustics.decode import DecodeError, decode_mono
from cotgen.core.errors import CotgenError
from cotgen.records.trace import response_schema
from cotgen.teachers.ratelimit import (
    RequestLimiter,
    estimate_text_tokens,
    estimate_tokens,
    parse_retry_after,
    retry_delay,
)
from cotgen.teachers.response_cache import ResponseCache, canonical_json

OPENAI_HOST = "api.openai.com"
PLACEHOLDER_KEY = "EMPTY"
RESPONSE_FORMAT_NAME = "emotion_trace"
CHAT_PATH = "/chat/completions"
_DETAIL_LIMIT = 300
# Connection failures (refused, DNS, connect timeout) with no answer yet after which the server counts as unreachable.
UNREACHABLE_AFTER = 8
# What httpx raises when no connection could be made; a reset or a read timeout means the server was reached.
_CONNECT_FAILURES = (httpx2.ConnectError, httpx2.ConnectTimeout)

logger = logging.getLogger("cotgen.teacher")

CallFailure = Literal["timeout", "rate_limited", "server_error"]
RetryCause = Literal["rate_limited", "server_error", "timeout", "connection_error"]
_FAILURE_OF_CAUSE: dict[str, CallFailure] = {
    "rate_limited": "rate_limited",
    "server_error": "server_error",
    "timeout": "timeout",
    "connection_error": "server_error",
}


@dataclass(frozen=True)
class TeacherConfig:
    """How to reach and pace an OpenAI-compatible teacher (the ``--teacher openai:MODEL`` options)."""

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 60.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    structured: bool = True
    send_audio: bool = False
    unreachable_after: int = UNREACHABLE_AFTER

    def __post_init__(self) -> None:
        checks = [
            (bool(self.model.strip()), "the teacher model name is empty (expected --teacher openai:MODEL)"),
            (self.concurrency >= 1, f"--concurrency must be at least 1, got {self.concurrency}"),
            (self.rpm is None or self.rpm > 0, f"--rpm must be positive, got {self.rpm}"),
            (self.tpm is None or self.tpm > 0, f"--tpm must be positive, got {self.tpm}"),
            (self.timeout > 0, f"--timeout must be positive, got {self.timeout}"),
            (self.max_retries >= 0, f"--max-retries must be 0 or more, got {self.max_retries}"),
            (self.backoff_base >= 0 and self.backoff_cap >= 0, "backoff times must not be negative"),
            (self.unreachable_after >= 1, f"unreachable_after must be at least 1, got {self.unreachable_after}"),
        ]
        for ok, message in checks:
            if not ok:
                raise CotgenError(message)


@dataclass(frozen=True)
class ChatRequest:
    """One question to the teacher; ``sample`` keeps K identical requests apart in the cache."""

    messages: list[dict]
    sample: int
    temperature: float
    classes: tuple[str, ...]
    max_tokens: int | None = None


@dataclass
class ChatResult:
    """The raw answer: what the build validates, repairs or rejects."""

    text: str | None
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    from_cache: bool


class TeacherCallError(Exception):
    """No answer: retries exhausted, or an error that retrying cannot fix. ``reason`` is a reject reason."""

    def __init__(self, reason: CallFailure, detail: str, attempts: int) -> None:
        super().__init__(f"{reason}: {detail} (after {attempts} request{'s' if attempts != 1 else ''})")
        self.reason: CallFailure = reason
        self.detail = detail
        self.attempts = attempts


class TeacherUnreachableError(CotgenError):
    """The server never answered and connecting keeps failing: a wrong ``--base-url`` or a server that is down.

    A :class:`CotgenError`, not a :class:`TeacherCallError`: it is not the item's fault, so it is not
    written as a reject; it stops the build with one line, and a rerun finds the items still to do.
    """


def resolve_base_url(config: TeacherConfig) -> str | None:
    """``--base-url``, else OPENAI_BASE_URL, else None (OpenAI's own endpoint)."""
    return config.base_url or os.environ.get("OPENAI_BASE_URL") or None


def is_openai_endpoint(base_url: str | None) -> bool:
    """Whether requests go to OpenAI itself (where a real key is required)."""
    return base_url is None or (urlsplit(base_url).hostname or "").lower() == OPENAI_HOST


def resolve_api_key(config: TeacherConfig) -> str:
    """The API key from ``config.api_key_env``; a placeholder for local servers that need none.

    With OpenAI's endpoint and no key, a one-line :class:`CotgenError` that names the variable (never a value).
    """
    key = os.environ.get(config.api_key_env, "").strip()
    if key:
        return key
    if is_openai_endpoint(resolve_base_url(config)):
        raise CotgenError(
            f"no API key: set {config.api_key_env} (or name another variable with --api-key-env) "
            "to use OpenAI's API, or point --base-url at a local OpenAI-compatible server"
        )
    return PLACEHOLDER_KEY


def build_audio_part(path: str) -> dict:
    """The clip as an ``input_audio`` content part (base64 WAV), for audio-capable teachers.

    WAV files are sent byte for byte; other formats soundfile reads, or else librosa decodes with ffmpeg
    (MELD's mp4 clips), are converted to 16-bit WAV.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CotgenError(f"{path}: cannot read audio for --send-audio ({exc.strerror or exc})") from None
    if not (data[:4] == b"RIFF" and data[8:12] == b"WAVE"):
        try:
            samples, rate = soundfile.read(io.BytesIO(data))
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
            try:
                samples, rate = decode_mono(path)
            except DecodeError as decode_error:
                raise CotgenError(
                    f"{path}: not a readable audio file for --send-audio ({exc}; ffmpeg: {decode_error})"
                ) from None
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
        data = buffer.getvalue()
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": "wav"}}


def _scrub(text: str, secret: str) -> str:
    """One line, the key blanked out, short enough for a log line or a reject record."""
    if secret and secret != PLACEHOLDER_KEY:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _display_url(base_url: str | None) -> str:
    """The endpoint for messages, without any user:password part a URL may carry."""
    if base_url is None:
        return OPENAI_HOST
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _server_message(exc: APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
    return exc.message


class OpenAITeacher:
    """An OpenAI-compatible teacher with cache, concurrency limit, rate limits and one retry layer.

    Use it inside one event loop (the HTTP connection pool belongs to the loop that first uses it)
    and close it with :meth:`aclose`.
    """

    def __init__(self, config: TeacherConfig, cache: ResponseCache | None) -> None:
        self.config = config
        self.name = f"openai:{config.model}"
        self._cache = cache
        self._base_url = resolve_base_url(config)
        self._key = resolve_api_key(config)
        self._client = AsyncOpenAI(
            api_key=self._key,
            base_url=self._base_url,
            max_retries=0,
            timeout=config.timeout,
            http_client=DefaultAsyncHttpxClient(
                timeout=config.timeout,
                limits=httpx2.Limits(max_connections=None, max_keepalive_connections=config.concurrency),
            ),
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._limiter = RequestLimiter(config.rpm, config.tpm)
        self._response_formats: dict[tuple[str, ...], tuple[dict[str, Any], str]] = {}
        self._answered = False  # any HTTP answer at all (even an error status) proves the server is reachable
        self._connect_failures = 0
        # An item that runs out of retries on connection failures alone trips the breaker rather than being rejected.
        self._unreachable_after = min(config.unreachable_after, config.max_retries + 1)
        self._unreachable: str | None = None
        self._counts: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()

    def _response_format(self, classes: Sequence[str]) -> tuple[dict[str, Any], str] | None:
        """The strict ``json_schema`` response format of a class set and its schema's canonical JSON, built once.

        The canonical JSON goes into every cache key, so encoding it once per class set instead of per
        request is what keeps a cached rerun fast. None when no format is sent: with ``structured=False``
        (servers without structured outputs) or with ``send_audio`` (audio-input models reject it; the
        schema then goes into the prompt).
        """
        if not self.config.structured or self.config.send_audio:
            return None
        codes = tuple(classes)
        built = self._response_formats.get(codes)
        if built is None:
            schema = response_schema(codes)
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": RESPONSE_FORMAT_NAME, "strict": True, "schema": schema},
            }
            built = self._response_formats[codes] = (response_format, canonical_json(schema))
        return built

    def request_body(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        """The response-cache key and the exact JSON body of one request.

        One function for both ways of asking, so a Batch API line (:mod:`cotgen.teachers.batch`) carries
        byte for byte the body a synchronous call sends, and its answer lands under the same cache key.
        """
        params: dict[str, Any] = {"temperature": request.temperature}
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        built = self._response_format(request.classes)
        response_format, schema_json = built if built is not None else (None, None)
        key = ResponseCache.key_encoded(self.config.model, request.messages, params, schema_json, request.sample)
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": request.messages, **params}
        if response_format is not None:
            kwargs["response_format"] = response_format
        return key, kwargs

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Cache lookup, then (on a miss) rate limit, request, retries, and cache store."""
        key, kwargs = self.request_body(request)
        if self._cache is not None:
            stored = self._cache.get(key)
            if stored is not None:
                self._counts["cache_hits"] += 1
                self._counts["cached_tokens_in"] += stored["usage"]["prompt_tokens"]
                self._counts["cached_tokens_out"] += stored["usage"]["completion_tokens"]
                return _result(stored, attempts=0, from_cache=True)
            self._counts["cache_misses"] += 1
        raw, attempts = await self._request(kwargs, estimate_tokens(request.messages) + (request.max_tokens or 0))
        self._counts["cached_prompt_tokens"] += raw["usage"].get("cached_prompt_tokens", 0)
        if self._cache is not None:
            self._cache.put(key, raw)
        return _result(raw, attempts=attempts, from_cache=False)

    async def _request(self, kwargs: dict[str, Any], reserved_tokens: int) -> tuple[dict[str, Any], int]:
        """Send until an answer arrives, retrying retryable failures; returns the raw answer and the request count."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._semaphore:
                    await self._limiter.acquire(reserved_tokens)
                    if self._unreachable is not None:  # checked when the turn comes: others may have tripped it
                        raise TeacherUnreachableError(self._unreachable)
                    self._counts["requests"] += 1
                    # The untyped post skips the typed create()'s per-request walk of the body through
                    # TypedDict transforms (about 1 ms of CPU per request, measured), which our plain JSON
                    # body does not need; auth, errors and timeouts are the same client code.
                    completion = await self._client.post(CHAT_PATH, body=kwargs, cast_to=object)
            except APITimeoutError as exc:
                self._note_connect_failure(exc)
                cause, retry_after, detail = "timeout", None, f"no answer within {self.config.timeout:g} s"
            except APIConnectionError as exc:
                self._note_connect_failure(exc)
                cause, retry_after = "connection_error", None
                detail = f"connection to {_display_url(self._base_url)} failed ({_connection_cause(exc)})"
            except APIStatusError as exc:
                self._answered = True
                cause = _retry_cause(exc.status_code)
                if cause is None:
                    raise self._fail("server_error", self._status_detail(exc, kwargs), attempt) from None
                retry_after = parse_retry_after(exc.response.headers)
                detail = f"HTTP {exc.status_code}: {_scrub(_server_message(exc), self._key)}"
            else:
                self._answered = True
                raw = _raw_answer(completion, kwargs["messages"])
                if raw is None:
                    raise self._fail("server_error", "the server's answer is not a chat completion", attempt)
                usage = raw["usage"]
                self._limiter.correct(reserved_tokens, usage["prompt_tokens"] + usage["completion_tokens"])
                self._counts["tokens_in"] += usage["prompt_tokens"]
                self._counts["tokens_out"] += usage["completion_tokens"]
                return raw, attempt
            if attempt > self.config.max_retries:
                raise self._fail(_FAILURE_OF_CAUSE[cause], detail, attempt) from None
            self._retries[cause] += 1
            await asyncio.sleep(retry_delay(attempt, retry_after, self.config.backoff_base, self.config.backoff_cap))

    def _note_connect_failure(self, exc: APIConnectionError) -> None:
        """Count a failure to connect while the server has never answered; at the limit, stop with one line.

        Raises :class:`TeacherUnreachableError` then, and every later request of this client raises it
        before sending, so requests waiting in backoff do not knock on a dead server again.
        """
        if self._answered or not isinstance(exc.__cause__, _CONNECT_FAILURES):
            return
        self._connect_failures += 1
        if self._unreachable is None and self._connect_failures >= self._unreachable_after:
            self._unreachable = (
                f"the server at {_display_url(self._base_url)} cannot be reached "
                f"({_connection_cause(exc)} on {self._connect_failures} connection attempts, no answer yet): "
                "check --base-url (or OPENAI_BASE_URL) and that the server is running; "
                "unfinished items stay to do for a rerun"
            )
            logger.error("%s", self._unreachable)
        if self._unreachable is not None:
            raise TeacherUnreachableError(self._unreachable) from None

    def _fail(self, reason: CallFailure, detail: str, attempts: int) -> TeacherCallError:
        self._failures[reason] += 1
        return TeacherCallError(reason, detail, attempts)

    def _status_detail(self, exc: APIStatusError, kwargs: dict[str, Any]) -> str:
        """What a non-retryable HTTP error means for the user; the key itself never appears."""
        status = exc.status_code
        if status == 401:
            return f"the server rejected the API key from {self.config.api_key_env} (HTTP 401)"
        message = _scrub(_server_message(exc), self._key)
        lowered = message.lower()
        if status == 400 and "response_format" in kwargs and ("response_format" in lowered or "json_schema" in lowered):
            # Rejects are final on a rerun, so the advice must include --retry-rejects to be followable as printed.
            advice = "rerun with --no-structured --retry-rejects"
            return f"the server does not support structured outputs; {advice} (HTTP 400: {message})"
        if status == 404:
            return f"not found (HTTP 404): check the model name {self.config.model!r} and --base-url ({message})"
        return f"HTTP {status}: {message}"

    def stats(self) -> dict[str, Any]:
        """Counters for run.json and the progress bar: requests, retries by cause, tokens, cache hits, failures."""
        return {
            "requests": self._counts["requests"],
            "retries": dict(self._retries),
            "failures": dict(self._failures),
            "tokens_in": self._counts["tokens_in"],
            "tokens_out": self._counts["tokens_out"],
            "cache_hits": self._counts["cache_hits"],
            "cache_misses": self._counts["cache_misses"],
            "cached_tokens_in": self._counts["cached_tokens_in"],
            "cached_tokens_out": self._counts["cached_tokens_out"],
            "cached_prompt_tokens": self._counts["cached_prompt_tokens"],
        }

    async def aclose(self) -> None:
        """Close the HTTP connections (the cache belongs to the caller)."""
        await self._client.close()


def _retry_cause(status: int) -> RetryCause | None:
    """Which retryable failure an HTTP status is, or None when retrying cannot help (400, 401, 403, 404, ...)."""
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    return None


def _connection_cause(exc: APIConnectionError) -> str:
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else exc.message


def _raw_answer(completion: Any, messages: list[dict]) -> dict[str, Any] | None:
    """The parts of a chat completion worth caching, usage estimated (chars / 4) when the server gives none.

    None when the answer is not a chat completion with a message (a broken proxy, an HTML page).
    """
    try:
        choice = completion["choices"][0]
        message = choice["message"]
        text, refusal, finish_reason = message.get("content"), message.get("refusal"), choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not (text is None or isinstance(text, str)) or not (refusal is None or isinstance(refusal, str)):
        return None
    usage = completion.get("usage")
    reported = isinstance(usage, dict) and all(
        isinstance(usage.get(name), int) for name in ("prompt_tokens", "completion_tokens")
    )
    return {
        "text": text,
        "finish_reason": finish_reason if isinstance(finish_reason, str) else None,
        "refusal": refusal,
        "usage": {
            "prompt_tokens": usage["prompt_tokens"] if reported else estimate_tokens(messages),
            "completion_tokens": usage["completion_tokens"] if reported else estimate_text_tokens(text),
            "estimated": not reported,
            **_cached_prompt_tokens(usage),
        },
    }


def _cached_prompt_tokens(usage: Any) -> dict[str, int]:
    """The prompt tokens the server's prompt cache served, as ``{"cached_prompt_tokens": n}``; {} when unreported.

    Read from ``usage.prompt_tokens_details.cached_tokens`` (synchronous or batch), for the cost.
    """
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return {"cached_prompt_tokens": cached} if isinstance(cached, int) and cached >= 0 else {}


def _result(raw: dict[str, Any], attempts: int, from_cache: bool) -> ChatResult:
    return ChatResult(
        text=raw["text"],
        finish_reason=raw["finish_reason"],
        refusal=raw["refusal"],
        prompt_tokens=raw["usage"]["prompt_tokens"],
        completion_tokens=raw["usage"]["completion_tokens"],
        attempts=attempts,
        from_cache=from_cache,
    )


# The Batch API engine (cotgen.teachers.batch) and the batch build read a batch row's completion, word the
# failures of their calls and name the server exactly as this client does: these are their names for it.
raw_answer = _raw_answer
scrub = _scrub
server_message = _server_message
retry_cause = _retry_cause
display_url = _display_url
