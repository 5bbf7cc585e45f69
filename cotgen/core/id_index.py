"""A compact utterance-id → value lookup for joining records to their utterance at any run size.

The late stages join every record to something about its utterance (its split, its human
entropy, its majority class), and a build finds each utterance's gold trace in ``traces.jsonl``.
A dict keyed by id costs ~100 bytes an utterance in Python objects;
here the ids are one sorted numpy array of UTF-8 byte strings (the id's own length an utterance)
beside a numpy array of values, and a lookup is a binary search. Ids are collected in fixed-size
chunks, so building the index never holds a Python string per utterance either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

CHUNK = 1024


def encode_ids(ids: Iterable[str]) -> np.ndarray:
    """Ids as a numpy array of UTF-8 byte strings (fixed width: the longest id's)."""
    return np.array([i.encode("utf-8") for i in ids], dtype=np.bytes_)


class IdColumnBuilder:
    """Ids collected into one numpy column of UTF-8 byte strings, :data:`CHUNK` at a time, in the order added."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._chunks: list[np.ndarray] = []
        self._count = 0

    def add(self, utterance_id: str) -> None:
        self._ids.append(utterance_id)
        self._count += 1
        if len(self._ids) >= CHUNK:
            self._flush()

    def __len__(self) -> int:
        return self._count

    def _flush(self) -> None:
        if self._ids:
            self._chunks.append(encode_ids(self._ids))
            self._ids = []

    def array(self) -> np.ndarray:
        """Every id added, in order (fixed width: the longest id's)."""
        self._flush()
        return np.concatenate(self._chunks) if self._chunks else np.array([], dtype="S1")


class IdIndexBuilder:
    """Collects (id, value) pairs, in chunks of :data:`CHUNK`, into the arrays of an :class:`IdIndex`."""

    def __init__(self, dtype: DTypeLike) -> None:
        self.dtype = np.dtype(dtype)
        self._ids = IdColumnBuilder()
        self._values: list[Any] = []
        self._value_chunks: list[np.ndarray] = []

    def add(self, utterance_id: str, value: Any) -> None:
        """Record ``value`` for ``utterance_id``."""
        self._ids.add(utterance_id)
        self._values.append(value)
        if len(self._values) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._values:
            self._value_chunks.append(np.array(self._values, dtype=self.dtype))
            self._values = []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, values) in the order they were added."""
        self._flush()
        if not self._value_chunks:
            return np.array([], dtype="S1"), np.array([], dtype=self.dtype)
        return self._ids.array(), np.concatenate(self._value_chunks)

    def build(self) -> IdIndex:
        """The lookup over everything added."""
        return IdIndex.from_arrays(*self.arrays())


class IdIndex:
    """Values looked up by utterance id: a binary search over sorted byte-string ids."""

    def __init__(self, sorted_ids: np.ndarray, values: np.ndarray) -> None:
        self.ids = sorted_ids
        self.values = values

    @classmethod
    def from_arrays(cls, ids: np.ndarray, values: np.ndarray) -> IdIndex:
        """An index over ids in any order (a stable sort keeps the first of a repeated id first)."""
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], values[order])

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, utterance_id: str) -> int | None:
        """Where ``utterance_id`` sits in :attr:`ids`, or None when it is not indexed."""
        key = utterance_id.encode("utf-8")
        at = int(np.searchsorted(self.ids, key))
        # Comparing bytes (not the array's fixed-width cast) keeps an id longer than every indexed one unmatched.
        return at if at < len(self.ids) and self.ids[at] == key else None

    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """Vectorised :meth:`position` for many ids: -1 where an id is not indexed."""
        keys = encode_ids(ids)
        if not len(self.ids) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, keys), len(self.ids) - 1)
        return np.where(self.ids[at] == keys, at, -1)

    def get(self, utterance_id: str) -> Any | None:
        """The value for ``utterance_id``, or None when it is not indexed."""
        at = self.position(utterance_id)
        return None if at is None else self.values[at]
