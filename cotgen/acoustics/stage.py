"""The features stage of a run: utterances in, ``features.parquet`` out, locally or on a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from cotgen.acoustics.parallel import measure_table
from cotgen.acoustics.table import FEATURES_FILE, FeatureTable, write_features
from cotgen.core.errors import CotgenError
from cotgen.core.limits import MAX_AUDIO_SECONDS
from cotgen.core.paths import cache_dir as default_cache_dir
from cotgen.records.utterance import Utterance


@contextmanager
def dask_executor(address: str) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor backed by the Dask scheduler at ``address`` (needs ``cotgen[dask]``)."""
    try:
        from distributed import Client
    except ImportError:
        raise CotgenError("--dask-scheduler needs Dask: pip install 'cotgen[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise CotgenError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    with client:
        yield client.get_executor()


def run_features_stage(
    utterances: Sequence[Utterance],
    out_dir: Path,
    workers: int | None = None,
    cache_dir: Path | None = None,
    dask_scheduler: str | None = None,
    progress: bool = True,
    max_audio_seconds: float = MAX_AUDIO_SECONDS,
) -> pd.DataFrame:
    """Measure every utterance (cached results reused) and write ``out_dir/features.parquet``.

    ``cache_dir`` None means the shared cotgen cache (``${XDG_CACHE_HOME:-~/.cache}/cotgen``).
    """
    items = ((utt.id, utt.audio) for utt in utterances)
    table = measure_and_write(
        items, len(utterances), out_dir, workers, cache_dir, dask_scheduler, progress, max_audio_seconds
    )
    return table.frame()


def measure_and_write(
    items: Iterable[tuple[str, str]],
    total: int,
    out_dir: Path,
    workers: int | None = None,
    cache_dir: Path | None = None,
    dask_scheduler: str | None = None,
    progress: bool = True,
    max_audio_seconds: float = MAX_AUDIO_SECONDS,
) -> FeatureTable:
    """:func:`run_features_stage` from ``total`` (id, audio path) pairs read once, for a caller that holds no
    records (a build streams them from ``utterances.jsonl``); the compact table, not a frame."""
    cache = default_cache_dir(cache_dir)
    if dask_scheduler:
        with dask_executor(dask_scheduler) as executor:
            table = measure_table(
                items, total, cache_dir=cache, executor=executor, progress=progress, max_audio_seconds=max_audio_seconds
            )
    else:
        table = measure_table(
            items, total, workers=workers, cache_dir=cache, progress=progress, max_audio_seconds=max_audio_seconds
        )
    write_features(Path(out_dir) / FEATURES_FILE, table)
    return table
