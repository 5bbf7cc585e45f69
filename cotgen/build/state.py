"""The progress of a build on disk: which (id, sample) items are done, and where each outcome goes.

``traces.jsonl`` and ``rejects.jsonl`` *are* the state: an item is done when its record is in
either file, so a rerun (after a finished run, a crash or a kill) skips exactly what is done and
redoes the rest. Opening the state repairs what a kill can leave behind: a torn last line is cut
off (:func:`cotgen.core.durable_files.iter_recovered_lines`), and an item found in both files (a ``--retry-rejects``
run killed between writing the new trace and rewriting the rejects) keeps its trace. Afterwards
every (id, sample) appears exactly once in the two files together.

Each record carries the fingerprint of the inputs it was made from (:mod:`cotgen.build.fingerprint`);
the state keeps them, so a build can find the done items whose inputs changed since (:meth:`RunState.stale`)
and take their records out (:meth:`RunState.release`) before doing them again.

Trace lines are read as JSON and checked only for what the state uses (``id``, ``sample`` and the
distribution's class codes): validating every trace's text made resuming a large run slow, and
each later reader validates the records it uses. They are read one line at a time, keeping only the keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from cotgen.build.outcome import ItemKey
from cotgen.core.durable_files import (
    JsonlAppender,
    file_fingerprint,
    iter_recovered_lines,
    recover_jsonl,
    rewrite_jsonl_dropping,
    write_jsonl_atomic,
)
from cotgen.core.errors import CotgenError
from cotgen.core.id_index import IdIndex
from cotgen.records.run_records import RejectRecord, TraceRecord

TRACES_FILE = "traces.jsonl"
REJECTS_FILE = "rejects.jsonl"
RecordT = TypeVar("RecordT", TraceRecord, RejectRecord, dict)


def traces_fingerprint(run_dir: Path) -> str | None:
    """The fingerprint of a run's ``traces.jsonl`` that files derived from it record (None before any build)."""
    return file_fingerprint(run_dir / TRACES_FILE)


def _key(record: TraceRecord | RejectRecord | dict[str, Any]) -> ItemKey:
    if isinstance(record, dict):
        return (record["id"], record["sample"])
    return (record.id, record.sample)


def _packed(key: ItemKey) -> bytes:
    """An item key as one bytes object (id, NUL, sample): about 0.09 KB in a set, where the (id, sample)
    tuple and its id string took 0.16 KB, for every trace a build records."""
    return f"{key[0]}\x00{key[1]}".encode()


def _unpacked(packed: bytes) -> ItemKey:
    item_id, sample = packed.decode().rsplit("\x00", 1)  # the sample is digits: the last NUL separates
    return (item_id, int(sample))


