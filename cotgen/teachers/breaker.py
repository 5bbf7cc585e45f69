"""When a teacher's failures are the server's, not the item's: stop instead of rejecting item after item.

Four rules, one per way a long run goes wrong for every item at once. Each trips the breaker, after
which every request of the client raises :class:`TeacherStopped` (a one-line user error) before it is
sent; the build stops, writes no reject for the items left, and a rerun does them.

- **Unreachable** (never answered): failures to connect (refused, DNS, connect timeout) with no
  answer of any kind yet, ``unreachable_after`` of them: a wrong ``--base-url`` or a server not running.
- **Outage** (answered before, then gone): once the server has answered, connection failures and
  timeouts with no answer of any kind in between, for ``outage_after_s`` seconds since the first of
  them. A request that has used its retries while no answer of any kind has come since its own
  first failure does not end as a reject yet: the client asks the server a cheap question (a probe,
  ``GET /models``) every tenth of the window. An answer within the first tenth of the silence means
  the server is up and the failure was the item's (a reject, as before); an answer after a longer
  silence means the server is back from an outage (the item is tried again); no answer until the
  window closes is the stop. So no item is rejected for a connection failure during an outage.
- **Systematic** (answered, but never successfully): the first answers are all the same failure that
  retrying cannot fix (HTTP 404 model or URL, 401 key, 400 structured outputs unsupported, ...), with no
  success yet: after ``systematic_after`` of them the client stops with that failure's cause and fix,
  instead of paying one request per item of the corpus to learn the same thing.
- **Failing** (reachable, but answering only failures): the last ``failing_after`` answers (8 by default) are
  all server failures (HTTP 5xx or 408, a timeout, a 200 that is cut off, undecodable, oversized or not a
  chat completion), and at least one of them answered a *retry*, so the failures outlasted a backoff: one
  wave of failures hitting every request in flight at once (a server's brief hiccup) does not stop a
  run, a server that still fails after backing off does. A success resets the count; 429s, connection
  failures and final 4xx answers neither count nor reset it (the outage and systematic rules judge
  those). An all-failing server is therefore sent at most ``max(failing_after, concurrency) +
  concurrency`` requests before the stop, however many items are left.

The rules are pure bookkeeping over a clock, shared by every command that asks a model through
:class:`~cotgen.teachers.openai_teacher.OpenAITeacher` (``build`` today, ``predict``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cotgen.core.errors import CotgenError

UNREACHABLE_AFTER = 8
OUTAGE_AFTER_S = 30.0
SYSTEMATIC_AFTER = 3
FAILING_AFTER = 8
# The reasons a call ends with when it ran out of retries on the server's fault (5xx, timeouts, connection
# failures, 429s, broken answers): never an item's reject. An item that ends so stays to do, and a reject
# with one of these reasons (written by an older cotgen, or a batch row) is asked again by a plain rerun.
SERVER_FAULT_REASONS: tuple[str, ...] = ("timeout", "rate_limited", "server_error", "malformed_response")
OUTAGE_SUSPECT_FRACTION = 10  # a silence longer than outage_after_s / this is an outage, not a busy server's gap

logger = logging.getLogger("cotgen.teacher")


class TeacherStopped(CotgenError):
    """The teacher cannot go on (unreachable, outage, systematic failure): not an item's fault, never a reject."""


class TeacherUnreachableError(TeacherStopped):
    """The server never answered and connecting keeps failing, or it stopped answering (an outage)."""


class SystematicFailureError(TeacherStopped):
    """Every answer so far is the same failure that retrying cannot fix."""


class SendingStopped(Exception):  # noqa: N818 (a state, not an error: the user asked the run to stop)
    """No request is sent any more (the first Ctrl-C): answers in flight are awaited, nothing new is asked.

    Raised by the client instead of sending; the item it was for ends unrecorded and stays to do.
    """


class ServerFailingError(TeacherStopped):
    """The server is reachable but its recent answers are all server failures (5xx, timeouts, broken 200s)."""


