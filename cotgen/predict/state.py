"""``predictions.jsonl`` as the state of a predict run: which (id, sample) are done, and appending new lines.

Like ``traces.jsonl`` for a build, the file *is* the progress: each utterance's lines are appended
(flushed) the moment its answers are in, so a run killed at any point resumes with nothing lost and
nothing asked twice that was written (what was asked and not yet written is in the response cache).
Opening the file cuts off a torn last line (:func:`cotgen.core.durable_files.iter_recovered_lines`).

A line is kept when its input fingerprint is still the one its utterance would get now; a line
whose inputs changed (another prompt, clip, temperature, server) is stale and is dropped, so its
sample is asked again. Lines of utterances outside this run's selection are kept as they are. A
file holding another model's predictions is refused rather than mixed: one file, one model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cotgen.core.durable_files import JsonlAppender, iter_recovered_lines, write_jsonl_atomic
from cotgen.core.errors import CotgenError
from cotgen.predict.outcome import CALL_FAILURES, error_reason
from cotgen.records.prediction import PredictionRecord

Key = tuple[str, int]


class PredictionsFile:
    """The done (id, sample) keys of a predictions file, and an appender for new lines."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        self._lines: dict[Key, tuple[int, str, str | None]] = {}  # key -> (line number, fingerprint, error reason)
        self._duplicates = 0
        self._out: JsonlAppender | None = None
        for lineno, line in enumerate(iter_recovered_lines(path), start=1):
            key, fingerprint, reason = self._check(line, lineno)
            self._duplicates += key in self._lines
            self._lines[key] = (lineno, fingerprint, reason)  # the last line of a key wins

    def _check(self, line: dict[str, Any], lineno: int) -> tuple[Key, str, str | None]:
        where = f"{self.path}:{lineno}"
        utterance_id, sample, model, fingerprint, error = (
            line.get(name) for name in ("id", "sample", "model", "fingerprint", "error")
        )
        if not (
            isinstance(utterance_id, str)
            and isinstance(sample, int)
            and isinstance(model, str)
            and isinstance(fingerprint, str)
            and (error is None or isinstance(error, str))
        ):
            raise CotgenError(f"{where}: not a prediction line (expected id, sample, model, fingerprint and error)")
        if model != self.model:
            raise CotgenError(
                f"{where}: holds predictions of {model}, not {self.model}; write them to another file with --out"
            )
        return (utterance_id, sample), fingerprint, error_reason(error)

    def prune(self, current: Mapping[str, str], retry_errors: bool) -> Counter[str]:
        """Drop stale lines (and, with ``retry_errors``, failed calls) so their samples are asked again.

        ``current`` maps each selected utterance id to its fingerprint now. Returns the dropped
        lines by cause (``stale``, ``retried``); the file is rewritten (atomically) only when a line
        goes, or when a killed run left a key twice.
        """
        dropped: Counter[str] = Counter()
        for key, (_, fingerprint, reason) in list(self._lines.items()):
            now = current.get(key[0])
            if now is not None and now != fingerprint:
                dropped["stale"] += 1
            elif retry_errors and now is not None and reason in CALL_FAILURES:
                dropped["retried"] += 1
            else:
                continue
            del self._lines[key]
        if dropped or self._duplicates:
            keep = {lineno for lineno, _, _ in self._lines.values()}
            write_jsonl_atomic(self.path, self._kept_lines(keep))
            self._lines = {key: (n, fp, r) for n, (key, fp, r) in enumerate(self._by_line(), start=1)}
            self._duplicates = 0
        return dropped

    def _kept_lines(self, keep: set[int]) -> Iterator[dict[str, Any]]:
        for lineno, line in enumerate(iter_recovered_lines(self.path), start=1):
            if lineno in keep:
                yield line

    def _by_line(self) -> Iterable[tuple[Key, str, str | None]]:
        return [(key, fp, r) for key, (_, fp, r) in sorted(self._lines.items(), key=lambda kv: kv[1][0])]

    def done(self, key: Key) -> bool:
        return key in self._lines

    def __len__(self) -> int:
        return len(self._lines)

    def __enter__(self) -> PredictionsFile:
        self._out = JsonlAppender(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def append(self, records: Iterable[PredictionRecord]) -> None:
        """Append one utterance's lines (durable on return) and mark them done."""
        if self._out is None:
            raise RuntimeError("PredictionsFile.append outside `with predictions:`")
        for record in records:
            self._out.write(record)
            self._lines[(record.id, record.sample)] = (-1, record.fingerprint, error_reason(record.error))
