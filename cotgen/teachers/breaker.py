"""When a teacher's failures are the server's, not the item's: stop instead of rejecting item after item.

Three rules, one per way a long run goes wrong for every item at once. Each trips the breaker, after
which every request of the client raises :class:`TeacherStopped` (a one-line user error) before it is
sent; the build stops, writes no reject for the items left, and a rerun does them.

- **Unreachable** (never answered): failures to connect (refused, DNS, connect timeout) with no
  answer of any kind yet, ``unreachable_after`` of them: a wrong ``--base-url`` or a server not running.
- **Outage** (answered before, then gone): once the server has answered, connection failures and
  timeouts with no answer of any kind in between, for ``outage_after_s`` seconds since the first of
  them. A request that has used its retries keeps retrying instead of ending as a reject when no
  answer of any kind has come since its own first failure and that silence has lasted a tenth of
  the window (:meth:`FailureBreaker.outage_open`), so no item is rejected for a connection failure
  during an outage: the silence ends with an answer (the server is back) or with the stop. A lone
  reset or timeout among requests that are being answered stays the item's failure, as before.
- **Systematic** (answered, but never successfully): the first answers are all the same failure that
  retrying cannot fix (HTTP 404 model or URL, 401 key, 400 structured outputs unsupported, ...), with no
  success yet: after ``systematic_after`` of them the client stops with that failure's cause and fix,
  instead of paying one request per item of the corpus to learn the same thing.

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
OUTAGE_SUSPECT_FRACTION = 10  # an open stretch counts as a suspected outage after outage_after_s / this

logger = logging.getLogger("cotgen.teacher")


class TeacherStopped(CotgenError):
    """The teacher cannot go on (unreachable, outage, systematic failure): not an item's fault, never a reject."""


class TeacherUnreachableError(TeacherStopped):
    """The server never answered and connecting keeps failing, or it stopped answering (an outage)."""


class SystematicFailureError(TeacherStopped):
    """Every answer so far is the same failure that retrying cannot fix."""


@dataclass
class FailureBreaker:
    """The three stop rules of the module docstring, over ``clock`` (seconds)."""

    unreachable_after: int = UNREACHABLE_AFTER
    outage_after_s: float = OUTAGE_AFTER_S
    systematic_after: int = SYSTEMATIC_AFTER
    clock: Callable[[], float] = time.monotonic
    answered: bool = False  # any HTTP answer at all, even an error status
    succeeded: bool = False  # a 2xx answer
    tripped: TeacherStopped | None = None
    _connect_failures: int = 0
    _streak_started: float | None = None  # first connection failure/timeout since the last answer
    _streak_failures: int = 0
    _fatal: dict[str, int] = field(default_factory=dict)  # failure signature -> count, before any success

    def check(self) -> None:
        """Raise the stop once tripped: called before each request is sent."""
        if self.tripped is not None:
            raise self.tripped

    def answer(self, success: bool) -> None:
        """Any HTTP answer: the server is reachable, and an open outage stretch is over."""
        self.answered = True
        self.succeeded = self.succeeded or success
        self._streak_started = None
        self._streak_failures = 0

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

    def outage_open(self, since: float) -> bool:
        """Whether a request that first failed at ``since`` (clock time) is in a suspected outage.

        True when the server answered before, nothing has answered since ``since`` (the current run of
        connection failures and timeouts began no later), and that run has lasted a tenth of the
        outage window (3 s by default).
        """
        if not self.answered or self._streak_started is None or self._streak_started > since:
            return False
        return self.clock() - self._streak_started >= self.outage_after_s / OUTAGE_SUSPECT_FRACTION

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
