"""The OpenAI-compatible teacher client: the real ``openai`` client against the loopback server.

Every fault a server produces must end as an answer or a TeacherCallError with the right reason,
after exactly the number of requests the server logged; pacing (concurrency, rpm, tpm,
Retry-After) is checked by lower bounds only, never by how fast something ran.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import json
import math
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import (
    CONTENT_FAULTS,
    CUT_BODY,
    FORBIDDEN,
    HANG,
    MALFORMED_JSON,
    NEGATIVE,
    NO_STRUCTURED,
    NOT_JSON,
    NOT_UTF8,
    OVERSIZED,
    RATE_LIMIT,
    REFUSAL,
    RESET,
    SCHEMA_INVALID,
    SERVER_ERROR,
    SOAK_FAULTS,
    SUM_1_3,
    TRICKLE,
    TRUNCATED,
    UNAUTHORIZED,
    UNAVAILABLE,
    WRONG_KEYS,
    Fault,
    LoopbackServer,
    random_faults,
    request_classes,
    valid_trace,
)
from openai import AsyncOpenAI

from cotgen.core.errors import CotgenError
from cotgen.records.trace import TraceError, response_schema, validate_trace
from cotgen.teachers.breaker import FAILING_AFTER, ServerFailingError
from cotgen.teachers.openai_teacher import (
    ChatRequest,
    ChatResult,
    OpenAITeacher,
    TeacherCallError,
    TeacherConfig,
    TeacherUnreachableError,
    build_audio_part,
    resolve_api_key,
)
from cotgen.teachers.ratelimit import (
    TokenBucket,
    backoff_delay,
    estimate_tokens,
    parse_retry_after,
    retry_delay,
)
from cotgen.teachers.response_cache import ResponseCache

CLASSES = ("neu", "hap", "ang", "sad")
KEY = "sk-test-SENTINEL-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def config(srv: LoopbackServer, **overrides: object) -> TeacherConfig:
    """Fast settings: tiny backoff, short timeout, few retries."""
    values: dict[str, object] = {
        "model": "loopback",
        "base_url": srv.base_url,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "timeout": 10.0,
        "max_retries": 3,
    }
    values.update(overrides)
    return TeacherConfig(**values)  # type: ignore[arg-type]


def request(text: str = "Transcript: I can't believe it.", sample: int = 0, **overrides: object) -> ChatRequest:
    values: dict[str, object] = {
        "messages": [{"role": "system", "content": "You explain emotions."}, {"role": "user", "content": text}],
        "sample": sample,
        "temperature": 0.7,
        "classes": CLASSES,
    }
    values.update(overrides)
    return ChatRequest(**values)  # type: ignore[arg-type]


async def _calls(cfg: TeacherConfig, requests: list[ChatRequest], cache: ResponseCache | None = None) -> list:
    teacher = OpenAITeacher(cfg, cache)
    try:
        return await asyncio.gather(*(teacher.chat(r) for r in requests), return_exceptions=True)
    finally:
        await teacher.aclose()


def call(cfg: TeacherConfig, req: ChatRequest | None = None, cache: ResponseCache | None = None):
    """One chat call; returns the ChatResult or the TeacherCallError."""
    return asyncio.run(_calls(cfg, [req or request()], cache))[0]


# ---------------------------------------------------------------------------------------------
# Normal answers and what is sent


def test_valid_answer_in_one_request_with_server_usage() -> None:
    with LoopbackServer() as srv:
        result = call(config(srv))
        assert len(srv.chat_requests) == 1
    trace = validate_trace(result.text, CLASSES, has_transcript=True)
    assert set(trace.distribution) == set(CLASSES)
    assert (result.attempts, result.from_cache, result.finish_reason, result.refusal) == (1, False, "stop", None)
    assert result.completion_tokens == math.ceil(len(result.text) / 4)  # the loopback server's usage rule
    assert result.prompt_tokens > 0


def test_structured_request_carries_the_strict_schema_of_the_class_set() -> None:
    with LoopbackServer() as srv:
        call(config(srv), request(classes=("neu", "sad")))
        body = srv.chat_requests[0].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "emotion_trace", "strict": True, "schema": response_schema(("neu", "sad"))},
    }
    assert body["temperature"] == 0.7 and body["model"] == "loopback"
    assert "max_tokens" not in body


@pytest.mark.parametrize("overrides", [{"structured": False}, {"send_audio": True}])
def test_no_response_format_without_structured_or_with_audio(overrides: dict) -> None:
    with LoopbackServer() as srv:
        result = call(config(srv, **overrides), request(max_tokens=900))
        body = srv.chat_requests[0].body
    assert "response_format" not in body
    assert body["max_completion_tokens"] == 900 and "max_tokens" not in body
    validate_trace(result.text, CLASSES, has_transcript=True)


def test_the_key_is_sent_as_bearer_and_never_logged_by_the_server() -> None:
    with LoopbackServer() as srv:
        call(config(srv))
        headers = srv.chat_requests[0].headers
    assert headers["authorization-present"] == "True"
    assert KEY not in json.dumps(headers)


def test_usage_is_estimated_from_characters_when_the_server_sends_none() -> None:
    req = request("x" * 401)
    with LoopbackServer(usage=False) as srv:
        result = call(config(srv), req)
    assert result.prompt_tokens == estimate_tokens(req.messages) == math.ceil((len("You explain emotions.") + 401) / 4)
    assert result.completion_tokens == math.ceil(len(result.text) / 4)


# ---------------------------------------------------------------------------------------------
# Faults that a retry fixes, and faults that exhaust the retries


@pytest.mark.parametrize("kind", [RATE_LIMIT, SERVER_ERROR, UNAVAILABLE, RESET, HANG])
def test_one_transient_fault_is_retried_once(kind: str) -> None:
    with LoopbackServer(plan=[Fault(kind, retry_after="0")]) as srv:
        # Only a hang needs a short timeout; elsewhere a long one keeps a slow machine from adding requests.
        result = call(config(srv, timeout=1.0 if kind == HANG else 10.0))
        logged = srv.chat_requests
    assert result.attempts == 2 and not result.from_cache
    assert [r.fault for r in logged] == [kind, None]
    validate_trace(result.text, CLASSES, has_transcript=True)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (RATE_LIMIT, "rate_limited"),
        (SERVER_ERROR, "server_error"),
        (UNAVAILABLE, "server_error"),
        (RESET, "server_error"),
        (HANG, "timeout"),
    ],
)
def test_persistent_fault_ends_in_its_reason_after_max_retries_plus_one_requests(kind: str, reason: str) -> None:
    with LoopbackServer(plan=lambda i, body: Fault(kind, retry_after="0")) as srv:
        error = call(config(srv, max_retries=2, timeout=0.3 if kind == HANG else 10.0))
        count = len(srv.chat_requests)
    assert isinstance(error, TeacherCallError)
    assert (error.reason, error.attempts, count) == (reason, 3, 3)
    assert KEY not in str(error)


def test_stats_count_requests_and_retries_by_cause() -> None:
    plan = [Fault(RATE_LIMIT, retry_after="0"), Fault(SERVER_ERROR), Fault(RESET), None]
    with LoopbackServer(plan=plan) as srv:
        teacher = OpenAITeacher(config(srv), None)

        async def run() -> None:
            await teacher.chat(request())
            await teacher.aclose()

        asyncio.run(run())
        assert len(srv.chat_requests) == 4
    stats = teacher.stats()
    assert stats["requests"] == 4
    assert stats["retries"] == {"rate_limited": 1, "server_error": 1, "connection_error": 1}
    assert stats["tokens_out"] > 0 and stats["failures"] == {}


def test_retry_waits_at_least_retry_after_seconds() -> None:
    with LoopbackServer(plan=[Fault(RATE_LIMIT, retry_after="0.3")]) as srv:
        result = call(config(srv, backoff_base=0.0, backoff_cap=5.0))
        first, second = srv.chat_requests
    assert result.attempts == 2
    assert second.received - first.answered >= 0.3 - 0.005


def test_retry_after_as_http_date_is_honoured() -> None:
    def plan(index: int, body: object) -> Fault | None:
        # The date is made when the request arrives, so a slow start on a loaded machine cannot put it in the past.
        when = email.utils.formatdate(time.time() + 1.2, usegmt=True)  # whole seconds: waits 0.2 to 1.2 s
        return Fault(RATE_LIMIT, retry_after=when) if index == 0 else None

    with LoopbackServer(plan=plan) as srv:
        result = call(config(srv, backoff_base=0.0, backoff_cap=5.0))
        first, second = srv.chat_requests
    assert result.attempts == 2
    assert second.received - first.answered >= 0.15


@pytest.mark.parametrize("kind", CONTENT_FAULTS)
def test_content_faults_come_back_as_answers_in_one_request(kind: str) -> None:
    with LoopbackServer(plan=[Fault(kind)]) as srv:
        result = call(config(srv))
        assert len(srv.chat_requests) == 1
    assert result.attempts == 1
    if kind == REFUSAL:
        assert result.text is None and result.refusal
        return
    if kind == TRUNCATED:
        assert result.finish_reason == "length"
    expected = {
        MALFORMED_JSON: "malformed_json",
        TRUNCATED: "malformed_json",
        WRONG_KEYS: "distribution_invalid",
        SCHEMA_INVALID: "schema_invalid",
        SUM_1_3: "distribution_invalid",
        NEGATIVE: "distribution_invalid",
    }[kind]
    with pytest.raises(TraceError) as caught:
        validate_trace(result.text, CLASSES, has_transcript=True)
    assert caught.value.reason == expected
    if kind == SUM_1_3:
        assert "sums to 1.3" in caught.value.detail
    if kind == NEGATIVE:
        assert "outside [0, 1]" in caught.value.detail


def test_fault_soak_loses_nothing_and_every_request_is_accounted_for() -> None:
    """200 calls with 30 % of requests faulty: every call ends with the answer of its last request, and the
    server logged exactly the requests each call says it made (calls told apart by their messages)."""
    with LoopbackServer(plan=random_faults(0.3, seed=3)) as srv:
        requests = [request(f"utterance {i}") for i in range(200)]
        outcomes = asyncio.run(_calls(config(srv, concurrency=20, timeout=2.0, max_retries=6), requests))
        logged = srv.chat_requests
    by_call: dict[str, list[str | None]] = {}
    for entry in sorted(logged, key=lambda e: e.received):
        by_call.setdefault(entry.body["messages"][1]["content"], []).append(entry.fault)
    assert set(Counter(e.fault for e in logged)) - {None} == set(SOAK_FAULTS)
    for req, outcome in zip(requests, outcomes):
        faults = by_call[req.messages[1]["content"]]
        assert isinstance(outcome, ChatResult), outcome  # 7 transient faults in a row: practically never
        assert outcome.attempts == len(faults)
        assert all(f not in CONTENT_FAULTS and f is not None for f in faults[:-1])  # only the last one answered
        if faults[-1] is None:
            validate_trace(outcome.text, CLASSES, has_transcript=True)
        else:
            assert faults[-1] in CONTENT_FAULTS


# ---------------------------------------------------------------------------------------------
# Errors that retrying cannot fix


def test_server_without_structured_outputs_says_to_use_no_structured() -> None:
    with LoopbackServer(structured_supported=False) as srv:
        error = call(config(srv))
        assert isinstance(error, TeacherCallError)
        assert (error.reason, error.attempts, len(srv.chat_requests)) == ("request_refused", 1, 1)
        assert "--no-structured" in error.detail
        result = call(config(srv, structured=False))
    validate_trace(result.text, CLASSES, has_transcript=True)


def test_rejected_key_is_named_by_variable_never_by_value() -> None:
    with LoopbackServer(plan=[Fault(UNAUTHORIZED)]) as srv:
        error = call(config(srv))
        assert len(srv.chat_requests) == 1
    assert isinstance(error, TeacherCallError)
    assert error.reason == "request_refused" and "OPENAI_API_KEY" in error.detail and "401" in error.detail
    assert KEY not in str(error) and KEY not in repr(error.args)


def test_a_key_quoted_in_a_server_message_is_blanked_out() -> None:
    with LoopbackServer(plan=[Fault(FORBIDDEN)]) as srv:
        error = call(config(srv))
        assert len(srv.chat_requests) == 1
    assert isinstance(error, TeacherCallError)
    assert error.reason == "request_refused" and "HTTP 403" in error.detail and "Project of key ***" in error.detail
    assert KEY not in str(error)


def test_models_endpoint_answers_the_real_client() -> None:
    async def models(base_url: str) -> list[str]:
        client = AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0)
        try:
            return [model.id async for model in client.models.list()]
        finally:
            await client.close()

    with LoopbackServer() as srv:
        assert asyncio.run(models(srv.base_url)) == ["loopback"]
        assert [(r.method, r.path, r.status) for r in srv.requests] == [("GET", "/v1/models", 200)]


def test_not_found_is_not_retried() -> None:
    with LoopbackServer() as srv:
        error = call(config(srv, base_url=srv.base_url + "/wrong"))
        assert len(srv.requests) == 1
    assert isinstance(error, TeacherCallError)
    assert (error.reason, error.attempts) == ("request_refused", 1) and "404" in error.detail


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_item_out_of_retries_on_a_server_never_reached_stops_the_client_instead_of_a_reject() -> None:
    port = closed_port()
    url = f"http://user:hunter2secret@127.0.0.1:{port}/v1"
    error = call(TeacherConfig(model="m", base_url=url, backoff_base=0.0, max_retries=1))
    assert isinstance(error, TeacherUnreachableError) and isinstance(error, CotgenError)
    assert not isinstance(error, TeacherCallError), "not the item's fault, so never a reject"
    message = str(error)
    assert message.startswith(f"the server at http://127.0.0.1:{port}/v1 cannot be reached (ConnectError on 2 ")
    assert "check --base-url" in message and "\n" not in message and "hunter2secret" not in message


def test_a_dead_server_stops_every_request_after_the_limit_not_after_each_ones_retries() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    cfg = TeacherConfig(model="m", base_url=url, backoff_base=0.0, concurrency=4, unreachable_after=5)

    async def run() -> tuple[list, dict]:
        teacher = OpenAITeacher(cfg, None)
        try:
            results = await asyncio.gather(
                *(teacher.chat(request(f"utt {i}")) for i in range(30)), return_exceptions=True
            )
            return results, teacher.stats()
        finally:
            await teacher.aclose()

    results, stats = asyncio.run(run())
    assert all(isinstance(r, TeacherUnreachableError) for r in results), results
    # Without the breaker: 30 requests x 7 attempts. With it: the 5 failures that trip it, plus at most the
    # other 3 requests in flight at that moment; everything after is refused before it is sent.
    assert 5 <= stats["requests"] <= 5 + 3


def test_connect_timeouts_count_as_a_server_not_reached() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        # Fill the accept queue of a socket that never accepts: further connects get no answer (their SYN is dropped).
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        url = f"http://127.0.0.1:{port}/v1"
        error = call(
            TeacherConfig(model="m", base_url=url, backoff_base=0.0, timeout=0.3, max_retries=4, unreachable_after=2)
        )
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert isinstance(error, TeacherUnreachableError)
    assert "(ConnectTimeout on 2 connection attempts" in str(error)


@pytest.mark.parametrize(("kind", "reason"), [(HANG, "timeout"), (RESET, "server_error")])
def test_a_server_that_accepts_connections_is_reached_even_if_it_never_answers(kind: str, reason: str) -> None:
    with LoopbackServer(plan=lambda i, body: Fault(kind)) as srv:
        error = call(config(srv, max_retries=2, timeout=0.3, unreachable_after=1))
        count = len(srv.chat_requests)
    assert isinstance(error, TeacherCallError), "read timeouts and resets are per-item failures, not a dead server"
    assert (error.reason, error.attempts, count) == (reason, 3, 3)


def test_a_server_that_answered_and_then_went_away_stops_the_client_instead_of_rejecting() -> None:
    """An outage (issue 11 item 5): the request out of retries probes the server until the window closes, then stops."""

    async def run(srv: LoopbackServer) -> list:
        cfg = config(srv, backoff_base=0.0, max_retries=2, unreachable_after=1, outage_after=0.5)
        teacher = OpenAITeacher(cfg, None)
        try:
            first = await teacher.chat(request("first"))
            srv.stop()
            later = await asyncio.gather(teacher.chat(request("second")), return_exceptions=True)
            return [first, *later, teacher.stats()]
        finally:
            await teacher.aclose()

    with LoopbackServer() as srv:
        first, second, stats = asyncio.run(run(srv))
    assert isinstance(first, ChatResult)
    assert isinstance(second, TeacherUnreachableError) and not isinstance(second, TeacherCallError)
    assert "stopped answering: only connection failures and timeouts" in str(second)
    # Its 3 attempts, then probes (not chat requests) every 0.05 s until the 0.5 s window closed.
    assert stats["requests"] == 1 + 3 and stats["probes"] >= 5


def test_a_request_that_sat_out_an_outage_is_tried_again_when_the_server_is_back() -> None:
    async def run(srv: LoopbackServer, port: int) -> list:
        cfg = config(srv, backoff_base=0.0, max_retries=1, unreachable_after=1, outage_after=2.0)
        teacher = OpenAITeacher(cfg, None)
        try:
            first = await teacher.chat(request("first"))
            srv.stop()
            second = asyncio.ensure_future(teacher.chat(request("second")))
            await asyncio.sleep(0.6)  # longer than a tenth of the window: an outage, not a busy server's gap
            with LoopbackServer(port=port) as back:
                result = await second
                asked = [r.path for r in back.requests]
            return [first, result, asked, teacher.stats()]
        finally:
            await teacher.aclose()

    with LoopbackServer() as srv:
        first, second, asked, stats = asyncio.run(run(srv, srv.port))
    assert isinstance(first, ChatResult) and isinstance(second, ChatResult)
    assert asked[-1] == "/v1/chat/completions" and "/v1/models" in asked  # a probe answered, then the retry
    assert stats["requests"] == 1 + 2 + 1


def test_a_lone_reset_among_answers_is_still_the_items_reject() -> None:
    async def run(srv: LoopbackServer) -> list:
        teacher = OpenAITeacher(config(srv, backoff_base=0.0, max_retries=2, outage_after=30.0), None)
        try:
            first = await teacher.chat(request("first"))
            second = await asyncio.gather(teacher.chat(request("second")), return_exceptions=True)
            return [first, *second, teacher.stats()]
        finally:
            await teacher.aclose()

    with LoopbackServer(plan=[None, Fault(RESET), Fault(RESET), Fault(RESET)]) as srv:
        first, second, stats = asyncio.run(run(srv))
    assert isinstance(first, ChatResult)
    # The probe was answered at once: the server is up, so the resets were this request's failure.
    assert isinstance(second, TeacherCallError) and (second.reason, second.attempts) == ("server_error", 3)
    assert stats["probes"] == 1


# ---------------------------------------------------------------------------------------------
# Cache


def test_cache_hit_makes_zero_requests_across_teacher_instances(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    with LoopbackServer() as srv:
        with ResponseCache(path) as cache:
            first = call(config(srv), cache=cache)
        with ResponseCache(path) as cache:
            again = call(config(srv), cache=cache)
            other_sample = call(config(srv), request(sample=1), cache=cache)
        assert len(srv.chat_requests) == 2
    assert (again.text, again.attempts, again.from_cache) == (first.text, 0, True)
    assert again.prompt_tokens == first.prompt_tokens and again.completion_tokens == first.completion_tokens
    assert other_sample.attempts == 1


def test_failures_are_not_cached_but_content_faults_are(tmp_path: Path) -> None:
    plan = [Fault(NO_STRUCTURED), Fault(NO_STRUCTURED), Fault(TRUNCATED)]
    with LoopbackServer(plan=plan) as srv, ResponseCache(tmp_path / "c.sqlite") as cache:
        results = [call(config(srv), cache=cache) for _ in range(5)]
        assert len(srv.chat_requests) == 3
    assert [type(r).__name__ for r in results] == ["TeacherCallError"] * 2 + ["ChatResult"] * 3
    assert [r.from_cache for r in results[2:]] == [False, True, True]
    assert {r.finish_reason for r in results[2:]} == {"length"}


def test_cache_hits_and_tokens_are_counted(tmp_path: Path) -> None:
    with LoopbackServer() as srv, ResponseCache(tmp_path / "c.sqlite") as cache:
        teacher = OpenAITeacher(config(srv), cache)

        async def run() -> list:
            try:
                return [await teacher.chat(request()) for _ in range(3)]
            finally:
                await teacher.aclose()

        results = asyncio.run(run())
    stats = teacher.stats()
    assert (stats["requests"], stats["cache_hits"], stats["cache_misses"]) == (1, 2, 1)
    assert stats["cached_tokens_out"] == 2 * results[0].completion_tokens == 2 * stats["tokens_out"]


# ---------------------------------------------------------------------------------------------
# Pacing


def test_concurrency_limit_is_what_the_server_sees() -> None:
    with LoopbackServer(latency=0.1) as srv:
        results = asyncio.run(_calls(config(srv, concurrency=4), [request(f"u{i}") for i in range(12)]))
        assert len(srv.chat_requests) == 12
        assert srv.max_in_flight == 4
    assert all(r.attempts == 1 for r in results)


def test_rpm_spaces_requests() -> None:
    with LoopbackServer() as srv:
        started = time.monotonic()
        asyncio.run(_calls(config(srv, concurrency=8, rpm=600), [request(f"u{i}") for i in range(5)]))
        arrivals = [r.received for r in srv.chat_requests]
    assert len(arrivals) == 5
    # 600 rpm = one request per 0.1 s. Measured from the start of the calls, as the tpm test is: a first request
    # that arrives late on a loaded machine shortens the first-to-last gap without any limit broken.
    assert arrivals[-1] - started >= 4 * 0.1 * 0.95


def test_tpm_spaces_requests_by_estimated_tokens() -> None:
    # 60,000 tpm = 1,000 tokens/s with a bucket of 1,000; each request is estimated at 250 tokens (1,000
    # characters) and answers "ok", so 8 requests need 1,000 tokens beyond the first bucket: at least 1 s.
    text = "y" * (1000 - len("You explain emotions.") - 1)
    with LoopbackServer(responder=lambda body, classes: "ok") as srv:
        requests = [request(text + str(i)) for i in range(8)]
        assert {estimate_tokens(r.messages) for r in requests} == {250}
        started = time.monotonic()
        asyncio.run(_calls(config(srv, concurrency=8, tpm=60_000), requests))
        arrivals = [r.received for r in srv.chat_requests]
    assert len(arrivals) == 8
    # From the start of the calls, not the first arrival: on a loaded machine the first requests can arrive late
    # while the bucket already refills, which shortened the first-to-last gap below 1 s without any limit broken.
    assert arrivals[-1] - started >= 1.0 * 0.95


class FakeTime:
    """A clock that only moves when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@given(
    rate=st.floats(0.5, 1000),
    capacity=st.floats(1, 500),
    costs=st.lists(st.floats(0, 2000), min_size=1, max_size=30),
)
def test_token_bucket_admits_no_more_than_it_refills(rate: float, capacity: float, costs: list[float]) -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate, capacity, clock=fake.clock, sleep=fake.sleep)
    admitted: list[float] = []

    async def run() -> None:
        for cost in costs:
            await bucket.acquire(cost)
            admitted.append(fake.now)

    asyncio.run(run())
    spent = 0.0
    for k, (cost, at) in enumerate(zip(costs, admitted)):
        budget = capacity + rate * at
        needed = spent + min(cost, capacity)
        assert needed <= budget + 1e-6 * max(1.0, budget)  # never more than the bucket refilled
        if k and at > admitted[k - 1]:
            assert needed == pytest.approx(budget, rel=1e-6, abs=1e-6)  # and no longer wait than needed
        spent += cost


