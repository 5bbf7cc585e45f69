"""The dataset card's YAML passes the Hub's metadata rules (issue 21 item 7), checked on the staged publish folder.

The rules, from the Hub's dataset card spec (hub-docs ``datasetcard.md``) and its task list (huggingface.js
``packages/tasks/src/pipelines.ts``): ``license: other`` comes with a ``license_name`` id and a ``license_link``;
every uploaded data file belongs to a config and one config is the default, so ``load_dataset(repo)`` works
without a name; task categories are ones the dataset filter shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml
from test_export_fixtures import make_run
from test_publish import hub  # noqa: F401  (the offline Hub fixture)

from cotgen.core.paths import CORPORA_DIR
from cotgen.publish import stage
from cotgen.records.prediction import PREDICTIONS_FILE
from cotgen.report.card import LICENSE_FILE, TASK_CATEGORIES, TASK_IDS, corpus_note, license_fields

# pipelines.ts marks these hideInDatasets: a card naming one is found by nobody filtering datasets by task.
HIDDEN_IN_DATASETS = {"audio-text-to-text", "document-question-answering", "keypoint-detection", "video-to-video"}
# pipelines.ts: audio-classification's subtasks.
AUDIO_CLASSIFICATION_SUBTASKS = {
    "keyword-spotting",
    "speaker-identification",
    "audio-intent-classification",
    "audio-emotion-recognition",
    "audio-language-identification",
}
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def _header(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---\n")[1])


def test_tasks_are_listed_for_datasets() -> None:
    assert not set(TASK_CATEGORIES) & HIDDEN_IN_DATASETS
    assert "audio-classification" in TASK_CATEGORIES and set(TASK_IDS) <= AUDIO_CLASSIFICATION_SUBTASKS


@pytest.mark.parametrize("note_file", sorted(p.name for p in CORPORA_DIR.glob("*.md")))
def test_every_corpus_note_gives_a_licence_the_hub_accepts(note_file: str) -> None:
    corpus = note_file.removesuffix(".md")
    fields = license_fields(corpus, corpus_note(corpus))
    if fields["license"] != "other":
        assert set(fields) == {"license"}
        return
    assert LICENSE_ID.match(fields["license_name"]), fields
    assert fields["license_link"].startswith("https://") or fields["license_link"] == LICENSE_FILE


def test_staged_run_has_a_config_per_jsonl_and_loads_with_and_without_a_name(
    tmp_path: Path,
    hub: dict[str, Any],  # noqa: F811
) -> None:
    run = make_run(tmp_path)
    predictions = [
        {"id": f"s1_0{i}", "sample": 1, "model": "m", "text": "x", "distribution": None, "error": "no_answer"}
        for i in range(3)
    ]
    (run / PREDICTIONS_FILE).write_text("".join(json.dumps(p) + "\n" for p in predictions), encoding="utf-8")
    plan = stage(run, "someone/demo-cot", private=True, include_audio=False, create_pr=False)
    header = _header(plan.stage_dir)
    jsonl = sorted(p.name for p in plan.stage_dir.glob("*.jsonl"))
    configs = {c["config_name"]: c for c in header["configs"]}
    assert sorted(f["path"] for c in configs.values() for f in c["data_files"]) == jsonl
    assert set(configs) == {"sft", "dpo", "grpo", "traces", "utterances", "predictions"}
    assert [name for name, c in configs.items() if c.get("default")] == ["sft"]
    cache = str(tmp_path / "hf-cache")
    rows = {
        name: datasets.load_dataset(str(plan.stage_dir), name, cache_dir=cache)["train"].num_rows for name in configs
    }
    assert rows == {"sft": 15, "dpo": 15, "grpo": 15, "traces": 30, "utterances": 15, "predictions": 3}
    unnamed = datasets.load_dataset(str(plan.stage_dir), cache_dir=cache)  # no "Config name is missing"
    assert (
        unnamed["train"].column_names
        == datasets.load_dataset(str(plan.stage_dir), "sft", cache_dir=cache)["train"].column_names
    )


def test_a_licence_other_without_a_link_ships_its_terms(tmp_path: Path, hub: dict[str, Any]) -> None:  # noqa: F811
    run = make_run(tmp_path, corpus="manifest")
    plan = stage(run, "someone/mine", private=True, include_audio=False, create_pr=False)
    header = _header(plan.stage_dir)
    assert header["license"] == "other"
    assert header["license_name"] == "as-declared-by-the-corpus-owner"
    assert header["license_link"] == LICENSE_FILE and LICENSE_FILE in plan.files
    assert "as declared by the corpus owner" in (plan.stage_dir / LICENSE_FILE).read_text(encoding="utf-8")
    iemocap = license_fields("iemocap", corpus_note("iemocap"))
    assert iemocap["license_link"] == "https://sail.usc.edu/iemocap/iemocap_release.htm"
