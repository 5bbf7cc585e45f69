"""LLaMA-Factory export held to its sharegpt converter's rules and to ``dataset_info.json`` registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_export_fixtures import column_shapes, load_rows, make_run

from cotgen.export.writer import export_run


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_run(tmp_path_factory.mktemp("lf"))
    return export_run(run, "llamafactory", audio="relative").out_dir


def _info(out: Path) -> dict:
    return json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))


def test_dataset_info_registers_exactly_the_files_written(exported: Path) -> None:
    info = _info(exported)
    written = {p.name for p in exported.glob("*.jsonl")}
    assert {entry["file_name"] for entry in info.values()} == written
    assert not any(name.startswith("grpo") for name in written)
    for name, entry in info.items():
        assert name == f"cotgen_{entry['file_name'].removesuffix('.jsonl')}"
        assert entry["formatting"] == "sharegpt"
        assert entry["tags"]["system_tag"] == "system" and entry["tags"]["role_tag"] == "role"
        assert entry.get("ranking", False) == entry["file_name"].startswith("dpo")


def test_registered_columns_exist_and_tags_match_the_audio_lists(exported: Path, tmp_path: Path) -> None:
    for entry in _info(exported).values():
        rows = load_rows(exported / entry["file_name"], tmp_path)
        assert rows
        tags = entry["tags"]
        for row in rows:
            assert set(entry["columns"].values()) <= set(row)
            messages = row[entry["columns"]["messages"]]
            user_text = "".join(m[tags["content_tag"]] for m in messages if m[tags["role_tag"]] == tags["user_tag"])
            assert user_text.count("<audio>") == len(row["audios"]) == 1
            assert user_text.startswith("<audio>")


def test_roles_follow_the_sharegpt_converter(exported: Path, tmp_path: Path) -> None:
    for row in load_rows(exported / "sft_train.jsonl", tmp_path):
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    for row in load_rows(exported / "dpo_train.jsonl", tmp_path):
        assert [m["role"] for m in row["messages"]] == ["system", "user"]
        assert isinstance(row["chosen"], dict) and isinstance(row["rejected"], dict)
        assert row["chosen"]["role"] == row["rejected"]["role"] == "assistant"
        assert row["chosen"]["content"] != row["rejected"]["content"]


def test_relative_audio_paths_resolve_against_the_dataset_info_folder(exported: Path) -> None:
    for path in exported.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for audio in json.loads(line)["audios"]:
                assert not Path(audio).is_absolute()
                assert (exported / audio).is_file()


def test_columns_keep_one_shape(exported: Path) -> None:
    for path in exported.glob("*.jsonl"):
        assert all(len(kinds) == 1 for kinds in column_shapes(path).values())


def test_empty_splits_are_neither_written_nor_registered(tmp_path: Path) -> None:
    speakers = [("a", "F", "Train"), ("b", "M", "Train"), ("c", "F", "Test1")]
    run = make_run(tmp_path, corpus="msp-podcast", speakers=speakers)
    out = export_run(run, "llamafactory").out_dir
    names = {p.name for p in out.glob("*.jsonl")}
    assert names == {"sft_train.jsonl", "sft_test.jsonl", "dpo_train.jsonl", "dpo_test.jsonl"}
    assert {e["file_name"] for e in _info(out).values()} == names


def test_copy_mode_makes_the_export_self_contained(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = export_run(run, "llamafactory", audio="copy", out_dir=tmp_path / "lf").out_dir
    rows = [json.loads(line) for line in (out / "sft_train.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["audios"][0].startswith("audio/")
        assert (out / row["audios"][0]).is_file()
    for clip in (tmp_path / "clips").glob("*.wav"):
        clip.unlink()
    assert all((out / row["audios"][0]).is_file() for row in rows)
