"""The progress bar of ``cotgen predict``: utterances done, answers parsed and failed, tokens.

Like the build's bar (:mod:`cotgen.build.progress`), a thin wrapper over :class:`rich.progress.Progress`
fed with events; disabled, it does nothing (tests and library calls with ``progress=False``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cotgen.records.prediction import PredictionRecord


class PredictProgress:
    """One step per utterance; the counts beside the bar are per answer."""

    def __init__(self, total: int, enabled: bool, console: Console | None = None) -> None:
        self.parsed = self.failed = self.tokens_in = self.tokens_out = 0
        self._progress = Progress(
            TextColumn("[bold]predict"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("predict", total=total, status=self._status())

    def _status(self) -> str:
        return f"parsed {self.parsed} · failed {self.failed} · tokens {self.tokens_in:,} in / {self.tokens_out:,} out"

    def finished(self, records: Sequence[PredictionRecord]) -> None:
        """One utterance's answers are in."""
        for record in records:
            self.parsed += record.error is None
            self.failed += record.error is not None
            self.tokens_in += record.usage.prompt_tokens
            self.tokens_out += record.usage.completion_tokens
        self._progress.update(self._task, advance=1, status=self._status())

    def __enter__(self) -> PredictProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
