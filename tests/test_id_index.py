"""IdIndex: the compact id lookup the late stages join records through must agree with a dict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.core import id_index
from cotgen.core.id_index import IdIndexBuilder

# Ids as corpora spell them, plus the awkward cases: non-ASCII, one id a prefix of another, very long ones.
_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(_ids, st.integers(-100, 100), max_size=60), st.lists(_ids, max_size=20))
def test_lookups_agree_with_a_dict(entries: dict[str, int], probes: list[str]) -> None:
    builder = IdIndexBuilder(np.int64)
    for key, value in entries.items():
        builder.add(key, value)
    index = builder.build()
    assert len(index) == len(entries)
    for key in [*entries, *probes]:
        expected = entries.get(key)
        assert (None if index.get(key) is None else int(index.get(key))) == expected
    positions = index.positions([*entries, *probes])
    found = [None if at < 0 else int(index.values[at]) for at in positions]
    assert found == [entries.get(key) for key in [*entries, *probes]]


def test_ids_added_over_several_chunks_keep_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(id_index, "CHUNK", 7)
    builder = IdIndexBuilder(np.float64)
    entries = {f"utt_{'x' * (i % 5)}{i}": i / 10 for i in range(50)}
    for key, value in entries.items():
        builder.add(key, value)
    ids, values = builder.arrays()
    assert [raw.decode() for raw in ids] == list(entries) and values.tolist() == list(entries.values())
    index = builder.build()
    assert all(index.get(key) == value for key, value in entries.items())
    assert index.get("utt_") is None and index.get("utt_xxxxx" * 20) is None


def test_an_empty_index_finds_nothing() -> None:
    index = IdIndexBuilder(np.int8).build()
    assert len(index) == 0 and index.get("a") is None
    assert index.positions(["a", "b"]).tolist() == [-1, -1]
