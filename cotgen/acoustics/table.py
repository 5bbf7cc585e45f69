"""The ``features.parquet`` table: one row per utterance, ``id``, the feature columns, ``error``.

The Arrow schema is written explicitly so the file's types never depend on the data (an all-fine
run would otherwise store ``error`` as a null-typed column).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cotgen.acoustics.settings import FEATURE_COLUMNS
from cotgen.errors import CotgenError

FEATURES_FILE = "features.parquet"
TABLE_COLUMNS = ["id", *FEATURE_COLUMNS, "error"]
ARROW_SCHEMA = pa.schema(
    [pa.field("id", pa.string(), nullable=False)]
    + [pa.field(name, pa.float64()) for name in FEATURE_COLUMNS]
    + [pa.field("error", pa.string())]
)


def rows_to_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame with the table's columns in order: ``id`` and ``error`` as objects, features float64."""
    frame = pd.DataFrame(list(rows), columns=TABLE_COLUMNS)
    frame[FEATURE_COLUMNS] = frame[FEATURE_COLUMNS].astype("float64")
    frame["id"] = frame["id"].astype(object)
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame


def write_features(path: Path, frame: pd.DataFrame) -> None:
    """Write the table atomically (temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame[TABLE_COLUMNS], schema=ARROW_SCHEMA, preserve_index=False)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def read_features(path: Path) -> pd.DataFrame:
    """Read a features table, checking that it has the columns this version writes."""
    if not path.exists():
        raise CotgenError(f"{path}: no such file (run `cotgen features` or `cotgen build` first)")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise CotgenError(f"{path}: not a readable parquet file ({exc})") from None
    missing = [name for name in TABLE_COLUMNS if name not in table.column_names]
    if missing:
        raise CotgenError(f"{path}: missing columns {missing}; expected {TABLE_COLUMNS} (rerun `cotgen features`)")
    return rows_to_frame(table.select(TABLE_COLUMNS).to_pylist())
