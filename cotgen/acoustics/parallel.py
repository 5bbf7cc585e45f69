"""Feature extraction over many files: cache first, then the misses in parallel with a progress bar.

Work goes to any ``concurrent.futures.Executor``: by default a process pool with one worker per core
(Praat holds the GIL, so threads would not run analyses in parallel), or an executor the caller
brings, such as a Dask cluster's. Files are hashed and the cache consulted in this process, so a
rerun over an unchanged corpus starts no worker at all and identical audio under several ids is
analysed once; results are written to the cache here too, so remote workers never need access to it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cotgen.acoustics.cache import FeatureCache, content_hash
from cotgen.acoustics.extract import Row, empty_row, extract_batch
from cotgen.acoustics.settings import DEFAULT_SETTINGS, FEATURE_COLUMNS, AnalysisSettings
from cotgen.acoustics.table import rows_to_frame

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
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield pool


def _values(row: Row) -> dict[str, Any]:
    return {name: row[name] for name in (*FEATURE_COLUMNS, "error")}


def extract_features(
    items: Sequence[tuple[str, str]],
    workers: int | None = None,
    cache_dir: Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    settings: AnalysisSettings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """One row per (id, audio path), in input order: ``id``, FEATURE_COLUMNS, ``error`` (None when fine).

    ``workers`` defaults to all cores; 1 runs in this process. ``cache_dir`` None disables the cache.
    ``executor`` (e.g. ``distributed.Client.get_executor()``) replaces the local process pool.
    """
    items = [(str(item_id), str(path)) for item_id, path in items]
    rows: list[Row | None] = [None] * len(items)
    cache = FeatureCache(cache_dir, settings) if cache_dir is not None else None
    # index of the item that is computed -> indices of the items sharing its audio content (itself included)
    pending: dict[int, list[int]] = {}
    first_with_digest: dict[str, int] = {}
    digests: dict[int, str] = {}
    for index, (item_id, path) in enumerate(items):
        if cache is None:
            pending[index] = [index]
            continue
        try:
            digest = content_hash(path)
        except FileNotFoundError:
            rows[index] = empty_row(item_id, "missing file")
            continue
        except OSError as exc:
            rows[index] = empty_row(item_id, f"unreadable file ({exc.strerror})")
            continue
        hit = cache.get(digest)
        if hit is not None:
            rows[index] = {"id": item_id, **hit}
        elif digest in first_with_digest:
            pending[first_with_digest[digest]].append(index)
        else:
            first_with_digest[digest] = index
            digests[index] = digest
            pending[index] = [index]

    def record(index: int, row: Row) -> None:
        for same in pending[index]:
            rows[same] = {**row, "id": items[same][0]}
        if cache is not None:
            cache.put(digests[index], _values(row))

    workers = workers or os.cpu_count() or 1
    todo = list(pending)
    with _progress_bar(progress and bool(todo)) as bar:
        task = bar.add_task("features", total=len(todo))
        if executor is None and workers == 1:
            for index in todo:
                record(index, extract_batch([items[index]], settings)[0])
                bar.advance(task)
        else:
            size = batch_size(len(todo), workers)
            batches = [todo[i : i + size] for i in range(0, len(todo), size)]
            with _default_executor(workers) if executor is None else _borrowed(executor) as pool:
                futures: dict[Future[list[Row]], list[int]] = {
                    pool.submit(extract_batch, [items[i] for i in batch], settings): batch for batch in batches
                }
                for future in as_completed(futures):
                    for index, row in zip(futures[future], future.result()):
                        record(index, row)
                    bar.advance(task, len(futures[future]))
    return rows_to_frame([row for row in rows if row is not None])


@contextmanager
def _borrowed(executor: Executor) -> Iterator[Executor]:
    """The caller's executor, left open: its owner decides when to shut it down."""
    yield executor
