"""Ctrl-C while a model is being asked: the first stops sending and keeps what is in flight, the second abandons it.

Every request in flight is paid for, so a first Ctrl-C must not throw its answer away: no new item is
started and no new request sent, while the answers already asked for are awaited (at most the request
deadline, with a countdown on the progress line), validated and kept as records, or kept in the
response cache when a repair turn would have been needed. A second Ctrl-C abandons them at once. Either
way the command ends with :class:`TeachingInterrupted`, whose message says what happened to the answers
in flight; a rerun then asks only for what was never answered.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class TeachingInterrupted(KeyboardInterrupt):
    """Ctrl-C ended the asking: how many answers were in flight at the first press and how many were abandoned."""

    def __init__(self, in_flight: int, abandoned: int) -> None:
        super().__init__(in_flight, abandoned)
        self.in_flight = in_flight
        self.abandoned = abandoned

    def describe(self) -> str:
        """One clause for the interrupted message: what became of the answers in flight."""
        if self.in_flight == 0:
            return "no answer was in flight"
        kept = self.in_flight - self.abandoned
        said = f"{kept} of {self.in_flight} answers in flight awaited and kept"
        if self.abandoned:
            said += f", {self.abandoned} abandoned (the server may still bill them)"
        return said


class TwoStageInterrupt:
    """SIGINT handling for one asking pool (see the module docstring).

    ``stop_sending`` tells the client to send nothing more, ``in_flight`` counts its requests still
    out, ``grace_s`` bounds the wait for them, ``on_status`` shows the countdown ("" clears it) and
    ``announce`` prints the one line that explains it.
    """

    def __init__(
        self,
        stop_sending: Callable[[], None],
        in_flight: Callable[[], int],
        grace_s: float,
        on_status: Callable[[str], None],
        announce: Callable[[str], None],
    ) -> None:
        self.stop = asyncio.Event()  # set at the first press: the pool takes no new item
        self._stop_sending = stop_sending
        self._in_flight = in_flight
        self._grace_s = grace_s
        self._on_status = on_status
        self._announce = announce
        self._pool: asyncio.Future[None] | None = None
        self._countdown: asyncio.Task[None] | None = None
        self.presses = 0
        self.in_flight_at_stop = 0
        self.abandoned = 0

    def press(self) -> None:
        """One Ctrl-C: the first stops sending and starts the countdown, the second abandons what is in flight."""
        self.presses += 1
        if self.presses == 1:
            self.in_flight_at_stop = self._in_flight()
            self._stop_sending()
            self.stop.set()
            self._announce(
                f"stopping: nothing new is sent; waiting up to {self._grace_s:.0f} s for the {self.in_flight_at_stop} "
                "answers in flight, which are kept (Ctrl-C again abandons them)"
            )
            self._countdown = asyncio.ensure_future(self._count_down())
        else:
            self._abandon()

    def _abandon(self) -> None:
        self.abandoned = min(self._in_flight(), self.in_flight_at_stop)
        if self._pool is not None:
            self._pool.cancel()

    async def _count_down(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace_s
        while (waiting := self._in_flight()) > 0:
            left = deadline - loop.time()
            if left <= 0:
                self._abandon()
                break
            self._on_status(f"stopping: {waiting} in flight, {left:.0f} s")
            await asyncio.sleep(min(1.0, left))
        self._on_status("")

    async def run(self, pool: Callable[[asyncio.Event], asyncio.Future[None] | asyncio.Task[None]]) -> None:
        """Run the pool (given the stop event) with Ctrl-C handled; :class:`TeachingInterrupted` once pressed."""
        self._pool = asyncio.ensure_future(pool(self.stop))
        with self._handler():
            try:
                await self._pool
            except asyncio.CancelledError:
                if self.presses == 0:
                    raise
            finally:
                if self._countdown is not None:
                    self._countdown.cancel()
                    self._on_status("")
        if self.presses:
            raise TeachingInterrupted(self.in_flight_at_stop, self.abandoned)

    @contextmanager
    def _handler(self) -> Iterator[None]:
        """SIGINT calls :meth:`press` while the pool runs (main thread only: elsewhere Python delivers no signals)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.press)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