class RecordedKeys:
    """The keys of the traces a run records: a bit per (utterance, sample number) of the corpus it teaches.

    A build records one trace per item, K + 1 items per utterance with ``--samples K``; as (id, sample) tuples
    they took 0.16 KB an item, packed as bytes 0.09 KB. Once the run knows its corpus (:meth:`RunState.track`)
    a key costs one bit-byte, found through the corpus ids (an :class:`~cotgen.core.id_index.IdIndex`, about
    the id's bytes and 8 more per utterance). Keys outside that grid (another corpus's ids, another sample
    number) are kept packed.
    """

    def __init__(self, ids: np.ndarray | None = None, numbers: Sequence[int] = ()) -> None:
        self._ids = ids
        self._numbers = list(numbers)
        self._column = {n: j for j, n in enumerate(self._numbers)}
        self._index: IdIndex | None = None
        self._bits = np.zeros((0, 0), dtype=bool)
        if ids is not None and len(ids) and self._numbers:
            self._index = IdIndex.from_arrays(ids, np.arange(len(ids), dtype=np.int64))
            self._bits = np.zeros((len(ids), len(self._numbers)), dtype=bool)
        self._other: set[bytes] = set()

    def _cell(self, key: ItemKey) -> tuple[int, int] | None:
        column = self._column.get(key[1]) if self._index is not None else None
        if column is None or self._index is None:
            return None
        row = self._index.get(key[0])
        return None if row is None else (int(row), column)

    def add(self, key: ItemKey) -> None:
        cell = self._cell(key)
        if cell is None:
            self._other.add(_packed(key))
        else:
            self._bits[cell] = True

    def discard(self, key: ItemKey) -> bool:
        """Forget ``key``; True when it was there."""
        cell = self._cell(key)
        if cell is None:
            there = _packed(key) in self._other
            self._other.discard(_packed(key))
            return there
        there = bool(self._bits[cell])
        self._bits[cell] = False
        return there

    def __contains__(self, key: object) -> bool:
        if not (isinstance(key, tuple) and len(key) == 2):
            return False
        cell = self._cell(key)  # type: ignore[arg-type]
        return _packed(key) in self._other if cell is None else bool(self._bits[cell])  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[ItemKey]:
        if self._ids is not None:
            for row, column in zip(*np.nonzero(self._bits)):
                yield (self._ids[row].decode(), self._numbers[column])
        yield from (_unpacked(key) for key in self._other)

    def __bool__(self) -> bool:
        return bool(self._other) or bool(self._bits.any())


def _first_of_each(records: Iterable[RecordT], exclude: set[ItemKey]) -> Iterator[RecordT]:
    seen: set[ItemKey] = set(exclude)
    for record in records:
        if _key(record) not in seen:
            seen.add(_key(record))
            yield record


