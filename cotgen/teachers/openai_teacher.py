"""The teacher behind any OpenAI-compatible server (OpenAI, vLLM, Ollama, ...), through the official client.

A build sends thousands of paid requests, so this client does four things and nothing else:
it looks every request up in the :class:`~cotgen.teachers.response_cache.ResponseCache` first (never pay twice);
it keeps at most ``concurrency`` requests in flight and paces them under ``rpm``/``tpm``; it
retries what is worth retrying (429, 5xx, timeouts, dropped connections) with capped, jittered
exponential backoff that honours Retry-After — as the *only* retry layer (the openai client's own
retries are off), so the server's request log and our counts agree exactly; and it turns
everything else into a :class:`TeacherCallError` whose reason is a reject reason of docs/architecture.md.
Some failures are not an item's fault: a server that cannot be reached, an outage, a server that answers
only failures, or the same unfixable failure on every request (a wrong model name or key).
:mod:`cotgen.teachers.breaker` tells them apart, and the client then raises :class:`TeacherStopped` (a
one-line user error) instead of letting every item of a large corpus sit through its retries: the build
stops, and the items stay to do. A call that runs out of retries on the server's fault (5xx, timeouts,
connection failures, 429s, broken answers) says so (:attr:`TeacherCallError.server_fault`), so its
caller leaves the item to do rather than rejecting it. The retry policy itself runs on tenacity.

Every answer is read within bounds (docs/teacher-contract.md): ``timeout`` is the deadline of the whole
request, the answer's last byte included (a server that trickles a byte at a time cannot hold a run
past it), and an answer larger than ``max_response_bytes`` is cut off as it arrives; a 200 that is cut
off, undecodable, oversized or not a chat completion is a retried server failure, never a traceback.
The token limit goes out as ``max_completion_tokens``, today's name, and as ``max_tokens`` to a server
that refuses the new name (learnt from its first refusal and kept for the client's life).
Validating the text is the caller's job: this module returns the raw answer (text, finish
reason, refusal, usage) and caches it raw, so a change in validation needs no new request.
Several samples of one question (``cotgen predict --samples K``) go as one request with ``n``
(:meth:`OpenAITeacher.chat_samples`), each choice cached as its own single-sample answer.

Everything that is the same for every call (the HTTP client, the ``response_format`` of a class
set, the sampling parameters) is built once: at concurrency 50 on two cores, the client's CPU per
request is what limits throughput.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import httpx2  # the HTTP library openai>=3 is built on (declared in pyproject.toml beside openai)
from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    DefaultAsyncHttpxClient,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from cotgen.core.audio import AudioDecodeError, audio_as_wav
from cotgen.core.errors import CotgenError
from cotgen.core.redact import redact, redact_url, remember_secrets
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import response_schema
from cotgen.teachers.bounds import DEADLINE_GRACE_S, MAX_RESPONSE_BYTES
from cotgen.teachers.breaker import (
    FAILING_AFTER,
    OUTAGE_AFTER_S,
    SERVER_FAULT_REASONS,
    SYSTEMATIC_AFTER,
    UNREACHABLE_AFTER,
    FailureBreaker,
    SendingStopped,
)
from cotgen.teachers.breaker import TeacherUnreachableError as TeacherUnreachableError  # re-exported
from cotgen.teachers.endpoint import resolve_base_url as endpoint_url
from cotgen.teachers.endpoint import server_of
from cotgen.teachers.ratelimit import (
    RequestLimiter,
    estimate_text_tokens,
    estimate_tokens,
    parse_retry_after,
    retry_delay,
)
from cotgen.teachers.response_cache import CacheKeys, ResponseCache, canonical_json

OPENAI_HOST = "api.openai.com"
PLACEHOLDER_KEY = "EMPTY"
RESPONSE_FORMAT_NAME = "emotion_trace"
CHAT_PATH = "/chat/completions"
_DETAIL_LIMIT = 300
# How often per outage window a request out of retries probes the server while the outage lasts.
OUTAGE_POLLS = 10
# A 400 that names the parameter n ("only n=1 is supported", "'n' must be 1") refuses several choices; another
# 400 (a prompt over the context length, say) is the question's own failure and would fail one by one too.
_NAMES_N = re.compile(r"\bn\b")
# What httpx raises when no connection could be made; a reset or a read timeout means the server was reached.
_CONNECT_FAILURES = (httpx2.ConnectError, httpx2.ConnectTimeout)
# The answer's headers came, its body did not all arrive (the connection closed early): a cut-off answer.
_CUT_OFF = (httpx2.RemoteProtocolError,)
# The token limit's name today, and the older name some servers still require.
TOKEN_LIMIT = "max_completion_tokens"
LEGACY_TOKEN_LIMIT = "max_tokens"
TIMEOUT_ADVICE = "if the server is just slow, raise --timeout"
# asyncio.timeout (Python 3.11+) bounds a request without the task asyncio.wait_for creates for each one.
_DEADLINE = getattr(asyncio, "timeout", None)

logger = logging.getLogger("cotgen.teacher")

# request_refused: a 4xx that retrying cannot fix (key, model, parameters, a prompt the server will not take).
CallFailure = Literal["timeout", "rate_limited", "server_error", "malformed_response", "request_refused"]
RetryCause = Literal["rate_limited", "server_error", "timeout", "connection_error", "malformed_response"]
_FAILURE_OF_CAUSE: dict[str, CallFailure] = {
    "rate_limited": "rate_limited",
    "server_error": "server_error",
    "timeout": "timeout",
    "connection_error": "server_error",
    "malformed_response": "malformed_response",
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
    stages: tuple[str, ...] = DEFAULT_ORDER  # the run's order of the reasoning stages: the schema's key order
    unreachable_after: int = UNREACHABLE_AFTER
    outage_after: float = OUTAGE_AFTER_S
    systematic_after: int = SYSTEMATIC_AFTER
    failing_after: int = FAILING_AFTER
    max_response_bytes: int = MAX_RESPONSE_BYTES

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
            (self.outage_after > 0, f"--outage-after must be positive, got {self.outage_after}"),
            (self.systematic_after >= 1, f"systematic_after must be at least 1, got {self.systematic_after}"),
            (self.failing_after >= 1, f"failing_after must be at least 1, got {self.failing_after}"),
            (self.max_response_bytes >= 1024, f"the answer size cap must be >= 1 KiB, got {self.max_response_bytes}"),
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
    # Draw a new answer even when one is cached (``--resample``); the new answer replaces the cached one.
    fresh: bool = False
    # Ask for each generated token's logprob and this many alternatives (``logprobs``/``top_logprobs``); None: not.
    top_logprobs: int | None = None


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
    # One entry per generated token when the request asked for logprobs (:func:`token_logprobs`), else None.
    logprobs: list[dict[str, Any]] | None = None


class TeacherCallError(Exception):
    """No answer: retries exhausted, or an error that retrying cannot fix.

    ``status`` is the HTTP status of a final error answer (400, 404, ...), None when there was none.
    A ``request_refused`` call is the request's own (a reject reason); the other reasons are
    :data:`~cotgen.teachers.breaker.SERVER_FAULT_REASONS`, which are never an item's (:attr:`server_fault`).
    """

    def __init__(self, reason: CallFailure, detail: str, attempts: int, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail} (after {attempts} request{'s' if attempts != 1 else ''})")
        self.reason: CallFailure = reason
        self.detail = detail
        self.attempts = attempts
        self.status = status

    @property
    def server_fault(self) -> bool:
        """The server's fault (out of retries on 5xx, timeouts, 429s, broken answers): the item stays to do."""
        return self.reason in SERVER_FAULT_REASONS


