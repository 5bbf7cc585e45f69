"""Lists kept on disk: records appended once, then read back one at a time, in order or by position.

Why: a corpus of 100,000 utterances held as Python objects takes about 260 MB (2.6 KB each), the largest
thing a build ever held. Loading a corpus needs every entry twice (once to learn the ids and class codes,
once to make the records), and its callers read the records once or twice in order. A spool keeps the
records in an anonymous temporary file (deleted by the system when it is closed, even after a crash)
and only an 8-byte offset per record in memory, so the load costs the same memory for any corpus size.

Records are pickled: a record read back is equal to the one appended, whatever its fields hold.
The file is the process's own (unlinked at creation), so nothing unpickled comes from outside it.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar, overload

import numpy as np

T = TypeVar("T")

READ_AHEAD = 1 << 20  # bytes read at once when the records are read in order
BLOCK_ROWS = 8_192  # rows of a RowFile written or read at once


class Spool(Sequence[T], Generic[T]):
    """An append-only sequence of picklable records stored in a temporary file.

    Reading never moves a shared file position (``os.pread``), so several iterations may run at once.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="cotgen-spool-")
        self._offsets = array("q", [0])  # record i lies in [offsets[i], offsets[i + 1])
        self._unflushed = False

    def append(self, record: T) -> None:
        data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))
        self._unflushed = True

    def close(self) -> None:
        """Delete the file now rather than when the spool is collected."""
        self._file.close()

    def _fd(self) -> int:
        if self._unflushed:
            self._file.flush()
            self._unflushed = False
        return self._file.fileno()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _read(self, index: int) -> T:
        start, end = self._offsets[index], self._offsets[index + 1]
        return pickle.loads(os.pread(self._fd(), end - start, start))

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._read(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("spool index out of range")
        return self._read(index)

    def __iter__(self) -> Iterator[T]:
        """The records in order, read in blocks of about :data:`READ_AHEAD` bytes."""
        fd, n, i = self._fd(), len(self), 0
        while i < n:
            j = i + 1
            while j < n and self._offsets[j + 1] - self._offsets[i] <= READ_AHEAD:
                j += 1
            base = self._offsets[i]
            block = memoryview(os.pread(fd, self._offsets[j] - base, base))
            for k in range(i, j):
                yield pickle.loads(block[self._offsets[k] - base : self._offsets[k + 1] - base])
            i = j

    def __eq__(self, other: object) -> bool:
        """Equal to a sequence holding the same records in the same order (a list, another spool)."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list


class RowFile:
    """A float64 matrix kept in a temporary file: rows written and read by position, blocks and columns read whole.

    The features stage fills an utterance's 21 values as its result arrives and a build reads them once or
    twice, when the utterance comes up; the matrix in memory cost 0.17 KB per utterance for the whole build.
    """

    def __init__(self, rows: int, width: int) -> None:
        """A matrix of ``rows`` x ``width`` NaN (not measured)."""
        self.shape: tuple[int, int] = (rows, width)
        self._row_bytes = width * 8
        self._file = tempfile.TemporaryFile(prefix="cotgen-rows-")
        nan = np.full((min(rows, BLOCK_ROWS), width), np.nan)
        for start in range(0, rows, BLOCK_ROWS):
            self._file.write(memoryview(nan[: min(BLOCK_ROWS, rows - start)]).cast("B"))
        self._file.flush()

    @classmethod
    def of(cls, matrix: np.ndarray) -> RowFile:
        """The rows of a 2-D matrix."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"RowFile holds a 2-D matrix, not {matrix.ndim}-D")
        rows = cls(0, int(matrix.shape[1]))
        rows.shape = (int(matrix.shape[0]), rows.shape[1])
        rows._file.write(memoryview(matrix).cast("B"))  # the matrix's own buffer: no copy of it in memory
        rows._file.flush()
        return rows

    def __len__(self) -> int:
        return self.shape[0]

    def _position(self, index: int) -> int:
        if index < 0:
            index += self.shape[0]
        if not 0 <= index < self.shape[0]:
            raise IndexError("row index out of range")
        return index

    def __getitem__(self, index: int) -> np.ndarray:
        """Row ``index`` (a new array; negative positions count from the end)."""
        return self.block(self._position(index), self._position(index) + 1)[0]

    def __setitem__(self, index: int, row: Sequence[float] | np.ndarray) -> None:
        values = np.asarray(row, dtype=np.float64)
        if values.shape != (self.shape[1],):
            raise ValueError(f"a row of {self.shape[1]} values, not {values.shape}")
        os.pwrite(self._file.fileno(), values.tobytes(), self._position(index) * self._row_bytes)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` (clipped to the matrix) as a new array."""
        start, stop = max(0, start), min(stop, self.shape[0])
        if stop <= start:
            return np.empty((0, self.shape[1]))
        data = bytearray((stop - start) * self._row_bytes)  # writable, read into in place: no second copy
        if os.preadv(self._file.fileno(), [data], start * self._row_bytes) != len(data):
            raise OSError(f"{self._file.name}: rows {start}-{stop} could not be read back")
        return np.frombuffer(data, dtype=np.float64).reshape(stop - start, self.shape[1])

    def columns(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Whole columns, read a block of rows at a time (never the matrix at once)."""
        out = [np.empty(self.shape[0]) for _ in indices]
        for start in range(0, self.shape[0], BLOCK_ROWS):
            block = self.block(start, start + BLOCK_ROWS)
            for column, j in zip(out, indices):
                column[start : start + len(block)] = block[:, j]
        return out
