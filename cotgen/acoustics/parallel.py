"""Feature extraction over many files: cache first, then the misses in parallel with a progress bar.

Work goes to any ``concurrent.futures.Executor``: by default a process pool with one worker per core
(Praat holds the GIL, so threads would not run analyses in parallel), or an executor the caller
brings, such as a Dask cluster's. Files are hashed and the cache consulted in this process, so a
rerun over an unchanged corpus sends no work at all and identical audio under several ids is analysed
once; misses are sent while hashing goes on, so workers start at once; results are written to the cache
here too, so remote workers never need access to it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cotgen.acoustics.feature_cache import FeatureCache, content_hash
from cotgen.acoustics.rows import Row, empty_row, measure_batch
from cotgen.acoustics.settings import DEFAULT_SETTINGS, FEATURE_COLUMNS, AnalysisSettings
from cotgen.acoustics.table import FeatureTable
from cotgen.core.audio import audio_header_problem
from cotgen.core.errors import CotgenError
from cotgen.core.id_index import IdColumnBuilder
from cotgen.core.limits import MAX_AUDIO_SECONDS
from cotgen.core.orphans import die_with
from cotgen.core.spool import RowFile

T = TypeVar("T")
MAX_BATCH = 8  # items per task: small enough that the last tasks do not leave cores idle
TASKS_PER_WORKER = 6


def batch_size(n_items: int, workers: int) -> int:
    """Items per task: about TASKS_PER_WORKER tasks per worker, at most MAX_BATCH, at least 1."""
    return max(1, min(MAX_BATCH, math.ceil(n_items / (workers * TASKS_PER_WORKER))))


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("features"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


@contextmanager
def _default_executor(workers: int) -> Iterator[Executor]:
    # forkserver, not fork: forking a process that runs Praat's and rich's threads can deadlock the child.
    # The server imports the extractor once, so each worker starts as a cheap fork instead of a fresh
    # interpreter importing numpy and Praat (about a second of CPU per worker with spawn).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cotgen.acoustics.extract"])
    # Each worker exits when this process does, even by kill -9 (cotgen.core.orphans).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with, initargs=(os.getpid(),))
    with pool:
        yield pool


def _values(row: Row) -> dict[str, Any]:
    return {name: row[name] for name in (*FEATURE_COLUMNS, "error")}


class _Columns:
    """The table's values, written to disk row by row as results arrive: no dict, nor the matrix, in memory."""

    def __init__(self, n: int) -> None:
        self.values = RowFile(n, len(FEATURE_COLUMNS))
        self.errors: dict[int, str] = {}

    def set(self, index: int, values: Row) -> None:
        self.values[index] = [np.nan if values[name] is None else values[name] for name in FEATURE_COLUMNS]
        if values["error"] is not None:
            self.errors[index] = values["error"]


def extract_features(
    items: Sequence[tuple[str, str]],
    workers: int | None = None,
    cache_dir: Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    settings: AnalysisSettings = DEFAULT_SETTINGS,
    max_audio_seconds: float = MAX_AUDIO_SECONDS,
) -> pd.DataFrame:
    """One row per (id, audio path), in input order: ``id``, FEATURE_COLUMNS, ``error`` (None when fine).

    A file whose header promises more than it holds or more than ``max_audio_seconds`` gets its error row here,
    from the header, before any worker reads it (not cached: raising the cap measures it on the next run).

    ``workers`` defaults to all cores; 1 runs in this process. ``cache_dir`` None disables the cache.
    ``executor`` (e.g. ``distributed.Client.get_executor()``) replaces the local process pool.
    """
    return measure_table(items, len(items), workers, cache_dir, executor, progress, settings, max_audio_seconds).frame()


