"""The on-disk list a corpus load keeps its records in (cotgen.core.spool): what goes in comes back, in order."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from cotgen.core import spool as spool_module
from cotgen.core.spool import RowFile, Spool

records = st.lists(
    st.one_of(
        st.text(max_size=50), st.dictionaries(st.text(max_size=5), st.floats(allow_nan=False)), st.binary(max_size=300)
    ),
    max_size=40,
)


@given(records)
@settings(max_examples=60, deadline=None)
def test_a_spool_gives_back_what_was_appended_in_order_and_by_position(values: list) -> None:
    spooled: Spool = Spool()
    for value in values:
        spooled.append(value)
    assert len(spooled) == len(values)
    assert list(spooled) == values
    assert spooled == values
    assert [spooled[i] for i in range(len(values))] == values
    assert [spooled[-i] for i in range(1, len(values) + 1)] == [values[-i] for i in range(1, len(values) + 1)]
    assert spooled[1:7:2] == values[1:7:2]
    spooled.close()


def test_reads_in_blocks_cross_record_boundaries_and_may_interleave(monkeypatch) -> None:
    monkeypatch.setattr(spool_module, "READ_AHEAD", 64)  # a few records per block, some larger than a block
    values = [("x" * (i * 7 % 150), i) for i in range(200)]
    spooled: Spool = Spool()
    for value in values:
        spooled.append(value)
    assert list(spooled) == values
    # Two iterations at once, and appends after a read: no shared file position between them.
    assert [(a, b) for a, b in zip(spooled, spooled)] == list(zip(values, values))
    spooled.append(("late", -1))
    assert spooled[-1] == ("late", -1) and list(spooled)[-2:] == [values[-1], ("late", -1)]


def test_an_index_past_either_end_raises_index_error() -> None:
    spooled: Spool = Spool()
    spooled.append(1)
    for index in (1, -2):
        try:
            spooled[index]
        except IndexError:
            continue
        raise AssertionError(f"index {index} should be out of range")
    assert spooled != [2] and spooled != [1, 1] and not Spool()


def test_a_row_file_gives_back_each_row_of_the_matrix_bit_for_bit() -> None:
    matrix = np.random.default_rng(0).normal(size=(37, 21))
    matrix[3, 5] = np.nan
    matrix[10] = np.inf
    rows = RowFile.of(matrix)
    assert len(rows) == 37
    for i in (0, 3, 10, 36, -1):
        assert rows[i].tobytes() == matrix[i].tobytes()
    for bad in (37, -38):
        with pytest.raises(IndexError):
            rows[bad]


def test_a_row_file_is_filled_row_by_row_in_any_order_and_read_back_by_blocks_and_columns(monkeypatch) -> None:
    monkeypatch.setattr(spool_module, "BLOCK_ROWS", 4)  # several blocks, the last one short
    matrix = np.random.default_rng(1).normal(size=(11, 3))
    rows = RowFile(11, 3)
    assert np.isnan(rows.block(0, 11)).all()  # not measured until written
    for i in (7, 0, 10, 3, 1, 2, 4, 5, 6, 8, 9):
        rows[i] = matrix[i]
    assert rows.block(0, 11).tobytes() == matrix.tobytes()
    assert rows.block(9, 50).tobytes() == matrix[9:].tobytes() and rows.block(5, 5).shape == (0, 3)
    assert [c.tobytes() for c in rows.columns([2, 0])] == [matrix[:, 2].tobytes(), matrix[:, 0].tobytes()]
    rows.block(0, 2)[0, 0] = 99.0  # a block is the caller's copy
    assert rows[0].tobytes() == matrix[0].tobytes()
    with pytest.raises(ValueError):
        rows[0] = [1.0, 2.0]
    assert len(RowFile(0, 3)) == 0 and RowFile(0, 3).columns([1])[0].size == 0
