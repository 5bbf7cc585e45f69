"""The build's progress line: where it stands and when it ends first, then the counts worth a look.

A thin wrapper over :class:`rich.progress.Progress` so the build reports events (an outcome, a repair starting or
ending, new token counts) and never formats a line itself. The line fits an 80-column terminal: n/total, percent,
elapsed time and ETA come first and never shrink; the counters follow, each only once it is non-zero (a template
build spends no tokens and shows none), and are cut with an ellipsis when the terminal is narrower than they need.
Disabled, it shows nothing, which is what tests and ``progress=False`` library calls get.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task, TaskID
from rich.text import Text

from cotgen.build.outcome import Unfinished
from cotgen.records.run_records import RejectRecord, TraceRecord

if TYPE_CHECKING:
    from cotgen.teachers.batch.journal import BatchEntry

BAR_WIDTH = 10
ELLIPSIS = "…"


def clock(seconds: float | None) -> str:
    """``3725.2`` -> ``1:02:05``; unknown (no finished item yet to estimate from) -> ``-:--:--``."""
    if seconds is None:
        return "-:--:--"
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def progress_line(
    completed: int, total: int, elapsed: float | None, remaining: float | None, status: str, width: int
) -> str:
    """The whole line, at most ``width`` characters: ``build 12/24 50% 0:00:05 ETA 0:00:05 ━━━━━      rejected 2``.

    The head (count, percent, elapsed, ETA) is never cut. The bar comes next when the counters still fit beside
    it (they say more than the bar, which repeats the percent); otherwise the counters are cut with an ellipsis
    to the room that is left.
    """
    ratio = completed / total if total else 1.0
    head = f"build {completed}/{total} {ratio:.0%} {clock(elapsed)} ETA {clock(remaining)}"
    filled = round(BAR_WIDTH * ratio)
    bar = "━" * filled + " " * (BAR_WIDTH - filled)
    with_bar = f"{head} {bar}" + (f" {status}" if status else "")
    if len(with_bar) <= width:
        return with_bar
    room = width - len(head) - 1
    if not status or room <= 0:
        return head[:width]
    return f"{head} " + (status if len(status) <= room else status[: room - 1] + ELLIPSIS)


class BuildLine(ProgressColumn):
    """The one column of the build's progress: :func:`progress_line` at the console's current width."""

    def __init__(self, width: Callable[[], int]) -> None:
        super().__init__()
        self.width = width

    def render(self, task: Task) -> Text:
        if "line" in task.fields:  # a batch's own line (BuildProgress.batch)
            return Text(task.fields["line"][: self.width() - 1], no_wrap=True, overflow="crop")
        elapsed = task.finished_time if task.finished else task.elapsed
        remaining = 0.0 if task.finished else task.time_remaining
        total = int(task.total or 0)
        # One column short of the width: a line that fills the last column makes some terminals wrap.
        line = progress_line(int(task.completed), total, elapsed, remaining, task.fields["status"], self.width() - 1)
        return Text(line, no_wrap=True, overflow="crop")


def compact_count(n: int) -> str:
    """``950`` -> ``950``, ``1448`` -> ``1.4k``, ``2_500_000`` -> ``2.5M``: token counts in a few characters."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def status_text(
    rejects: int, in_repair: int, retries: int, tokens_in: int, tokens_out: int, left: int = 0, stopping: str = ""
) -> str:
    """The counters after the timing, each only when non-zero: ``rejected 2 · tokens 1.4k in, 314 out``.

    ``left`` counts items the server failed (to do on a rerun); ``stopping`` is the countdown after a
    first Ctrl-C, shown first because it is what the user is waiting for.
    """
    parts = [stopping] if stopping else []
    if rejects:
        parts.append(f"rejected {rejects}")
    if left:
        parts.append(f"left to do {left}")
    if in_repair:
        parts.append(f"repairing {in_repair}")
    if retries:
        parts.append(f"HTTP retries {retries}")
    if tokens_in or tokens_out:
        parts.append(f"tokens {compact_count(tokens_in)} in, {compact_count(tokens_out)} out")
    return " · ".join(parts)


def interrupted_message(done: int, left: int, in_flight: str = "") -> str:
    """What Ctrl-C leaves the user with: how far the build got, what became of the answers in flight, how to go on."""
    flight = f"; {in_flight}" if in_flight else ""
    return (
        f"interrupted: {done} done, {left} left{flight}; rerun the same command to resume "
        "(it asks only for what was never answered)"
    )


class BuildProgress:
    """Counts shown beside the bar; update with :meth:`finished`, :meth:`repairing` and :meth:`network`."""

    def __init__(self, total: int, enabled: bool, console: Console | None = None) -> None:
        self.traces = self.rejects = self.unfinished = self.in_repair = self.retries = 0
        self.tokens_in = self.tokens_out = 0
        self._stopping = ""
        self._progress = Progress(
            BuildLine(lambda: self._progress.console.width),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("build", total=total, status=self._status())
        self._batches: dict[str, TaskID] = {}  # marker -> the batch's line

    @property
    def finished_items(self) -> int:
        """Items that ended as a trace or a reject so far."""
        return self.traces + self.rejects

    def _status(self) -> str:
        return status_text(
            self.rejects, self.in_repair, self.retries, self.tokens_in, self.tokens_out, self.unfinished, self._stopping
        )

    def _refresh(self, advance: int = 0) -> None:
        if self._progress.disable:  # no line to draw (--no-progress, not a terminal): the counts above are all
            return
        self._progress.update(self._task, advance=advance, status=self._status())

    def finished(self, outcome: TraceRecord | RejectRecord | Unfinished) -> None:
        """One item ended as a trace or a reject, or was left to do after a server failure."""
        if isinstance(outcome, TraceRecord):
            self.traces += 1
        elif isinstance(outcome, RejectRecord):
            self.rejects += 1
        else:
            self.unfinished += 1
        self._refresh(advance=1)

    def say(self, text: str) -> None:
        """One line above the live line (shown even when the live line is disabled, as the log's twin)."""
        self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def stopping(self, text: str) -> None:
        """The countdown after a first Ctrl-C (``stopping: 6 answers in flight, 58 s…``); empty clears it."""
        self._stopping = text
        self._refresh()

    def repairing(self, delta: int) -> None:
        """An item entered (+1) or left (-1) its repair turns."""
        self.in_repair += delta
        self._refresh()

    def network(self, retries: int, tokens_in: int, tokens_out: int) -> None:
        """The client's running totals: HTTP retries so far and tokens spent (the line is redrawn when they change)."""
        if (retries, tokens_in, tokens_out) == (self.retries, self.tokens_in, self.tokens_out):
            return  # an answer from the cache: nothing on the line changes
        self.retries, self.tokens_in, self.tokens_out = retries, tokens_in, tokens_out
        self._refresh()

    def batch(self, entry: BatchEntry) -> None:
        """A batch's latest status, one line per batch: ``batch ID in_progress: 120/500 completed, 3 failed``."""
        counts = entry.request_counts
        total = counts.get("total") or len(entry.custom_ids)
        line = (
            f"batch {entry.batch_id} {entry.status}: {counts.get('completed', 0)}/{total} completed, "
            f"{counts.get('failed', 0)} failed"
        )
        task = self._batches.get(entry.marker)
        if task is None:
            self._batches[entry.marker] = self._progress.add_task("batch", total=total, line=line)
        else:
            self._progress.update(task, line=line)

    def __enter__(self) -> BuildProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