@given(attempt=st.integers(1, 30), base=st.floats(0, 10), cap=st.floats(0, 100))
def test_backoff_is_full_jitter_under_the_cap(attempt: int, base: float, cap: float) -> None:
    delay = backoff_delay(attempt, base, cap)
    assert 0.0 <= delay <= min(cap, base * 2 ** (attempt - 1)) + 1e-12


@given(attempt=st.integers(1, 30), retry_after=st.none() | st.floats(0, 1000), cap=st.floats(0, 100))
def test_retry_delay_honours_retry_after_up_to_the_cap(attempt: int, retry_after: float | None, cap: float) -> None:
    delay = retry_delay(attempt, retry_after, 1.0, cap)
    assert delay <= cap
    if retry_after is not None:
        assert delay >= min(retry_after, cap)


@given(seconds=st.integers(0, 10_000))
def test_retry_after_seconds_and_http_date(seconds: int) -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": str(seconds)}, now) == seconds
    date = email.utils.formatdate(now + seconds, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now) == pytest.approx(seconds)


def test_retry_after_variants() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": "1.5"}) == 1.5
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-3"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=2e9) == 0.0


# ---------------------------------------------------------------------------------------------
# Key, audio and configuration


def test_key_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_api_key(TeacherConfig(model="gpt-4o")) == KEY
    monkeypatch.setenv("MY_KEY", "sk-other")
    assert resolve_api_key(TeacherConfig(model="gpt-4o", api_key_env="MY_KEY")) == "sk-other"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert resolve_api_key(TeacherConfig(model="m", base_url="http://127.0.0.1:8000/v1")) == "EMPTY"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    assert resolve_api_key(TeacherConfig(model="m")) == "EMPTY"
    monkeypatch.delenv("OPENAI_BASE_URL")
    for base_url in (None, "https://api.openai.com/v1"):
        with pytest.raises(CotgenError, match="set OPENAI_API_KEY") as caught:
            resolve_api_key(TeacherConfig(model="gpt-4o", base_url=base_url))
        assert "\n" not in str(caught.value)


