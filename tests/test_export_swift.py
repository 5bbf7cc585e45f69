"""ms-swift export: ``messages`` + ``audios``, ``rejected_response`` for DPO, reward columns for GRPO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_export_fixtures import column_shapes, load_rows, make_run

from cotgen.export.writer import export_run


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = make_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    return export_run(run, "swift", audio="relative").out_dir


def test_every_file_loads_with_tags_matching_audios(exported: Path, tmp_path: Path) -> None:
    files = sorted(exported.glob("*.jsonl"))
    assert {p.name.split("_")[0] for p in files} == {"sft", "dpo", "grpo"}
    for path in files:
        rows = load_rows(path, tmp_path / "cache")
        assert rows
        for row in rows:
            tags = sum(m["content"].count("<audio>") for m in row["messages"])
            assert tags == len(row["audios"]) == 1


def test_roles_end_where_each_stage_needs_them(exported: Path, tmp_path: Path) -> None:
    for row in load_rows(exported / "sft_train.jsonl", tmp_path / "c1"):
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    for row in load_rows(exported / "dpo_train.jsonl", tmp_path / "c2"):
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["rejected_response"] and row["rejected_response"] != row["messages"][-1]["content"]
    for row in load_rows(exported / "grpo_train.jsonl", tmp_path / "c3"):
        assert [m["role"] for m in row["messages"]] == ["system", "user"]
        assert set(row["target_distribution"]) == {"neu", "hap", "ang", "sad"}
        assert row["gold_trace"].startswith("<acoustic>")


def test_relative_paths_resolve_from_the_working_directory(exported: Path, tmp_path: Path) -> None:
    for path in exported.glob("*.jsonl"):
        assert all(len(kinds) == 1 for kinds in column_shapes(path).values())
        for line in path.read_text(encoding="utf-8").splitlines():
            for audio in json.loads(line)["audios"]:
                assert not Path(audio).is_absolute() and (tmp_path / audio).is_file()


def test_pairs_whose_texts_match_are_skipped_not_exported(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    dpo = run / "dpo.jsonl"
    lines = dpo.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["rejected"] = first["chosen"]
    dpo.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    result = export_run(run, "swift")
    assert result.skipped == {"identical_pair": 1}
    assert sum(n for name, n in result.files.items() if name.startswith("dpo")) == len(lines) - 1


def test_label_mode_ends_both_answers_in_a_label_and_carries_the_target(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = export_run(run, "swift", answer="label").out_dir
    for row in load_rows(out / "dpo_train.jsonl", tmp_path / "cache"):
        for text in (row["messages"][-1]["content"], row["rejected_response"]):
            assert text.splitlines()[-1].startswith("Label: ") and text.count("Label: ") == 1
        assert abs(sum(row["target_distribution"].values()) - 1.0) < 1e-9


def test_records_whose_clip_is_missing_are_skipped_and_counted(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    (tmp_path / "clips" / "s2_01.wav").unlink()
    result = export_run(run, "swift")
    assert result.skipped == {"missing_audio": 3}
    exported_ids = {
        json.loads(line)["id"] for path in result.out_dir.glob("*.jsonl") for line in path.read_text().splitlines()
    }
    assert "s2_01" not in exported_ids and "s2_02" in exported_ids
    assert sum(result.files.values()) == 3 * 14
