"""JSONL through jsonlines (cotgen/core/jsonl.py): a bad line is named by file and line, nothing is skipped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotgen.core.durable_files import JsonlAppender, recover_jsonl, write_jsonl_atomic
from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_json_lines, iter_json_rows, iter_models
from cotgen.corpora.manifest import iter_jsonl
from cotgen.records.review import ReviewRecord


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_line_numbers_count_blank_lines_and_bad_lines_name_file_and_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "a.jsonl", b'{"id": "x"}\n\n   \n{"id": "y"}\n')
    assert list(iter_json_lines(good)) == [(1, {"id": "x"}), (4, {"id": "y"})]
    cases = {
        b'{"id": "x"}\n\n{"id": \n': ":3: not a JSON object (line contains invalid json",
        b'{"id": "x"}\n[1, 2]\n': ":2: not a JSON object (line does not match requested type",
        b'{"id": "x"}\n{"id": "\xff"}\n': ":2: not a JSON object (line is not valid utf-8",
        b"null\n": ":1: not a JSON object (line contains null value",
    }
    for data, expected in cases.items():
        path = _write(tmp_path / "bad.jsonl", data)
        with pytest.raises(CotgenError) as raised:
            list(iter_json_lines(path))
        assert str(raised.value).startswith(f"{path}{expected}"), str(raised.value)
        assert "\n" not in str(raised.value)


def test_rows_go_on_after_a_bad_line_and_a_manifest_drops_it_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", b'{"a": 1}\nnot json\n"text"\n{"a": 2}\n')
    rows = list(iter_json_rows(path))
    assert [(n, isinstance(v, str)) for n, v in rows] == [(1, False), (2, True), (3, True), (4, False)]
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    manifest = tmp_path / "manifest.jsonl"
    good = {"id": "u1", "audio": "x.wav", "transcript": "hi", "votes": "neu;hap"}
    manifest.write_text(f"{json.dumps(good)}\n{{broken\n{json.dumps({**good, 'id': 'u2'})}\n", encoding="utf-8")
    out = list(iter_jsonl(manifest))
    dropped = [e for e in out if type(e).__name__ == "Dropped"]
    assert len(out) == 3 and len(dropped) == 1
    assert dropped[0].where == f"{manifest}:2" and "invalid json" in dropped[0].detail


def test_models_are_validated_with_the_field_named(tmp_path: Path) -> None:
    mark = {"id": "u", "sample": 0, "verdict": "reject", "note": "", "reviewed_at": "2026-01-01T00:00:00Z"}
    path = _write(tmp_path / "r.jsonl", (json.dumps(mark) + "\n" + json.dumps({**mark, "verdict": "maybe"})).encode())
    with pytest.raises(CotgenError) as raised:
        list(iter_models(path, ReviewRecord))
    assert str(raised.value).startswith(f"{path}:2: not a valid ReviewRecord (verdict: ")


def test_writers_round_trip_models_and_mappings_byte_for_byte(tmp_path: Path) -> None:
    mark = ReviewRecord(id="é/ü", sample=1, verdict="flag", note="ß", reviewed_at="2026-01-01T00:00:00Z")
    path = tmp_path / "out.jsonl"
    assert write_jsonl_atomic(path, [mark, {"id": "ß", "n": 1}]) == 2
    assert path.read_text(encoding="utf-8") == mark.model_dump_json() + '\n{"id":"ß","n":1}\n'
    with JsonlAppender(tmp_path / "log.jsonl") as appender:
        appender.write(mark)
        # Flushed per line: another reader sees the line before the appender closes.
        assert recover_jsonl(tmp_path / "log.jsonl", ReviewRecord) == [mark]