def test_local_server_gets_the_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with LoopbackServer() as srv:
        result = call(config(srv))
    assert result.attempts == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"concurrency": 0}, "--concurrency"),
        ({"rpm": 0}, "--rpm"),
        ({"timeout": 0}, "--timeout"),
        ({"model": " "}, "model name"),
    ],
)
def test_bad_configuration_is_a_one_line_error(overrides: dict, message: str) -> None:
    with pytest.raises(CotgenError, match=message):
        TeacherConfig(**{"model": "m", **overrides})


def test_audio_part_is_base64_wav(tmp_path: Path) -> None:
    samples = (0.1 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    wav, flac = tmp_path / "a.wav", tmp_path / "a.flac"
    soundfile.write(wav, samples, 16000, subtype="PCM_16")
    soundfile.write(flac, samples, 16000)
    part = build_audio_part(str(wav))
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    assert base64.b64decode(part["input_audio"]["data"]) == wav.read_bytes()
    converted = base64.b64decode(build_audio_part(str(flac))["input_audio"]["data"])
    decoded, rate = soundfile.read(io.BytesIO(converted))
    assert converted[:4] == b"RIFF" and rate == 16000 and len(decoded) == len(samples)
    with pytest.raises(CotgenError, match="missing.wav"):
        build_audio_part(str(tmp_path / "missing.wav"))


def test_audio_request_reaches_the_server(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.zeros(1600, dtype=np.float32), 16000)
    content = [{"type": "text", "text": "Classes: neu, sad"}, build_audio_part(str(wav))]
    with LoopbackServer() as srv:
        result = call(config(srv, send_audio=True), request(messages=[{"role": "user", "content": content}]))
        sent = srv.chat_requests[0].body["messages"][0]["content"][1]
    assert base64.b64decode(sent["input_audio"]["data"]) == wav.read_bytes()
    assert set(json.loads(result.text)["distribution"]) == {"neu", "sad"}


# ---------------------------------------------------------------------------------------------
# The loopback server itself (later tests and benchmarks build on it)


def test_server_class_rules() -> None:
    schema_body = {"response_format": {"json_schema": {"schema": response_schema(("fru", "exc"))}}, "messages": []}
    assert request_classes(schema_body) == ("fru", "exc")
    listed = {"messages": [{"role": "system", "content": "- class codes (for keys): neu (neutral), x1 (other)"}]}
    assert request_classes(listed) == ("neu", "x1")
    assert request_classes({"messages": [{"role": "user", "content": "Classes: a, b, c"}]}) == ("a", "b", "c")
    assert request_classes({"messages": [{"role": "user", "content": "either sad or ang, maybe neu"}]}) == (
        "neu",
        "sad",
        "ang",
    )
    assert request_classes({"messages": [{"role": "user", "content": "nothing here"}]}) == ("neu", "hap", "ang", "sad")


@given(
    classes=st.lists(st.sampled_from(["neu", "hap", "ang", "sad", "fru", "exc", "x"]), min_size=1, unique=True),
    text=st.text(max_size=50),
)
def test_default_answer_is_always_a_valid_trace(classes: list[str], text: str) -> None:
    trace = validate_trace(valid_trace(tuple(classes), text), classes, has_transcript=True)
    assert sum(trace.distribution.values()) == pytest.approx(1.0)


def test_default_answer_echoes_the_human_distribution() -> None:
    text = 'Human listeners said:\n{"neu": 0.1, "hap": 0.0, "ang": 0.6, "sad": 0.3}'
    assert valid_trace(CLASSES, text)["distribution"] == {"neu": 0.1, "hap": 0.0, "ang": 0.6, "sad": 0.3}


def test_random_fault_plan_is_reproducible_and_near_its_rate() -> None:
    plan, again = random_faults(0.3, seed=7), random_faults(0.3, seed=7)
    drawn = [plan(i, {}) for i in range(2000)]
    assert drawn == [again(i, {}) for i in range(2000)]
    faults = [f for f in drawn if f is not None]
    assert 0.25 < len(faults) / 2000 < 0.35
    assert {f.kind for f in faults} == set(SOAK_FAULTS)


def test_server_script_mode_serves_and_logs_to_a_file(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    script = Path(__file__).with_name("loopback_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        cfg = TeacherConfig(model="loopback", base_url=base_url)
        result = call(cfg)
        validate_trace(result.text, CLASSES, has_transcript=True)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["path"], r["status"], r["fault"]) for r in lines] == [("/v1/chat/completions", 200, None)]
    assert lines[0]["body"]["messages"] == request().messages
    assert KEY not in log.read_text()


# ---------------------------------------------------------------------------------------------
# Today's API, bounded answers and the failing-server stop (issue 22 items 1 and 5, issue 20 item 4)


def test_the_token_limit_goes_out_as_max_completion_tokens() -> None:
    with LoopbackServer() as srv:
        teacher_result = asyncio.run(
            _calls(config(srv, concurrency=1), [request(f"u{i}", max_tokens=700) for i in (1, 2)])
        )
        bodies = [r.body for r in srv.chat_requests]
    assert all(isinstance(r, ChatResult) for r in teacher_result)
    assert [(b.get("max_completion_tokens"), "max_tokens" in b) for b in bodies] == [(700, False), (700, False)]


def test_a_server_that_only_takes_max_tokens_is_asked_with_it_from_its_first_refusal_on(tmp_path: Path) -> None:
    async def run(srv: LoopbackServer, cache: ResponseCache) -> tuple[list, OpenAITeacher]:
        teacher = OpenAITeacher(config(srv, concurrency=1), cache)
        try:
            return [await teacher.chat(request(f"u{i}", max_tokens=700)) for i in range(3)], teacher
        finally:
            await teacher.aclose()

    with ResponseCache(tmp_path / "responses.sqlite") as cache, LoopbackServer(token_limit="max_tokens") as srv:
        results, teacher = asyncio.run(run(srv, cache))
        sent = [(r.status, r.body.get("max_completion_tokens"), r.body.get("max_tokens")) for r in srv.chat_requests]
        # The answers are cached under the same key whichever name carried the limit: found again for free.
        again = OpenAITeacher(config(srv), cache)
        cached = asyncio.run(again.chat(request("u0", max_tokens=700)))
    assert sent == [(400, 700, None), (200, None, 700), (200, None, 700), (200, None, 700)]
    assert all(isinstance(r, ChatResult) for r in results) and results[0].attempts == 1
    assert teacher.token_limit_parameter == "max_tokens" and teacher.stats()["token_limit_fallbacks"] == 1
    assert teacher.stats()["failures"] == {} and cached.from_cache


def test_an_all_failing_server_stops_every_request_after_a_few_not_after_each_ones_retries() -> None:
    concurrency, workers = 4, 8  # as the build's pool: twice as many items in progress as requests in flight

    async def run(srv: LoopbackServer) -> tuple[list, dict]:
        teacher = OpenAITeacher(config(srv, concurrency=concurrency, max_retries=6), None)
        pending = iter(range(30))
        results: list = []

        async def worker() -> None:
            for i in pending:
                try:
                    results.append(await teacher.chat(request(f"u{i}")))
                except (TeacherCallError, CotgenError) as exc:
                    results.append(exc)

        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
            return results, teacher.stats()
        finally:
            await teacher.aclose()

    with LoopbackServer(plan=lambda i, body: Fault(SERVER_ERROR)) as srv:
        results, stats = asyncio.run(run(srv))
        sent = len(srv.chat_requests)
    assert len(results) == 30 and all(isinstance(r, ServerFailingError) for r in results), results
    # The bound of docs/reliability-performance.md: max(failing_after, items in progress) + requests in flight.
    assert FAILING_AFTER <= sent == stats["requests"] <= max(FAILING_AFTER, workers) + concurrency
    assert "its last" in str(results[0]) and "HTTP 500" in str(results[0])


@pytest.mark.parametrize("kind", [CUT_BODY, NOT_UTF8, NOT_JSON, OVERSIZED])
def test_a_broken_200_is_a_retried_server_failure_with_a_reason(kind: str) -> None:
    with LoopbackServer(plan=lambda i, body: Fault(kind, size=300_000)) as srv:
        error = call(config(srv, max_retries=1, max_response_bytes=64 * 1024))
        count = len(srv.chat_requests)
    assert isinstance(error, TeacherCallError) and error.server_fault
    assert (error.reason, error.attempts, count) == ("malformed_response", 2, 2)
    expected = {CUT_BODY: "cut off", NOT_UTF8: "not readable JSON", NOT_JSON: "not readable JSON"}
    assert expected.get(kind, "larger than 65,536 bytes") in error.detail


def test_a_trickled_answer_ends_at_the_deadline_as_a_timeout() -> None:
    with LoopbackServer(plan=lambda i, body: Fault(TRICKLE, seconds=0.2)) as srv:
        started = time.monotonic()
        error = call(config(srv, max_retries=0, timeout=0.5))
        waited = time.monotonic() - started
    assert isinstance(error, TeacherCallError) and (error.reason, error.attempts) == ("timeout", 1)
    assert "raise --timeout" in error.detail and error.server_fault
    assert waited < 30, "the answer would have taken minutes"  # a hang guard, far above the 1.5 s deadline


def test_a_refused_request_is_the_requests_own_not_a_server_fault() -> None:
    with LoopbackServer(plan=[Fault(UNAUTHORIZED)]) as srv:
        error = call(config(srv))
    assert isinstance(error, TeacherCallError) and error.reason == "request_refused" and not error.server_fault