class ResponseTooLarge(Exception):  # noqa: N818 (named after what it reports, like the httpx exceptions)
    """An answer past ``max_response_bytes``; raised while reading it, so the rest is never read into memory."""


class _CappedStream(httpx2.AsyncByteStream):
    """A response body that stops being read once it passes the cap."""

    def __init__(self, inner: httpx2.AsyncByteStream, cap: int) -> None:
        self._inner = inner
        self._cap = cap

    async def __aiter__(self):  # type: ignore[override]
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._cap:
                raise ResponseTooLarge(f"the answer is larger than {self._cap:,} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """The HTTP transport with a cap on every answer's size (a declared Content-Length is checked first)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, cap: int) -> None:
        self._inner = inner
        self._cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._cap:
            await response.aclose()
            raise ResponseTooLarge(f"the answer declares {int(declared):,} bytes, more than {self._cap:,}")
        response.stream = _CappedStream(response.stream, self._cap)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Retryable(Exception):
    """A failed request worth retrying (429, 5xx, 408, timeout, dropped connection); tenacity decides when."""

    def __init__(self, cause: RetryCause, retry_after: float | None, detail: str) -> None:
        super().__init__(detail)
        self.cause: RetryCause = cause
        self.retry_after = retry_after
        self.detail = detail

    try_again = False  # set when the server came back from an outage while this request sat it out

    @property
    def connection(self) -> bool:
        """A timeout or a connection failure: the kind of failure an outage gives."""
        return self.cause in ("timeout", "connection_error")


def resolve_base_url(config: TeacherConfig) -> str | None:
    """``--base-url``, else OPENAI_BASE_URL, else None (OpenAI's own endpoint)."""
    return endpoint_url(config.base_url)


def is_openai_endpoint(base_url: str | None) -> bool:
    """Whether requests go to OpenAI itself (where a real key is required)."""
    return base_url is None or (urlsplit(base_url).hostname or "").lower() == OPENAI_HOST


def resolve_api_key(config: TeacherConfig) -> str:
    """The API key from ``config.api_key_env``; a placeholder for local servers that need none.

    With OpenAI's endpoint and no key, a one-line :class:`CotgenError` that names the variable (never a value).
    """
    key = os.environ.get(config.api_key_env, "").strip()
    if key:
        remember_secrets([key])
        return key
    if is_openai_endpoint(resolve_base_url(config)):
        raise CotgenError(
            f"no API key: set {config.api_key_env} (or name another variable with --api-key-env) "
            "to use OpenAI's API, or point --base-url at a local OpenAI-compatible server"
        )
    return PLACEHOLDER_KEY


def build_audio_part(path: str) -> dict:
    """The clip as an ``input_audio`` content part (base64 WAV), for audio-capable teachers.

    A mono 16-bit WAV is sent byte for byte; any other file (stereo, FLAC, MP3, Ogg, M4A...) is decoded by
    :func:`cotgen.core.audio.audio_as_wav` into one, at its own rate.
    """
    try:
        data = audio_as_wav(path)
    except AudioDecodeError as exc:
        raise CotgenError(f"--send-audio: {exc}") from None
    except OSError as exc:
        raise CotgenError(f"{path}: cannot read audio for --send-audio ({exc.strerror or exc})") from None
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": "wav"}}


def _scrub(text: str, secret: str) -> str:
    """One line, URLs and every known secret (the key too) redacted, short enough for a log line or a reject."""
    text = " ".join(redact(text, [secret] if secret != PLACEHOLDER_KEY else []).split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def display_url(base_url: str | None) -> str:
    """The endpoint for messages and batch journals, without credentials (:func:`cotgen.core.redact.redact_url`)."""
    return OPENAI_HOST if base_url is None else redact_url(base_url)


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
        self.server = server_of(config.base_url)
        self._key = resolve_api_key(config)
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=config.concurrency)
        self._client = AsyncOpenAI(
            api_key=self._key,
            base_url=self._base_url,
            max_retries=0,
            timeout=config.timeout,
            # Uncompressed answers: the size cap then bounds the memory an answer takes, not only its bytes on
            # the wire (a few KB of gzip can unpack to gigabytes); traces are small, the saving would be too.
            default_headers={"Accept-Encoding": "identity"},
            http_client=DefaultAsyncHttpxClient(
                timeout=config.timeout,
                transport=BoundedTransport(httpx2.AsyncHTTPTransport(limits=limits), config.max_response_bytes),
            ),
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._limiter = RequestLimiter(config.rpm, config.tpm)
        self._response_formats: dict[tuple[str, ...], tuple[dict[str, Any], str]] = {}
        self._keys = CacheKeys(config.model, self.server)
        # An item that runs out of retries on connection failures alone trips the breaker rather than being rejected.
        self._breaker = FailureBreaker(
            unreachable_after=min(config.unreachable_after, config.max_retries + 1),
            outage_after_s=config.outage_after,
            systematic_after=config.systematic_after,
            failing_after=config.failing_after,
        )
        self._token_limit = TOKEN_LIMIT  # LEGACY_TOKEN_LIMIT once the server has refused TOKEN_LIMIT
        self._stopping = asyncio.Event()  # set by stop_sending(): no new request goes out
        self._in_flight = 0
        self._counts: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._n_honoured: bool | None = None  # learnt from the first request that asks for several choices

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
            schema = response_schema(codes, order=self.config.stages)
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": RESPONSE_FORMAT_NAME, "strict": True, "schema": schema},
            }
            built = self._response_formats[codes] = (response_format, canonical_json(schema))
        return built

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Cache lookup, then (on a miss) rate limit, request, retries, and cache store."""
        key = self._cache_key(request)
        if self._cache is not None:
            cached = None if request.fresh else self._cached(key)
            if cached is not None:
                return cached
            self._counts["cache_misses"] += 1
        return await self._ask_one(request, key)

    async def _ask_one(self, request: ChatRequest, key: str) -> ChatResult:
        """Request, retries and cache store of a question not in the cache."""
        raws, attempts = await self._request(
            self._body(request), estimate_tokens(request.messages) + (request.max_tokens or 0)
        )
        if self._cache is not None:
            self._cache.put(key, raws[0])
        return _result(raws[0], attempts=attempts, from_cache=False)

    @property
    def token_limit_parameter(self) -> str:
        """``max_completion_tokens``, or ``max_tokens`` once this server has refused the newer name."""
        return self._token_limit

    @property
    def in_flight(self) -> int:
        """Requests sent whose answer has not come back yet."""
        return self._in_flight

    def stop_sending(self) -> None:
        """Send nothing more (the first Ctrl-C): requests in flight finish, waits for a retry end at once.

        Every request about to go out afterwards raises :class:`SendingStopped` instead; answers that
        arrive are cached and returned as usual, so what was paid for is kept.
        """
        self._stopping.set()

    async def _sleep(self, seconds: float) -> None:
        """tenacity's wait before a retry, cut short when sending stops (the retry then raises SendingStopped)."""
        if seconds <= 0 or self._stopping.is_set():
            return
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:  # noqa: UP041 (a distinct class on Python 3.10)
            pass

    @property
    def n_honoured(self) -> bool | None:
        """Whether the server returned every choice asked for with ``n``; None until a request has asked."""
        return self._n_honoured

    async def chat_samples(
        self, request: ChatRequest, samples: Sequence[int]
    ) -> dict[int, ChatResult | TeacherCallError]:
        """One answer per sample number: cached ones from the cache, the rest in one request with ``n``.

        Each choice is cached under the key of the single-sample request (``request`` with that
        ``sample``, no ``n``), so a batched answer and K separate ones are interchangeable: a rerun
        with more samples asks only for the new ones, and the fallback below reuses what came back.
        The prompt (and its audio) is sent and paid for once; the usage of the request is shared
        out by :func:`share_usage`, the prompt tokens on the first choice. When the server returns
        fewer choices than asked (it ignores ``n``) or refuses ``n`` (HTTP 400 naming ``n``), the missing
        samples are asked one request each, and this client stops asking for ``n`` (checked once,
        from the choices that came back, then remembered). A failure is returned in place of its
        sample's result, so the samples that did come back are kept.
        """
        results: dict[int, ChatResult | TeacherCallError] = {}
        missing: list[int] = []
        for sample in samples:
            cached = self._cached(self._cache_key(replace(request, sample=sample)))
            if cached is None:
                missing.append(sample)
            else:
                results[sample] = cached
        if self._cache is not None:
            self._counts["cache_misses"] += len(missing)
        if len(missing) > 1 and self._n_honoured is not False:
            missing = await self._ask_many(request, missing, results)
        singles = await asyncio.gather(*(self._ask_or_error(replace(request, sample=s)) for s in missing))
        results.update(zip(missing, singles))
        return {sample: results[sample] for sample in samples}

    def _cached(self, key: str) -> ChatResult | None:
        """The cached answer under ``key``, counted as a hit; None on a miss (counted by the caller)."""
        stored = self._cache.get(key) if self._cache is not None else None
        if stored is None:
            return None
        self._counts["cache_hits"] += 1
        self._counts["cached_tokens_in"] += stored["usage"]["prompt_tokens"]
        self._counts["cached_tokens_out"] += stored["usage"]["completion_tokens"]
        return _result(stored, attempts=0, from_cache=True)

    def _cache_key(self, request: ChatRequest) -> str:
        """The cache key of a single-sample request (the schema's canonical JSON encoded once per class set)."""
        built = self._response_format(request.classes)
        return self._keys.key(request.messages, _sampling_params(request), built[1] if built else None, request.sample)

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        """The request body of one question (``n`` is added by :meth:`_ask_many`).

        The token limit is sent under the name the server takes (:attr:`token_limit_parameter`); the cache key
        keeps calling it ``max_tokens`` (:func:`_sampling_params`), so answers cached before stay found.
        """
        body: dict[str, Any] = {"model": self.config.model, "messages": request.messages, **_sampling_params(request)}
        if request.max_tokens is not None and self._token_limit != LEGACY_TOKEN_LIMIT:
            body[self._token_limit] = body.pop(LEGACY_TOKEN_LIMIT)
        built = self._response_format(request.classes)
        if built is not None:
            body["response_format"] = built[0]
        return body

    def request_body(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        """The response-cache key and the exact JSON body of one single-sample request.

        What a synchronous call sends and caches under, so a Batch API line (:mod:`cotgen.teachers.batch`)
        carries byte for byte the same body and its answer lands under the same cache key.
        """
        return self._cache_key(request), self._body(request)

    async def _ask_or_error(self, request: ChatRequest) -> ChatResult | TeacherCallError:
        try:
            return await self._ask_one(request, self._cache_key(request))
        except TeacherCallError as exc:
            return exc

    async def _ask_many(
        self, request: ChatRequest, samples: list[int], results: dict[int, ChatResult | TeacherCallError]
    ) -> list[int]:
        """Ask for ``len(samples)`` choices in one request; fills ``results`` and returns the samples still missing."""
        kwargs = {**self._body(request), "n": len(samples)}
        reserved = estimate_tokens(request.messages) + (request.max_tokens or 0) * len(samples)
        try:
            raws, attempts = await self._request(kwargs, reserved)
        except TeacherCallError as exc:
            if not (exc.status == 400 and _NAMES_N.search(exc.detail)):
                results.update(dict.fromkeys(samples, exc))  # the question's own failure, with or without n
                return []
            self._failures[exc.reason] -= 1  # not a failure of any sample: they are asked one by one next
            self._learn_n(False, f"the server refused n={len(samples)} ({exc.detail})")
            return samples
        self._learn_n(len(raws) >= len(samples), f"asked for n={len(samples)}, {len(raws)} choice(s) came back")
        for position, (sample, raw) in enumerate(zip(samples, raws)):
            if self._cache is not None:
                self._cache.put(self._cache_key(replace(request, sample=sample)), raw)
            results[sample] = _result(raw, attempts=attempts if position == 0 else 0, from_cache=False)
        return samples[len(raws) :]

    def _learn_n(self, honoured: bool, detail: str) -> None:
        if self._n_honoured is None and not honoured:
            logger.warning("%s: %s; asking for each sample with its own request from now on", self.name, detail)
        if self._n_honoured is None or not honoured:
            self._n_honoured = honoured

    async def _request(self, kwargs: dict[str, Any], reserved_tokens: int) -> tuple[list[dict[str, Any]], int]:
        """Send until an answer arrives, retrying retryable failures; returns one raw answer per choice and the
        request count.

        tenacity runs the policy: up to ``max_retries`` retries of 429, 5xx, 408, timeouts and dropped
        connections, each after :func:`~cotgen.teachers.ratelimit.retry_delay` (full-jitter backoff, at
        least the server's Retry-After, at most the cap). A request out of retries on a connection
        failure or timeout first sits out a possible outage (:meth:`_sit_out_outage`).
        """
        config, breaker = self.config, self._breaker
        first_failure: list[float] = []  # clock time of this request's first failed attempt

        def out_of_retries(state: RetryCallState) -> bool:
            if state.attempt_number <= config.max_retries:
                return False
            failure = state.outcome.exception() if state.outcome is not None else None
            return not (isinstance(failure, _Retryable) and failure.try_again)

        def delay(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome is not None else None
            retry_after = failure.retry_after if isinstance(failure, _Retryable) else None
            if state.attempt_number > config.max_retries:  # the server is back after an outage: at once
                return 0.0
            return retry_delay(state.attempt_number, retry_after, config.backoff_base, config.backoff_cap)

        def count_retry(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            if isinstance(failure, _Retryable):
                self._retries[failure.cause] += 1

        attempts = 0
        retrying = AsyncRetrying(
            stop=out_of_retries,
            wait=delay,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=count_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    try:
                        raws = await self._attempt(kwargs, reserved_tokens, attempts)
                    except _Retryable as failure:
                        if not first_failure:
                            first_failure.append(breaker.clock())
                        if attempts > config.max_retries and failure.connection:
                            failure.try_again = await self._sit_out_outage(first_failure[0])
                        raise
        except _Retryable as exc:
            raise self._fail(_FAILURE_OF_CAUSE[exc.cause], exc.detail, attempts) from None
        return raws, attempts

    async def _sit_out_outage(self, first_failure: float) -> bool:
        """Whether a request out of retries is tried once more: the outage rule of :mod:`cotgen.teachers.breaker`.

        While nothing has answered since the request first failed, the server is probed (``GET
        /models``, outside the concurrency limit and not counted as a request) every
        :data:`OUTAGE_POLLS`-th of the outage window until something answers (True after a silence long
        enough to be an outage: the server is back; False after a short one: the failure was the item's)
        or the breaker stops the client (:class:`TeacherStopped` is raised).
        """
        breaker = self._breaker
        silence = breaker.silence_since(first_failure)
        if silence is None:
            return False
        while breaker.silence_since(first_failure) == silence:
            breaker.check()
            if self._stopping.is_set():
                raise SendingStopped()
            self._counts["probes"] += 1
            try:
                await self._client.get("/models", cast_to=object)
            except APIStatusError:
                breaker.answer(success=False)  # any HTTP answer: the server is up
            except APIConnectionError as exc:
                where = display_url(self._base_url)
                breaker.connection_failed(_is_connect_failure(exc), where, _connection_cause(exc))
                await asyncio.sleep(breaker.outage_after_s / OUTAGE_POLLS)
                continue
            else:
                breaker.answer(success=False)
        return breaker.was_outage(silence)

    async def _attempt(self, kwargs: dict[str, Any], reserved_tokens: int, attempt: int) -> list[dict[str, Any]]:
        """One request: a raw answer per choice, or :class:`_Retryable`, :class:`TeacherCallError` or a stop."""
        breaker = self._breaker
        where = display_url(self._base_url)
        try:
            async with self._semaphore:
                await self._limiter.acquire(reserved_tokens)
                if self._stopping.is_set():
                    raise SendingStopped()
                breaker.check()  # checked when the turn comes: others may have tripped it meanwhile
                self._counts["requests"] += 1
                self._in_flight += 1
                try:
                    completion = await self._post(kwargs)
                finally:
                    self._in_flight -= 1
        except (APITimeoutError, asyncio.TimeoutError) as exc:  # noqa: UP041 (a distinct class on Python 3.10)
            detail = f"no complete answer within {self.config.timeout:g} s"
            if isinstance(exc, APITimeoutError):
                breaker.connection_failed(_is_connect_failure(exc), where, _connection_cause(exc))
            breaker.server_failed("timeouts", detail, attempt > 1, where, TIMEOUT_ADVICE)
            raise _Retryable("timeout", None, f"{detail} ({TIMEOUT_ADVICE})") from None
        except ResponseTooLarge as exc:
            self._broken_answer(f"{exc} (the cap of docs/teacher-contract.md)", attempt)
        except ValueError as exc:  # the 200's body is not JSON, or not UTF-8 (json.JSONDecodeError, UnicodeDecodeError)
            self._broken_answer(f"the server's 200 answer is not readable JSON ({type(exc).__name__})", attempt)
        except APIConnectionError as exc:
            if isinstance(exc.__cause__, ResponseTooLarge):
                self._broken_answer(str(exc.__cause__), attempt)
            if isinstance(exc.__cause__, _CUT_OFF):
                self._broken_answer("the answer was cut off before its end (the connection closed early)", attempt)
            breaker.connection_failed(_is_connect_failure(exc), where, _connection_cause(exc))
            raise _Retryable(
                "connection_error", None, f"connection to {where} failed ({_connection_cause(exc)})"
            ) from None
        except APIStatusError as exc:
            cause = _retry_cause(exc.status_code)
            if cause is None:
                breaker.answer(success=False)
                detail = self._status_detail(exc, kwargs)
                if self._refuses_token_limit(exc, kwargs):
                    return await self._attempt(kwargs, reserved_tokens, attempt)
                if not ("n" in kwargs and _NAMES_N.search(detail)):  # a refused n is chat_samples' to learn
                    breaker.fatal(f"HTTP {exc.status_code}: {detail}", detail)
                raise self._fail("request_refused", detail, attempt, exc.status_code) from None
            detail = f"HTTP {exc.status_code}: {_scrub(_server_message(exc), self._key)}"
            breaker.answer(success=False)
            if cause != "rate_limited":  # a 429 paces the run; it says nothing about the server failing
                advice = TIMEOUT_ADVICE if cause == "timeout" else "check the server's health and logs"
                breaker.server_failed(f"HTTP {exc.status_code}", detail, attempt > 1, where, advice)
            raise _Retryable(cause, parse_retry_after(exc.response.headers), detail) from None
        raws = _raw_answers(completion, kwargs["messages"])
        if raws is None:
            detail = "the server's answer is not a chat completion"
            breaker.answer(success=False)
            breaker.fatal(detail, f"{detail}: check --base-url (it should end in /v1)")
            self._broken_answer(detail, attempt, answered=True)
        breaker.answer(success=True)
        tokens_in = sum(raw["usage"]["prompt_tokens"] for raw in raws)
        tokens_out = sum(raw["usage"]["completion_tokens"] for raw in raws)
        self._limiter.correct(reserved_tokens, tokens_in + tokens_out)
        self._counts["tokens_in"] += tokens_in
        self._counts["tokens_out"] += tokens_out
        self._counts["cached_prompt_tokens"] += sum(raw["usage"].get("cached_prompt_tokens", 0) for raw in raws)
        return raws

    async def _post(self, kwargs: dict[str, Any]) -> Any:
        """The request, its answer read whole within ``timeout`` (+ a second) from the start, else asyncio.TimeoutError.

        The HTTP client's own timeout bounds each read (and connecting, which the breaker tells apart:
        the grace lets it fire first when nothing comes at all); this bounds the sum, so an answer
        trickled a byte at a time ends at the deadline too.
        """
        # The untyped post skips the typed create()'s per-request walk of the body through TypedDict transforms
        # (about 1 ms of CPU per request, measured), which our plain JSON body does not need; auth, errors and
        # timeouts are the same client code.
        post = self._client.post(CHAT_PATH, body=kwargs, cast_to=object)
        deadline = self.config.timeout + DEADLINE_GRACE_S
        if _DEADLINE is None:  # Python 3.10: wait_for (a task per request) instead of asyncio.timeout
            return await asyncio.wait_for(post, timeout=deadline)
        async with _DEADLINE(deadline):
            return await post

    def _broken_answer(self, detail: str, attempt: int, answered: bool = False) -> NoReturn:
        """A 200 that cannot be used (cut off, undecodable, oversized, not a chat completion): a server failure."""
        if not answered:
            self._breaker.answer(success=False)
        where = display_url(self._base_url)
        self._breaker.server_failed("broken answers", detail, attempt > 1, where, "check the server (or the proxy)")
        raise _Retryable("malformed_response", None, detail)

    def _refuses_token_limit(self, exc: APIStatusError, kwargs: dict[str, Any]) -> bool:
        """A 400/422 naming ``max_completion_tokens``: this client (and ``kwargs``) sends ``max_tokens`` from now on."""
        if exc.status_code not in (400, 422) or TOKEN_LIMIT not in kwargs:
            return False
        if TOKEN_LIMIT not in _server_message(exc):
            return False
        if self._token_limit != LEGACY_TOKEN_LIMIT:
            logger.warning("%s: the server refuses %s; sending %s instead", self.name, TOKEN_LIMIT, LEGACY_TOKEN_LIMIT)
        self._token_limit = LEGACY_TOKEN_LIMIT
        kwargs[LEGACY_TOKEN_LIMIT] = kwargs.pop(TOKEN_LIMIT)
        self._counts["token_limit_fallbacks"] += 1
        return True

    def _fail(self, reason: CallFailure, detail: str, attempts: int, status: int | None = None) -> TeacherCallError:
        self._failures[reason] += 1
        return TeacherCallError(reason, detail, attempts, status)

    def _status_detail(self, exc: APIStatusError, kwargs: dict[str, Any]) -> str:
        """What a non-retryable HTTP error means for the user; the key itself never appears."""
        status = exc.status_code
        if status == 401:
            return (
                f"the server rejected the API key from {self.config.api_key_env} (HTTP 401): set it to a valid key "
                "(or name another variable with --api-key-env) and rerun with --retry-rejects"
            )
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
            "probes": self._counts["probes"],
            "token_limit_fallbacks": self._counts["token_limit_fallbacks"],
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


def _is_connect_failure(exc: APIConnectionError) -> bool:
    """No connection could be made (refused, DNS, connect timeout), as opposed to a reset or a read timeout."""
    return isinstance(exc.__cause__, _CONNECT_FAILURES)


def _connection_cause(exc: APIConnectionError) -> str:
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else exc.message


def _sampling_params(request: ChatRequest) -> dict[str, Any]:
    """The sampling parameters a request sends and its cache key holds (never ``n``: see ``chat_samples``)."""
    params: dict[str, Any] = {"temperature": request.temperature}
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.top_logprobs is not None:
        params["logprobs"] = True
        params["top_logprobs"] = request.top_logprobs
    return params


def token_logprobs(choice: Any) -> list[dict[str, Any]] | None:
    """A choice's ``logprobs.content`` (OpenAI's and vLLM's chat shape) kept compact for the cache, or None.

    Each entry: ``{"token", "logprob", "top": [[token, logprob], ...]}``; None when the choice carries no
    well-formed logprobs (the reader then says the server returned none).
    """
    content = choice.get("logprobs", {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    if not isinstance(content, list):
        return None
    entries = []
    for item in content:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str) or not _number(item.get("logprob")):
            return None
        top = item.get("top_logprobs") or []
        if not isinstance(top, list) or not all(
            isinstance(t, dict) and isinstance(t.get("token"), str) and _number(t.get("logprob")) for t in top
        ):
            return None
        entries.append(
            {
                "token": item["token"],
                "logprob": float(item["logprob"]),
                "top": [[t["token"], t["logprob"]] for t in top],
            }
        )
    return entries


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def share_usage(prompt_tokens: int, completion_tokens: int, texts: Sequence[str | None]) -> list[tuple[int, int]]:
    """(prompt, completion) tokens of each choice of one answer, summing to the answer's totals.

    The prompt was sent once, so the first choice carries it; the completion tokens, reported for
    all choices together, are shared in proportion to each text's length (largest remainder, so the
    shares are whole and add up exactly; equal shares when every text is empty).
    """
    if not texts:
        return []
    weights = [len(text or "") for text in texts]
    total_weight = sum(weights)
    if total_weight == 0:
        weights, total_weight = [1] * len(texts), len(texts)
    exact = [completion_tokens * w / total_weight for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(texts)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: completion_tokens - sum(shares)]:
        shares[i] += 1
    return [(prompt_tokens if i == 0 else 0, share) for i, share in enumerate(shares)]


def _raw_answers(completion: Any, messages: list[dict]) -> list[dict[str, Any]] | None:
    """The parts of each choice of a chat completion worth caching, in choice order.

    Usage is estimated (chars / 4) when the server gives none, and shared out over the choices by
    :func:`share_usage` when it does. None when the answer is not a chat completion with a message
    in every choice (a broken proxy, an HTML page).
    """
    try:
        choices = sorted(completion["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
        parts = []
        logprobs = []
        for choice in choices:
            message = choice["message"]
            parts.append((message.get("content"), message.get("refusal"), choice.get("finish_reason")))
            logprobs.append(token_logprobs(choice))
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not parts or any(
        not (text is None or isinstance(text, str)) or not (refusal is None or isinstance(refusal, str))
        for text, refusal, _ in parts
    ):
        return None
    usage = completion.get("usage")
    reported = isinstance(usage, dict) and all(
        isinstance(usage.get(name), int) for name in ("prompt_tokens", "completion_tokens")
    )
    if reported:
        tokens = share_usage(usage["prompt_tokens"], usage["completion_tokens"], [text for text, _, _ in parts])
    else:
        prompt = estimate_tokens(messages)
        tokens = [(prompt if i == 0 else 0, estimate_text_tokens(text)) for i, (text, _, _) in enumerate(parts)]
    cached = _cached_prompt_tokens(usage)  # the prompt's: it goes with the first choice, as its tokens do
    return [
        {
            "text": text,
            "finish_reason": finish_reason if isinstance(finish_reason, str) else None,
            "refusal": refusal,
            "usage": {
                "prompt_tokens": p,
                "completion_tokens": c,
                "estimated": not reported,
                **(cached if i == 0 else {}),
            },
            **({"logprobs": logprobs[i]} if logprobs[i] is not None else {}),
        }
        for i, ((text, refusal, finish_reason), (p, c)) in enumerate(zip(parts, tokens))
    ]


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
        logprobs=raw.get("logprobs"),
    )


# The Batch API engine (cotgen.teachers.batch) and the batch build read a batch row's completion and word the
# failures of their calls exactly as this client does: these are their names for it.
raw_answers = _raw_answers
scrub = _scrub
server_message = _server_message
retry_cause = _retry_cause
