"""The ``features.parquet`` table: one row per utterance, ``id``, the feature columns, ``error``.

The Arrow schema is written explicitly so the file's types never depend on the data (an all-fine
run would otherwise store ``error`` as a null-typed column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cotgen.acoustics.settings import FEATURE_COLUMNS
from cotgen.core.errors import CotgenError
from cotgen.core.spool import RowFile

FEATURES_FILE = "features.parquet"
TABLE_COLUMNS = ["id", *FEATURE_COLUMNS, "error"]
ARROW_SCHEMA = pa.schema(
    [pa.field("id", pa.string(), nullable=False)]
    + [pa.field(name, pa.float64()) for name in FEATURE_COLUMNS]
    + [pa.field("error", pa.string())]
)


# Rows written per row group: the writer converts one block at a time, so writing costs a block, not the table.
WRITE_BLOCK = 8_192


@dataclass(frozen=True)
class FeatureTable:
    """The features of a corpus in input order: the values a float64 matrix on disk, no Python object per row.

    A build keeps this through teaching (the cue profile of each utterance is derived from its row when it
    comes up): a pandas frame with an ``id`` and an ``error`` object per row and its values took about
    0.7 KB per utterance, the matrix alone 0.17 KB. ``errors`` holds only the rows that could not be measured.
    """

    ids: np.ndarray  # UTF-8 bytes, fixed width, in input order
    values: RowFile  # (rows, FEATURE_COLUMNS), NaN = not measured
    errors: dict[int, str]  # row -> why its audio could not be measured

    def __len__(self) -> int:
        return int(self.ids.size)

    def id_list(self) -> list[str]:
        return [i.decode() for i in self.ids.tolist()]

    def error_list(self) -> list[str | None]:
        """The ``error`` column: the reason, or None for a measured row."""
        return [self.errors.get(row) for row in range(len(self))]

    def frame(self) -> pd.DataFrame:
        """The table as ``features.parquet`` holds it: ``id``, the feature columns, ``error``."""
        values = self.values.block(0, len(self))
        columns = {name: values[:, i] for i, name in enumerate(FEATURE_COLUMNS)}
        return columns_to_frame(self.id_list(), columns, self.error_list())

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> FeatureTable:
        """A frame with the table's columns (as :meth:`frame` gives) as a table."""
        errors = {row: str(error) for row, error in enumerate(frame["error"]) if error is not None and error == error}
        ids = np.array([str(i).encode() for i in frame["id"]], dtype=bytes)
        return cls(ids, RowFile.of(frame[FEATURE_COLUMNS].to_numpy(dtype="float64")), errors)


def columns_to_frame(ids: Sequence[str], columns: dict[str, np.ndarray], errors: Sequence[str | None]) -> pd.DataFrame:
    """The table with its columns in order: ``id`` and ``error`` as objects (None when fine), features float64.

    Built from whole columns, never from a dict per row: at 100,000 utterances a list of row dicts
    costs about 150 MB where the columns take 20 MB.
    """
    frame = pd.DataFrame({"id": pd.Series(list(ids), dtype=object)})
    for name in FEATURE_COLUMNS:
        frame[name] = np.asarray(columns[name], dtype="float64")
    frame["error"] = pd.Series(list(errors), dtype=object)
    return frame


def write_features(path: Path, table: FeatureTable | pd.DataFrame) -> None:
    """Write the table atomically (temporary file renamed into place), a block of rows at a time."""
    if isinstance(table, pd.DataFrame):
        table = FeatureTable.of_frame(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, ARROW_SCHEMA) as writer:
        for start in range(0, max(len(table), 1), WRITE_BLOCK):
            rows = range(start, min(start + WRITE_BLOCK, len(table)))
            block = table.values.block(rows.start, rows.stop)
            arrays = [pa.array([i.decode() for i in table.ids[rows.start : rows.stop].tolist()], pa.string())]
            arrays += [pa.array(np.ascontiguousarray(block[:, i]), pa.float64()) for i in range(len(FEATURE_COLUMNS))]
            arrays.append(pa.array([table.errors.get(row) for row in rows], pa.string()))
            writer.write_table(pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA))
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
    columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in FEATURE_COLUMNS}
    return columns_to_frame(table.column("id").to_pylist(), columns, table.column("error").to_pylist())
