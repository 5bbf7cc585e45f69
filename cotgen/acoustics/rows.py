"""Feature rows, and the unit of work that measures a batch of them in a worker.

Kept apart from :mod:`cotgen.acoustics.extract` so the process that hands out work (and reads the
cache) never imports Praat: only the workers that measure audio pay for Parselmouth (about 70 MB).
"""

from __future__ import annotations

from typing import Any

from cotgen.acoustics.settings import DEFAULT_SETTINGS, FEATURE_COLUMNS, AnalysisSettings

NAN = float("nan")
Row = dict[str, Any]


def empty_row(item_id: str, error: str, duration_s: float = NAN) -> Row:
    """A row of NaN features carrying the reason they are missing (duration kept when it is known)."""
    row: Row = {"id": item_id, **dict.fromkeys(FEATURE_COLUMNS, NAN), "error": error}
    row["duration_s"] = duration_s
    return row


def measure_batch(items: list[tuple[str, str]], settings: AnalysisSettings = DEFAULT_SETTINGS) -> list[Row]:
    """Rows for a batch of (id, path) pairs: what a pool or Dask worker runs (see :func:`extract.extract_batch`)."""
    # Imported on first call, in the worker: the dispatching process only pickles a reference to this
    # function and never loads Praat (the forkserver preloads the extractor, so workers start warm).
    from cotgen.acoustics.extract import extract_batch

    return extract_batch(items, settings)
