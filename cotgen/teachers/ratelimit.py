"""Pacing requests to a teacher: rpm/tpm token buckets, backoff delays and the server's Retry-After.

Paid APIs enforce requests-per-minute and tokens-per-minute limits; staying under them costs less
than hitting them and retrying. The buckets here hold at most one second's worth (at least one
request), so requests flow evenly instead of in a burst at the start of each minute. Token costs
are not known before the answer arrives, so a request reserves an estimate (characters / 4, no
tokenizer download) and the reservation is corrected by the server's reported usage afterwards.

The arithmetic (refill, wait, backoff, Retry-After) is pure; only :meth:`TokenBucket.acquire` waits.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

CHARS_PER_TOKEN = 4


def estimate_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A tokenizer-free token estimate of chat messages: characters of text / 4 (at least 1).

    Only text counts; ``input_audio`` parts are skipped because their base64 length says nothing
    about what the server charges for them.
    """
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, Sequence):
            chars += sum(len(part.get("text") or "") for part in content if isinstance(part, Mapping))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def estimate_text_tokens(text: str | None) -> int:
    """Tokens of one generated text by the same characters / 4 rule."""
    return math.ceil(len(text or "") / CHARS_PER_TOKEN)


def refill(level: float, capacity: float, rate: float, elapsed: float) -> float:
    """Bucket level after ``elapsed`` seconds of refilling at ``rate`` per second, never above ``capacity``."""
    return min(capacity, level + rate * max(0.0, elapsed))


def wait_time(level: float, needed: float, rate: float) -> float:
    """Seconds until a bucket at ``level`` refilling at ``rate`` holds ``needed``."""
    return max(0.0, (needed - level) / rate)


class TokenBucket:
    """A token bucket that lets a cost through once the bucket holds it (or is full), then debits it.

    A cost larger than the bucket waits for a full bucket and leaves it in debt, so the long-run
    rate never exceeds ``rate`` and no request waits forever. Waiters are served in arrival order.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be positive (got rate={rate}, capacity={capacity})")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._level = capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = refill(self._level, self.capacity, self.rate, now - self._updated)
        self._updated = now

    async def acquire(self, cost: float) -> None:
        """Wait until ``cost`` may pass, then debit it."""
        async with self._lock:
            needed = min(cost, self.capacity)
            self._refill()
            # The slack stops float rounding from turning a finished wait into an endless series of tiny ones.
            while self._level < needed - 1e-9 * max(1.0, needed):
                await self._sleep(wait_time(self._level, needed, self.rate))
                self._refill()
            self._level -= cost

    def adjust(self, delta: float) -> None:
        """Debit ``delta`` more (credit when negative): corrects an estimated cost once the real one is known."""
        self._refill()
        self._level = min(self.capacity, self._level - delta)


class RequestLimiter:
    """The rpm and tpm limits of one teacher; either may be None (no limit, the default)."""

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        # Requests: a bucket of one request spaces them evenly at 60/rpm seconds.
        self._requests = TokenBucket(rpm / 60.0, 1.0) if rpm else None
        # Tokens: one second's worth, so a large request waits for a full bucket and goes into debt.
        self._tokens = TokenBucket(tpm / 60.0, max(1.0, tpm / 60.0)) if tpm else None

    async def acquire(self, estimated_tokens: int) -> None:
        """Wait for one request slot and ``estimated_tokens`` tokens."""
        if self._requests is not None:
            await self._requests.acquire(1.0)
        if self._tokens is not None:
            await self._tokens.acquire(float(estimated_tokens))

    def correct(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Replace a reservation by the tokens the server reports it used."""
        if self._tokens is not None:
            self._tokens.adjust(float(actual_tokens - estimated_tokens))


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempt-1))] for attempt >= 1.

    Full jitter spreads the retries of many clients hit by the same outage instead of re-synchronising them.
    """
    ceiling = min(cap, base * 2.0 ** min(max(0, attempt - 1), 64))  # 2**64 is past any cap; more would overflow
    return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date.

    Returns None when the headers say nothing usable (absent, garbage, negative); a date in the
    past gives 0. ``now`` is the current UNIX time (for tests; default the clock).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        seconds = _non_negative_float(millis)
        if seconds is not None:
            return seconds / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _non_negative_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def retry_delay(attempt: int, retry_after: float | None, base: float, cap: float) -> float:
    """How long to wait before retry ``attempt``: the backoff, at least Retry-After, at most ``cap``."""
    delay = backoff_delay(attempt, base, cap)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)
