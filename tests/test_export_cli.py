"""``cotgen export`` through the CLI: options, errors, run.json bookkeeping and the refreshed cards."""

from __future__ import annotations

import json
from pathlib import Path

from test_export_fixtures import make_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError


def _invoke(*args: str):
    return CliRunner().invoke(get_app(), list(args))


def test_export_writes_the_default_folder_and_records_itself(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="iemocap")
    result = _invoke("export", "--format", "swift", "--in", str(run))
    assert result.exit_code == 0, result.output
    out = run / "export" / "swift"
    assert (out / "sft_test.jsonl").exists() and not (out / "grpo_validation.jsonl").exists()  # no validation set
    info = json.loads((run / "run.json").read_text())
    assert info["owner_key"] == "kept" and info["config"]["corpus"] == "iemocap"
    assert info["export"]["swift"]["split"] == "loso:5"
    assert info["export"]["swift"]["utterances_per_split"] == {"train": 12, "validation": 0, "test": 3}
    assert info["export"]["swift"]["description"] == (
        "leave one session out: tests on session 5 and trains on the other 4 sessions (1, 2, 3, 4); no validation set"
    )
    assert "trains on the other 4 sessions" in " ".join(result.output.split())
    test_ids = {json.loads(line)["id"] for line in (out / "sft_test.jsonl").read_text().splitlines()}
    assert test_ids == {"s5_00", "s5_01", "s5_02"}
    assert "configs:" in (run / "README.md").read_text() and "sft_train.jsonl" in (out / "README.md").read_text()


def test_a_second_format_keeps_the_first_in_run_json(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    assert _invoke("export", "--format", "trl", "--in", str(run)).exit_code == 0
    assert _invoke("export", "--format", "llamafactory", "--in", str(run), "--split", "loso:2").exit_code == 0
    exports = json.loads((run / "run.json").read_text())["export"]
    assert set(exports) == {"trl", "llamafactory"}
    assert exports["llamafactory"]["split"] == "loso:2"


def test_bad_options_are_one_line_user_errors(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    for args, message in (
        (["--format", "axolotl"], "--format 'axolotl'"),
        (["--format", "trl", "--audio", "symlink"], "--audio 'symlink'"),
        (["--format", "trl", "--split", "loso:9"], "no such session"),
    ):
        result = _invoke("export", "--in", str(run), *args)
        assert isinstance(result.exception, CotgenError)
        assert message in str(result.exception) and "\n" not in str(result.exception)


def test_a_missing_run_folder_is_named(tmp_path: Path) -> None:
    result = _invoke("export", "--format", "trl", "--in", str(tmp_path / "nope"))
    assert isinstance(result.exception, CotgenError) and "nope" in str(result.exception)


def test_a_malformed_record_names_its_file_and_line(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with (run / "sft.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"id": "broken"}\n')
    result = _invoke("export", "--format", "trl", "--in", str(run))
    assert isinstance(result.exception, CotgenError)
    assert "sft.jsonl:16" in str(result.exception)