@dataclass
class FailureBreaker:
    """The three stop rules of the module docstring, over ``clock`` (seconds)."""

    unreachable_after: int = UNREACHABLE_AFTER
    outage_after_s: float = OUTAGE_AFTER_S
    systematic_after: int = SYSTEMATIC_AFTER
    failing_after: int = FAILING_AFTER
    clock: Callable[[], float] = time.monotonic
    answered: bool = False  # any HTTP answer at all, even an error status
    succeeded: bool = False  # a 2xx answer
    tripped: TeacherStopped | None = None
    _connect_failures: int = 0
    _last_answer: float = 0.0
    _streak_started: float | None = None  # first connection failure/timeout since the last answer
    _streak_failures: int = 0
    _fatal: dict[str, int] = field(default_factory=dict)  # failure signature -> count, before any success
    _failing: int = 0  # server failures in a row since the last success
    _failing_retried: bool = False  # one of them answered a retry
    _failing_causes: dict[str, int] = field(default_factory=dict)  # their kinds, for the stop's advice

    def check(self) -> None:
        """Raise the stop once tripped: called before each request is sent."""
        if self.tripped is not None:
            raise self.tripped

    def answer(self, success: bool) -> None:
        """Any HTTP answer: the server is reachable, and an open outage stretch is over."""
        self.answered = True
        self.succeeded = self.succeeded or success
        self._last_answer = self.clock()
        self._streak_started = None
        self._streak_failures = 0
        if success:
            self._failing, self._failing_retried, self._failing_causes = 0, False, {}

    def server_failed(self, cause: str, detail: str, retry: bool, where: str, advice: str) -> None:
        """A server failure (5xx, 408, timeout, broken 200) of a request's attempt; may trip the failing rule.

        ``cause`` groups the failures for the stop's message, ``retry`` says the attempt was a retry,
        ``advice`` is the fix to print for this kind of failure (the last failure's is printed).
        """
        self._failing += 1
        self._failing_retried = self._failing_retried or retry
        self._failing_causes[cause] = self._failing_causes.get(cause, 0) + 1
        if self._failing >= self.failing_after and self._failing_retried:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self._failing_causes.items(), key=lambda kv: -kv[1]))
            self._trip(
                ServerFailingError(
                    f"the server at {where} is failing: its last {self._failing} answers were all server failures "
                    f"({kinds}; last: {detail}), also after backing off; {advice}; stopped instead of asking "
                    "the remaining items, which stay to do (a rerun asks them; nothing was rejected for this)"
                )
            )
        self.check()

    def connection_failed(self, connect_failure: bool, where: str, cause: str) -> None:
        """A request failed to connect (``connect_failure``) or timed out / was cut off; may trip a rule and raise."""
        if not self.answered:
            if connect_failure:
                self._connect_failures += 1
                if self._connect_failures >= self.unreachable_after:
                    self._trip(
                        TeacherUnreachableError(
                            f"the server at {where} cannot be reached ({cause} on {self._connect_failures} "
                            "connection attempts, no answer yet): check --base-url (or OPENAI_BASE_URL) and that "
                            "the server is running; unfinished items stay to do for a rerun"
                        )
                    )
            self.check()
            return
        now = self.clock()
        if self._streak_started is None:
            self._streak_started = now
        self._streak_failures += 1
        if now - self._streak_started >= self.outage_after_s:
            self._trip(
                TeacherUnreachableError(
                    f"the server at {where} stopped answering: only connection failures and timeouts "
                    f"({self._streak_failures}, last {cause}) for {now - self._streak_started:.0f} s since its last "
                    "answer; stopped instead of rejecting the remaining items"
                )
            )
        self.check()

    def silence_since(self, since: float) -> float | None:
        """When the current silence began, if the server answered before and nothing has answered since ``since``.

        ``since`` is a request's first failure (clock time): None means an answer came after it (or the
        server never answered at all, which is the unreachable rule's case).
        """
        if not self.answered or self._streak_started is None or self._streak_started > since:
            return None
        return self._streak_started

    def was_outage(self, silence_started: float) -> bool:
        """Whether the silence that began at ``silence_started`` and has ended (or is ongoing) lasted long enough.

        A tenth of the outage window (3 s by default): shorter silences happen between answers of a
        busy server, when one request's connection is reset.
        """
        end = self.clock() if self._streak_started == silence_started else self._last_answer
        return end - silence_started >= self.outage_after_s / OUTAGE_SUSPECT_FRACTION

    def fatal(self, signature: str, detail: str) -> None:
        """An answer that retrying cannot fix; trips the systematic rule (and raises) per the module docstring."""
        if self.succeeded:
            return
        self._fatal[signature] = self._fatal.get(signature, 0) + 1
        if len(self._fatal) == 1 and self._fatal[signature] >= self.systematic_after:
            self._trip(
                SystematicFailureError(
                    f"the first {self._fatal[signature]} answers are all the same failure, which retrying cannot "
                    f"fix, and none succeeded: {detail}"
                )
            )
        self.check()

    def _trip(self, error: TeacherStopped) -> None:
        if self.tripped is None:
            self.tripped = error
            logger.error("%s", error)