class RunState:
    """Done items of a run folder, and appenders that record new outcomes durably as they finish."""

    def __init__(self, run_dir: Path, classes: Sequence[str]) -> None:
        self.traces_path = run_dir / TRACES_FILE
        self.rejects_path = run_dir / REJECTS_FILE
        rejects = recover_jsonl(self.rejects_path, RejectRecord)
        self.fingerprints: dict[ItemKey, str | None] = {}  # of the records read here, to find stale ones
        trace_keys = self._scan_traces(classes)
        unique_rejects = list(_first_of_each(rejects, trace_keys))
        if len(unique_rejects) != len(rejects):
            write_jsonl_atomic(self.rejects_path, unique_rejects)
        self.fingerprints.update((_key(r), r.fingerprint) for r in unique_rejects)
        self.trace_keys: set[ItemKey] = trace_keys  # read from traces.jsonl when the state was opened
        self._recorded = RecordedKeys()  # the keys of the traces recorded since (see track)
        self.rejects: dict[ItemKey, RejectRecord] = {_key(r): r for r in unique_rejects}
        self.new: Counter[str] = Counter()
        self.new_reasons: Counter[str] = Counter()
        self._traces_out: JsonlAppender | None = None
        self._rejects_out: JsonlAppender | None = None

    def _scan_traces(self, classes: Sequence[str]) -> set[ItemKey]:
        """The keys in traces.jsonl, read one line at a time (a resumed run of 100,000 traces never holds them).

        Each line is checked for what the state uses; a file holding an item twice is rewritten with
        the first of each, streamed from the file again.
        """
        keys: set[ItemKey] = set()
        duplicated = False
        for lineno, trace in enumerate(iter_recovered_lines(self.traces_path), start=1):
            self._check_line(trace, lineno, classes)
            key = _key(trace)
            duplicated = duplicated or key in keys
            if key not in keys:
                self.fingerprints[key] = trace.get("fingerprint")
            keys.add(key)
        if duplicated:
            write_jsonl_atomic(self.traces_path, _first_of_each(iter_recovered_lines(self.traces_path), set()))
        return keys

    def _check_line(self, trace: dict[str, Any], lineno: int, classes: Sequence[str]) -> None:
        where = f"{self.traces_path}:{lineno}"
        if not (
            isinstance(trace.get("id"), str)
            and isinstance(trace.get("sample"), int)
            and isinstance(trace.get("distribution"), dict)
        ):
            raise CotgenError(f"{where}: not a trace record (expected id, sample and distribution)")
        if list(trace["distribution"]) != list(classes):
            raise CotgenError(
                f"{where}: built with classes {list(trace['distribution'])}, but this run uses "
                f"{list(classes)}; write to another --out folder"
            )

    @property
    def done(self) -> set[ItemKey]:
        """Keys already in traces.jsonl or rejects.jsonl."""
        return self.trace_keys | set(self.rejects) | set(self._recorded)

    def stale(self, current: Mapping[ItemKey, str]) -> set[ItemKey]:
        """Done items whose recorded fingerprint is not ``current``'s (records without one count as stale)."""
        return {key for key, now in current.items() if self.is_done(key) and self.fingerprints.get(key) != now}

    def release(self, keys: Iterable[ItemKey]) -> int:
        """Take these items' records out of both files (each rewritten atomically) so they are done again.

        A kill between the rewrite and the new record leaves the item simply not done: the rerun does
        it, and no stale record survives in the meantime. Returns how many records went.
        """
        wanted = set(keys) & self.done
        if not wanted:
            return 0
        recorded = [key for key in wanted if key in self._recorded]
        if wanted & self.trace_keys or recorded:
            rewrite_jsonl_dropping(self.traces_path, lambda line: _key(line) in wanted)
            self.trace_keys -= wanted
            for key in recorded:
                self._recorded.discard(key)
        self.release_rejects(wanted)
        for key in wanted:
            self.fingerprints.pop(key, None)
        return len(wanted)

    def release_rejects(self, keys: Iterable[ItemKey]) -> int:
        """Take these items out of rejects.jsonl (rewritten atomically) so they are tried again; returns how many."""
        wanted = set(keys) & set(self.rejects)
        if wanted:
            for key in wanted:
                del self.rejects[key]
            write_jsonl_atomic(self.rejects_path, self.rejects.values())
        return len(wanted)

    def track(self, ids: np.ndarray, numbers: Sequence[int]) -> None:
        """Record this run's traces as bits over these corpus ids (UTF-8 bytes) and sample numbers
        (:class:`RecordedKeys`); before anything is recorded, so no key moves between representations."""
        if self._recorded:
            raise RuntimeError("RunState.track after a trace was recorded")
        self._recorded = RecordedKeys(ids, numbers)

    def __enter__(self) -> RunState:
        self._traces_out = JsonlAppender(self.traces_path)
        self._rejects_out = JsonlAppender(self.rejects_path)
        return self

    def __exit__(self, *exc: object) -> None:
        for appender in (self._traces_out, self._rejects_out):
            if appender is not None:
                appender.close()
        self._traces_out = self._rejects_out = None

    def record(self, outcome: TraceRecord | RejectRecord) -> None:
        """Append an item's outcome to its file (durable on return) and mark it done.

        Its fingerprint is in the file, not added to :attr:`fingerprints`: those are compared (:meth:`stale`)
        when a build plans, before it records anything, and keeping them for every new record cost about
        0.17 KB per item of a fresh build.
        """
        if self._traces_out is None or self._rejects_out is None:
            raise RuntimeError("RunState.record outside `with state:`")
        if isinstance(outcome, TraceRecord):
            self._traces_out.write(outcome)
            self._recorded.add(_key(outcome))
            self.new["traces"] += 1
        else:
            self._rejects_out.write(outcome)
            self.rejects[_key(outcome)] = outcome
            self.new["rejects"] += 1
            self.new_reasons[outcome.reason] += 1

    def is_done(self, key: ItemKey) -> bool:
        """Whether the item is in traces.jsonl or rejects.jsonl (without building :attr:`done`)."""
        return key in self.trace_keys or key in self.rejects or key in self._recorded
