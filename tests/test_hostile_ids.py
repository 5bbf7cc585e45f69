"""Ids are safe keys: hostile ids are dropped with a reason at load, twins are reported, id lists round-trip.

Ids holding a line break of any kind, a NUL or a bidi override, ids with a leading ``#``, and
NFC/NFD twins go into a manifest; the load must name each one's problem, and a folds export of what is left
must list every kept id in exactly one fold's ``test.ids``, read back exactly by both id list readers.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cotgen.core.ids import id_line, id_problem, normal_id, parse_id_list
from cotgen.core.inert import visible
from cotgen.core.paths import CORPORA_DIR
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import DUPLICATE_ID, ID_TWIN, INVALID_ID
from cotgen.predict.selection import ids_from_file
from cotgen.scoring.evaluate import read_ids

DEMO = CORPORA_DIR / "demo"
CAFE_NFC = unicodedata.normalize("NFC", "café-7")
CAFE_NFD = unicodedata.normalize("NFD", "café-7")
# Hostile ids the load must refuse, each with a word its reason must contain.
REFUSED = {
    "two\nlines": "U+000A",
    "para\u2029graph": "U+2029",
    "next\x85line": "U+0085",
    "line\u2028sep": "U+2028",
    "nul\x00": "U+0000",
    "bidi\u202eevil": "U+202E",
    "#commented": "'#'",
    "x" * 600: "600 characters",
}
# Odd but accepted: each must survive every file exactly.
ACCEPTED = ["{brace", "quote\"and'apos", "tab-free space inside", "ünï-çødé", "数据-1", "a" * 300, "UPPER", "upper"]


def _manifest(tmp_path: Path) -> Path:
    """The demo clips under hostile and odd ids (the same clips repeat, so their features are cached)."""
    with (DEMO / "manifest.csv").open(encoding="utf-8") as handle:
        demo = list(csv.DictReader(handle))
    ids = [*ACCEPTED, CAFE_NFD, CAFE_NFC, *REFUSED, "dup", "dup"]
    path = tmp_path / "m.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo[0]))
        writer.writeheader()
        for i, uid in enumerate(ids):
            row = dict(demo[i % len(demo)], id=uid)
            row["audio"] = str(DEMO / row["audio"])
            row["speaker"], row["session"] = f"s{i % 4}", str(i % 4)
            writer.writerow(row)
    return path


def test_hostile_ids_are_dropped_with_their_reason_and_twins_reported(tmp_path: Path) -> None:
    load = load_corpus("manifest", _manifest(tmp_path))
    kept = [u.id for u in load.utterances]
    assert kept == [*ACCEPTED, CAFE_NFC, "dup"]  # the NFD spelling came first and is kept, in NFC
    invalid = [d for d in load.dropped if d.reason == INVALID_ID]
    assert len(invalid) == len(REFUSED)
    for dropped, word in zip(invalid, REFUSED.values()):
        assert word in dropped.detail
        assert all(unicodedata.category(ch) not in ("Cc", "Zl", "Zp", "Cf") for ch in dropped.detail)
    assert [d.reason for d in load.dropped if d.reason in (ID_TWIN, DUPLICATE_ID)] == [ID_TWIN, DUPLICATE_ID]


def test_fold_id_lists_round_trip_every_kept_id(tmp_path: Path, cotgen, cache: Path) -> None:
    run, out = tmp_path / "run", tmp_path / "exp"
    manifest = _manifest(tmp_path)
    built = cotgen("build", "--corpus", "manifest", "--root", str(manifest), "--out", str(run), "--cache", str(cache))
    assert built.code == 0, built.err
    exported = cotgen("export", "--in", str(run), "--format", "trl", "--split", "loso:all", "--out", str(out))
    assert exported.code == 0, exported.err
    kept = {json.loads(line)["id"] for line in (run / "utterances.jsonl").read_text(encoding="utf-8").splitlines()}
    assert kept == {*ACCEPTED, CAFE_NFC, "dup"}
    folds = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folds) == 4
    tested: list[str] = []
    for fold in folds:
        test = read_ids(fold / "test.ids")
        assert test == set(ids_from_file(fold / "test.ids"))
        train = {i for name in ("train.ids", "validation.ids") for i in parse_id_list((fold / name).read_text("utf-8"))}
        assert not test & train and test | train == kept
        tested += test
    assert sorted(tested) == sorted(kept)  # each id tested in exactly one fold


def test_an_id_that_would_not_read_back_is_never_listed() -> None:
    for bad in [*REFUSED, "", " padded", "padded\t"]:
        with pytest.raises(ValueError, match="cannot list id"):
            id_line(bad)
    assert "whitespace" in str(id_problem(" padded"))  # a manifest strips its cells; other recipes may not


@given(st.lists(st.text(min_size=1, max_size=40), max_size=20))
def test_every_accepted_id_round_trips_an_id_list(candidates: list[str]) -> None:
    ids = [normal_id(c) for c in candidates if id_problem(c) is None]
    text = "# written by a test\n" + "".join(id_line(i) for i in ids)
    assert parse_id_list(text) == ids
    assert parse_id_list(text.replace("\n", "\r\n")) == ids  # an id list saved with Windows line ends


@given(st.text(max_size=30))
def test_visible_text_has_no_control_character_left(text: str) -> None:
    shown = visible(text)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in shown)
    assert (shown == text) == all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text)