def measure_table(
    items: Iterable[tuple[str, str]],
    total: int,
    workers: int | None = None,
    cache_dir: Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    settings: AnalysisSettings = DEFAULT_SETTINGS,
    max_audio_seconds: float = MAX_AUDIO_SECONDS,
) -> FeatureTable:
    """:func:`extract_features` as a compact :class:`FeatureTable`, from ``total`` items read once, in order.

    The items may be a stream (a build reads them back from ``utterances.jsonl``): only the items being
    measured are held, so the stage keeps 21 numbers per utterance, not its id and path as well.
    """
    columns = _Columns(total)
    ids = IdColumnBuilder()
    cache = FeatureCache(cache_dir, settings) if cache_dir is not None else None
    workers = workers or os.cpu_count() or 1
    sharing: dict[int, list[int]] = {}  # computed item -> the items with the same audio content (itself first)
    digests: dict[int, str] = {}

    with _progress_bar(progress) as bar:
        task = bar.add_task("features", total=total)

        def settle(index: int, values: Row) -> None:
            columns.set(index, values)
            bar.advance(task)

        def to_compute() -> Iterator[tuple[int, tuple[str, str]]]:
            """Items that need an analysis, found while hashing, so work starts before hashing ends."""
            first_with_digest: dict[str, int] = {}
            for index, (item_id, path) in enumerate(items):
                item_id, path = str(item_id), str(path)
                if index >= total:
                    raise CotgenError(f"more than the {total} audio items announced (the corpus changed meanwhile)")
                ids.add(item_id)
                refused = audio_header_problem(path, max_audio_seconds)
                if refused is not None:
                    settle(index, empty_row(item_id, refused))
                    continue
                if cache is None:
                    sharing[index] = [index]
                    yield index, (item_id, path)
                    continue
                try:
                    digest = content_hash(path)
                except FileNotFoundError:
                    settle(index, empty_row(item_id, "missing file"))
                    continue
                except OSError as exc:
                    settle(index, empty_row(item_id, f"unreadable file ({exc.strerror})"))
                    continue
                hit = cache.get(digest)
                if hit is not None:
                    settle(index, hit)
                elif digest in first_with_digest:
                    sharing[first_with_digest[digest]].append(index)
                else:
                    first_with_digest[digest] = index
                    digests[index] = digest
                    sharing[index] = [index]
                    yield index, (item_id, path)

        def record(index: int, row: Row) -> None:
            for same in sharing[index]:
                settle(same, row)
            if cache is not None:
                cache.put(digests[index], _values(row))

        if executor is None and workers == 1:
            for index, item in to_compute():
                record(index, measure_batch([item], settings)[0])
        else:
            size = batch_size(total, workers)
            with _default_executor(workers) if executor is None else _borrowed(executor) as pool:
                futures: dict[Future[list[Row]], list[tuple[int, tuple[str, str]]]] = {}
                for batch in _chunks(to_compute(), size):
                    futures[pool.submit(measure_batch, [item for _, item in batch], settings)] = batch
                lost: list[tuple[int, tuple[str, str]]] = []
                for future in as_completed(futures):
                    try:
                        batch_rows = future.result()
                    except BrokenProcessPool:
                        lost.extend(futures[future])  # keep collecting the batches that did finish
                        continue
                    for (index, _), row in zip(futures[future], batch_rows):
                        record(index, row)
            if lost:
                raise CotgenError(
                    f"a feature worker process died (crashed or ran out of memory); files not measured: {len(lost)} "
                    f"(e.g. {lost[0][1][1]}); finished results are cached: rerun to continue, "
                    "or with --workers 1 to find the file"
                )
    if len(ids) != total:
        raise CotgenError(f"{len(ids)} audio items where {total} were announced (the corpus changed meanwhile)")
    return FeatureTable(ids.array(), columns.values, columns.errors)


def _chunks(indices: Iterator[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` elements (the last may be shorter), as the iterator produces them."""
    chunk: list[T] = []
    for index in indices:
        chunk.append(index)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _borrowed(executor: Executor) -> Iterator[Executor]:
    """The caller's executor, left open: its owner decides when to shut it down."""
    yield executor
