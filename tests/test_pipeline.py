"""The whole user path on the demo corpus: build → pairs → grpo → export → stats → eval, through the CLI.

Each stage reads the previous stage's files, so this is where a contract drift between stages shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cotgen.cli.main import get_app


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, f"cotgen {' '.join(args)} failed:\n{result.output}"
    return result.output


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _card_configs(run: Path) -> dict[str, list[str]]:
    text = (run / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---")[1])
    return {c["config_name"]: [f["path"] for f in c["data_files"]] for c in meta["configs"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pipeline")
    out = base / "demo"
    _invoke(["build", "--out", str(out), "--cache", str(base / "cache"), "--samples", "2"])
    return out


def test_pairs_and_grpo_refresh_the_card_and_keep_one_record_per_utterance(run: Path) -> None:
    assert _card_configs(run) == {"sft": ["sft.jsonl"], "traces": ["traces.jsonl"], "utterances": ["utterances.jsonl"]}
    _invoke(["pairs", "--in", str(run)])
    _invoke(["grpo", "--in", str(run)])
    configs = _card_configs(run)
    assert configs["dpo"] == ["dpo.jsonl"] and configs["grpo"] == ["grpo.jsonl"]
    utterance_ids = {u["id"] for u in _lines(run / "utterances.jsonl")}
    traces = _lines(run / "traces.jsonl")
    assert {(t["id"], t["sample"]) for t in traces} == {(i, s) for i in utterance_ids for s in (0, 1, 2)}
    assert {r["id"] for r in _lines(run / "grpo.jsonl")} == utterance_ids
    pairs = _lines(run / "dpo.jsonl")
    assert pairs and all(p["score_chosen"] < p["score_rejected"] for p in pairs)
    assert all(p["chosen"][0]["content"] != p["rejected"][0]["content"] for p in pairs)
    run_json = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert {"pairs", "grpo"} <= set(run_json)


@pytest.mark.parametrize("fmt", ["trl", "llamafactory", "swift"])
def test_exports_of_a_real_build_load_with_datasets(run: Path, fmt: str, tmp_path: Path) -> None:
    from datasets import load_dataset

    _invoke(["pairs", "--in", str(run)])
    _invoke(["grpo", "--in", str(run)])
    _invoke(["export", "--format", fmt, "--in", str(run), "--out", str(tmp_path / fmt)])
    files = sorted((tmp_path / fmt).glob("*_*.jsonl"))
    kinds = {"sft", "dpo"} if fmt == "llamafactory" else {"sft", "dpo", "grpo"}  # LLaMA-Factory has no GRPO
    assert {f.name.split("_")[0] for f in files} == kinds
    for file in files:
        rows = load_dataset("json", data_files=str(file), split="train")
        assert len(rows) == len(_lines(file)) > 0


def test_eval_of_the_gold_traces_beats_the_uniform_baseline(run: Path, tmp_path: Path) -> None:
    gold = [t for t in _lines(run / "traces.jsonl") if t["sample"] == 0]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps({"id": t["id"], "text": t["text"]}) + "\n" for t in gold), encoding="utf-8")
    report = tmp_path / "report.json"
    _invoke(["eval", "--pred", str(pred), "--in", str(run), "--output", str(report)])
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    overall = {r["system"]: r["metrics"] for r in results if r["fold"] == "overall"}
    # Gold traces print the human distribution to two decimals: near-zero divergence, far below the baselines.
    assert overall["model"]["js"] < 0.001 < overall["uniform"]["js"]
    assert overall["model"]["bc"] > overall["uniform"]["bc"] and overall["model"]["r2"] > 0.99
    assert overall["oracle"]["js"] == 0.0


def test_stats_writes_plots(run: Path) -> None:
    _invoke(["stats", "--in", str(run)])
    plots = sorted((run / "plots").glob("*.png"))
    assert len(plots) >= 4 and all(p.stat().st_size > 5_000 for p in plots)
