"""The features stage of a run: utterances in, ``features.parquet`` out, locally or on a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from cotgen.acoustics.parallel import extract_features
from cotgen.acoustics.table import FEATURES_FILE, write_features
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
    items = [(utt.id, utt.audio) for utt in utterances]
    return measure_and_write(items, out_dir, workers, cache_dir, dask_scheduler, progress, max_audio_seconds)


def measure_and_write(
    items: Sequence[tuple[str, str]],
    out_dir: Path,
    workers: int | None = None,
    cache_dir: Path | None = None,
    dask_scheduler: str | None = None,
    progress: bool = True,
    max_audio_seconds: float = MAX_AUDIO_SECONDS,
) -> pd.DataFrame:
    """:func:`run_features_stage` from (id, audio path) pairs, for a caller that no longer holds the records."""
    cache = default_cache_dir(cache_dir)
    if dask_scheduler:
        with dask_executor(dask_scheduler) as executor:
            frame = extract_features(
                items, cache_dir=cache, executor=executor, progress=progress, max_audio_seconds=max_audio_seconds
            )
    else:
        frame = extract_features(
            items, workers=workers, cache_dir=cache, progress=progress, max_audio_seconds=max_audio_seconds
        )
    write_features(Path(out_dir) / FEATURES_FILE, frame)
    return frame
