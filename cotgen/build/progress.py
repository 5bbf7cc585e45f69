"""The build's progress bar: items done, traces, rejects, items in repair, HTTP retries, tokens, and batches.

A thin wrapper over :class:`rich.progress.Progress` so the build reports events (an outcome, a
repair starting or ending, new token counts) and never formats a bar itself. Disabled, it does
nothing, which is what tests and ``progress=False`` library calls get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cotgen.records.run_records import RejectRecord, TraceRecord

if TYPE_CHECKING:
    from cotgen.teachers.batch.journal import BatchEntry


class BuildProgress:
    """Counts shown beside the bar; update with :meth:`finished`, :meth:`repairing` and :meth:`network`."""

    def __init__(self, total: int, enabled: bool, console: Console | None = None) -> None:
        self.traces = self.rejects = self.in_repair = self.retries = 0
        self.tokens_in = self.tokens_out = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("build", total=total, status=self._status())
        self._batches: dict[str, TaskID] = {}

    def _status(self) -> str:
        return (
            f"done {self.traces} · rejected {self.rejects} · retrying {self.in_repair} "
            f"(HTTP retries {self.retries}) · tokens {self.tokens_in:,} in / {self.tokens_out:,} out"
        )

    def _refresh(self, advance: int = 0) -> None:
        self._progress.update(self._task, advance=advance, status=self._status())

    def finished(self, outcome: TraceRecord | RejectRecord) -> None:
        """One item ended as a trace or a reject."""
        if isinstance(outcome, TraceRecord):
            self.traces += 1
        else:
            self.rejects += 1
        self._refresh(advance=1)

    def repairing(self, delta: int) -> None:
        """An item entered (+1) or left (-1) its repair turns."""
        self.in_repair += delta
        self._refresh()

    def network(self, retries: int, tokens_in: int, tokens_out: int) -> None:
        """The client's running totals: HTTP retries so far and tokens spent."""
        self.retries, self.tokens_in, self.tokens_out = retries, tokens_in, tokens_out
        self._refresh()

    def batch(self, entry: BatchEntry) -> None:
        """A batch's latest status: one line per batch, its finished requests (completed and failed) of its total."""
        counts = entry.request_counts
        total = counts.get("total") or len(entry.custom_ids)
        finished = counts.get("completed", 0) + counts.get("failed", 0)
        status = f"{entry.status} · completed {counts.get('completed', 0)} · failed {counts.get('failed', 0)}"
        task = self._batches.get(entry.marker)
        if task is None:
            task = self._batches[entry.marker] = self._progress.add_task(
                f"batch {entry.batch_id}", total=total, status=status
            )
        self._progress.update(task, total=total, completed=finished, status=status)

    def __enter__(self) -> BuildProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
