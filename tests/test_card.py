"""The dataset card: Hub metadata from the corpus note, configs that load, and a body that explains the run."""

from __future__ import annotations

from pathlib import Path

import datasets
import yaml
from test_export_fixtures import TEMPLATE, make_run

from cotgen.export.writer import export_run
from cotgen.report.card import annotator_rule, size_category, write_card


def _front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_run_card_takes_licence_and_citation_from_the_corpus_note(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="iemocap")
    meta, body = _front_matter(write_card(run))
    assert meta["license"] == "other"
    assert meta["language"] == ["en"]
    assert meta["pretty_name"].startswith("IEMOCAP")
    assert meta["size_categories"] == ["n<1K"]
    assert "busso2008iemocap" in body
    assert "none of them may be redistributed" in body
    assert "@software{cotgen" in body


def test_run_card_configs_point_at_the_record_files(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    meta, _ = _front_matter(write_card(run))
    configs = {c["config_name"]: c["data_files"] for c in meta["configs"]}
    kinds = ("sft", "dpo", "grpo", "traces", "utterances")  # every JSONL publish uploads has its config
    assert configs == {kind: [{"split": "train", "path": f"{kind}.jsonl"}] for kind in kinds}
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == ["sft"]
    loaded = datasets.load_dataset(str(run), "dpo", cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == 15


def test_card_body_says_how_the_run_was_built(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="crema-d")
    meta, body = _front_matter(write_card(run))
    assert meta["license"] == "odbl"
    for expected in (
        "`neu` (neutral)",
        "Teacher: `template`, cotgen's offline template teacher (no model): its traces are rule-generated",
        f"`{TEMPLATE.name}` (sha256 `{TEMPLATE.sha256[:12]}`)",
        "share-alike",
        "cao2014crema",
        "## Limitations",
        "Faithfulness",
        "| utterances | 15 |",
        "<distribution>",
    ):
        assert expected in body, expected


def test_export_card_configs_point_at_the_split_files(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = export_run(run, "swift", split="loso:1+val:0.25", seed=2).out_dir  # one training speaker validates
    meta, body = _front_matter(write_card(run, export_dir=out))
    configs = {c["config_name"]: c["data_files"] for c in meta["configs"]}
    assert [f["split"] for f in configs["grpo"]] == ["train", "validation", "test"]
    assert all((out / f["path"]).exists() for files in configs.values() for f in files)
    assert "split `loso:1+val:0.25 --seed 2`" in body and "train 9, validation 3, test 3" in body
    assert (
        "Split protocol: leave one session out: tests on session 1 and trains on the other 4 sessions (2, 3, 4, 5); "
        "validation: whole training speakers drawn with seed 2 until they hold 25% of the training utterances."
    ) in " ".join(body.split())
    loaded = datasets.load_dataset(str(out), "sft", cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == ["test", "train", "validation"]


def test_size_categories_follow_the_hub_buckets() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 50_000, 2_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "10K<n<100K",
        "n>1M",
    ]


def test_annotator_rule_reads_the_build_config() -> None:
    info = {"config": {"classes": "neu,hap+exc,ang,sad", "self_eval": True}, "corpus": {"dropped": 3}}
    rule = annotator_rule(info)
    assert "`neu,hap+exc,ang,sad`" in rule and "counted as votes" in rule and "dropped" in rule and ": 3." in rule
    assert annotator_rule({}) == "Default class set."
