"""``cotgen publish`` with the Hub intercepted at ``HfApi`` (offline): licence rules, staging, audio, secrecy."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import datasets
import huggingface_hub
import pytest
import yaml
from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.errors import HfHubHTTPError
from test_export_fixtures import make_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.export.writer import export_run

SENTINEL = "hf_SENTINEL_token_must_never_appear_0123456789"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Offline Hub: record create_repo/upload_folder calls and the files present at upload time."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    calls: dict[str, Any] = {}

    def create_repo(self: HfApi, repo_id: str, **kwargs: Any) -> str:
        calls["create_repo"] = {"repo_id": repo_id, **kwargs}
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self: HfApi, **kwargs: Any) -> CommitInfo:
        folder = Path(kwargs["folder_path"])
        calls["upload_folder"] = kwargs
        calls["files"] = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        texts = [p.read_text(errors="ignore") for p in folder.rglob("*") if p.is_file() and p.suffix != ".wav"]
        calls["texts"] = "".join(texts)
        return CommitInfo(
            commit_url=f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/abc123",
            commit_message=kwargs["commit_message"],
            commit_description="",
            oid="abc123",
            pr_url=None,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def _publish(*args: str):
    return CliRunner().invoke(get_app(), ["publish", *args])


def test_publishes_a_dataset_repo_without_audio_by_default(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    result = _publish("--in", str(run), "--repo", "someone/demo-cot")
    assert result.exit_code == 0, result.output
    assert hub["create_repo"]["repo_id"] == "someone/demo-cot"
    assert hub["create_repo"]["repo_type"] == "dataset" and hub["create_repo"]["private"] is False
    upload = hub["upload_folder"]
    assert upload["repo_type"] == "dataset" and upload["create_pr"] is False
    assert upload["commit_message"] == "cotgen 0.1.0: demo run, 15 utterances, no audio"
    assert {"README.md", "sft.jsonl", "dpo.jsonl", "grpo.jsonl", "utterances.jsonl", "run.json"} <= set(hub["files"])
    assert not any(name.endswith(".wav") for name in hub["files"])
    assert str(tmp_path) not in hub["texts"]
    assert SENTINEL not in result.output and SENTINEL not in hub["texts"]


def test_staged_records_carry_relative_audio_paths_and_load_with_the_card_configs(
    tmp_path: Path, hub: dict[str, Any]
) -> None:
    run = make_run(tmp_path)
    assert _publish("--in", str(run), "--repo", "someone/demo-cot", "--private").exit_code == 0
    assert hub["create_repo"]["private"] is True
    staged = Path(hub["upload_folder"]["folder_path"])
    header = yaml.safe_load((staged / "README.md").read_text().split("---\n")[1])
    for config in header["configs"]:
        loaded = datasets.load_dataset(str(staged), config["config_name"], cache_dir=str(tmp_path / "cache"))
        assert loaded["train"].num_rows == (30 if config["config_name"] == "traces" else 15)  # gold + one sample
    row = json.loads((staged / "sft.jsonl").read_text().splitlines()[0])
    assert row["audio"] == "s1_00.wav"
    assert row["prompt"][1]["content"][0]["audio"] == "s1_00.wav"
    assert "Audio: not included" in (staged / "README.md").read_text()


def test_include_audio_uploads_the_clips_and_says_so(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    result = _publish("--in", str(run), "--repo", "someone/demo-cot", "--include-audio")
    assert result.exit_code == 0, result.output
    assert "audio/s1_00.wav" in hub["files"]
    staged = Path(hub["upload_folder"]["folder_path"])
    assert json.loads((staged / "utterances.jsonl").read_text().splitlines()[0])["audio"] == "audio/s1_00.wav"
    assert "the clips are included under `audio/`" in (staged / "README.md").read_text()
    assert hub["upload_folder"]["commit_message"].endswith("with audio")


def test_restricted_corpora_need_confirmation_for_a_public_repo(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path, corpus="iemocap")
    refused = _publish("--in", str(run), "--repo", "someone/iemocap-cot")
    assert isinstance(refused.exception, CotgenError)
    assert "--confirm-license" in str(refused.exception) and "restricts redistribution" in str(refused.exception)
    assert "create_repo" not in hub
    assert _publish("--in", str(run), "--repo", "someone/iemocap-cot", "--private").exit_code == 0
    confirmed = _publish("--in", str(run), "--repo", "someone/iemocap-cot", "--confirm-license", "--create-pr")
    assert confirmed.exit_code == 0, confirmed.output
    assert hub["upload_folder"]["create_pr"] is True
    assert "none of them may be redistributed" in (Path(hub["upload_folder"]["folder_path"]) / "README.md").read_text()


def test_dry_run_prints_files_and_card_and_uploads_nothing(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    result = _publish("--in", str(run), "--repo", "someone/demo-cot", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "sft.jsonl" in result.output and "configs:" in result.output and "## Limitations" in result.output
    assert hub == {}


def test_an_export_folder_publishes_its_split_files(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    out = export_run(run, "llamafactory", split="loso:3+val:0.25").out_dir
    assert _publish("--in", str(out), "--repo", "someone/demo-lf").exit_code == 0
    assert {"sft_train.jsonl", "dpo_test.jsonl", "dataset_info.json", "README.md"} <= set(hub["files"])
    staged = Path(hub["upload_folder"]["folder_path"])
    loaded = datasets.load_dataset(str(staged), "sft", cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == ["test", "train", "validation"]
    assert all(not Path(a).is_absolute() for a in loaded["train"]["audios"][0])


def test_missing_token_is_a_one_line_error(
    tmp_path: Path, hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("cotgen.publish.get_token", lambda: None)
    result = _publish("--in", str(make_run(tmp_path)), "--repo", "someone/demo-cot")
    assert isinstance(result.exception, CotgenError)
    assert str(result.exception) == "no Hugging Face token: set HF_TOKEN or run `hf auth login`"


def test_hub_errors_never_reveal_the_token(
    tmp_path: Path, hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: HfApi, repo_id: str, **kwargs: Any) -> str:
        response = SimpleNamespace(headers={}, request=None)
        raise HfHubHTTPError(f"401 Client Error: invalid token {SENTINEL}", response=response)  # type: ignore[arg-type]

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    result = _publish("--in", str(make_run(tmp_path)), "--repo", "someone/demo-cot")
    assert isinstance(result.exception, CotgenError)
    assert "401" in str(result.exception)
    assert SENTINEL not in str(result.exception) and SENTINEL not in result.output


def test_repo_ids_must_be_user_slash_name(tmp_path: Path, hub: dict[str, Any]) -> None:
    result = _publish("--in", str(make_run(tmp_path)), "--repo", "no-slash")
    assert isinstance(result.exception, CotgenError) and "USER/NAME" in str(result.exception)


def test_counts_that_disagree_with_run_json_stop_the_upload(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    info = json.loads((run / "run.json").read_text())
    info["counts"]["sft"] = 99
    (run / "run.json").write_text(json.dumps(info))
    result = _publish("--in", str(run), "--repo", "someone/demo-cot")
    assert isinstance(result.exception, CotgenError)
    assert "run.json records 99 lines for sft.jsonl, the file has 15" in str(result.exception)
    assert hub == {}


def test_a_trace_broken_outside_the_fields_the_card_reads_stops_the_upload(tmp_path: Path, hub: dict[str, Any]) -> None:
    run = make_run(tmp_path)
    lines = (run / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[2])
    del broken["trace"]["ambiguity"]
    lines[2] = json.dumps(broken)
    (run / "traces.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _publish("--in", str(run), "--repo", "someone/demo-cot", "--private")
    assert isinstance(result.exception, CotgenError)
    assert f"{run / 'traces.jsonl'}:3: not a valid TraceRecord" in str(result.exception)
    assert hub == {} and not (run / "publish").exists()
