"""Stage order as data: a lexical-first run through build, pairs, grpo, export, eval and the rewards.

The run declares ``--stages lexical,acoustic,ambiguity`` once; every writer and reader follows it from run.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.export.writer import export_run
from cotgen.prompts.templates import load_prompts, output_format
from cotgen.records.trace import response_schema
from cotgen.scoring.reasoning_rewards import reasoning_reward
from cotgen.scoring.rewards import distribution_reward, format_reward

LEXICAL_FIRST = ("lexical", "acoustic", "ambiguity")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(get_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _tags(text: str) -> list[str]:
    return [name for name in ("acoustic", "lexical", "ambiguity", "distribution") if f"<{name}>" in text]


def _in_order(text: str, order: tuple[str, ...]) -> bool:
    positions = [text.index(f"<{name}>") for name in (*order, "distribution")]
    return positions == sorted(positions)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_lexical_first_run_is_lexical_first_everywhere(tmp_path: Path, cache: Path) -> None:
    run = tmp_path / "run"
    _invoke("build", "--out", str(run), "--cache", str(cache), "--samples", "1", "--no-progress")
    _invoke("build", "--out", str(run), "--cache", str(cache), "--samples", "1", "--no-progress")  # resumes
    default_texts = {r["id"]: r["text"] for r in _lines(run / "traces.jsonl") if r["sample"] == 0}
    output = _invoke(
        "build", "--out", str(run), "--cache", str(cache), "--samples", "1", "--no-progress",
        "--stages", "lexical,acoustic,ambiguity,distribution",
    )  # fmt: skip
    assert "48 stale redone" in output  # the order is in every record's fingerprint
    assert json.loads((run / "run.json").read_text())["config"]["stages"] == "lexical,acoustic,ambiguity,distribution"
    traces = _lines(run / "traces.jsonl")
    assert all(_in_order(t["text"], LEXICAL_FIRST) for t in traces)
    # The same reasoning, only reordered.
    golds = {t["id"]: t for t in traces if t["sample"] == 0}
    assert all(sorted(golds[i]["text"].splitlines()) == sorted(text.splitlines()) for i, text in default_texts.items())
    sft = _lines(run / "sft.jsonl")
    instruction = sft[0]["prompt"][1]["content"][1]["text"]
    assert instruction.index("<lexical>") < instruction.index("<acoustic>") < instruction.index("<ambiguity>")
    assert all(_in_order(r["completion"][0]["content"], LEXICAL_FIRST) for r in sft)

    _invoke("pairs", "--in", str(run), "--source", "gold,samples,corrupt", "--per-utterance", "2")
    pairs = _lines(run / "dpo.jsonl")
    assert len(pairs) >= 24  # every candidate text was read in the run's order (none unreadable)
    assert all(_in_order(p["rejected"][0]["content"], LEXICAL_FIRST) for p in pairs)
    assert json.loads((run / "run.json").read_text())["pairs"]["unreadable"] in ({}, None, {"rollout": 0})

    _invoke("grpo", "--in", str(run))
    grpo = _lines(run / "grpo.jsonl")
    assert all(r["stages"] == list(LEXICAL_FIRST) for r in grpo)
    golds_text = [r["gold_trace"] for r in grpo]
    columns = {"target_distribution": [r["target_distribution"] for r in grpo], "stages": [r["stages"] for r in grpo]}
    assert format_reward(golds_text, **columns) == [1.0] * len(grpo)
    assert format_reward(golds_text, target_distribution=columns["target_distribution"]) == [0.0] * len(grpo)
    assert min(distribution_reward(golds_text, **columns)) > 0.9
    assert min(reasoning_reward(golds_text, cue_levels=[r["cue_levels"] for r in grpo], **columns)) > 0.0

    out = export_run(run, "trl", answer="label", out_dir=tmp_path / "export").out_dir
    exported = [json.loads(line) for f in sorted(out.glob("sft*.jsonl")) for line in f.read_text().splitlines()]
    assert exported and all(_in_order(r["completion"][0]["content"], LEXICAL_FIRST) for r in exported)

    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "text": t["text"]}) + "\n" for i, t in golds.items()))
    report = tmp_path / "eval.json"
    _invoke("eval", "--in", str(run), "--pred", str(predictions), "--output", str(report))
    counts = json.loads(report.read_text())["counts"]
    assert (counts["with_prediction"], counts["parse_failures"]) == (24, 0)


def test_the_teachers_json_and_schema_follow_the_order() -> None:
    example = json.loads(output_format(["neu", "ang"], LEXICAL_FIRST))
    assert list(example) == [*LEXICAL_FIRST, "distribution"]
    assert list(response_schema(["neu", "ang"], order=LEXICAL_FIRST)["properties"]) == [*LEXICAL_FIRST, "distribution"]
    system = load_prompts(order=LEXICAL_FIRST).system_text(["neu", "ang"], schema_in_prompt=False)
    assert system.index('1. "lexical"') < system.index('2. "acoustic"') < system.index('3. "ambiguity"')
    assert '4. "distribution"' in system
    default = load_prompts().system_text(["neu", "ang"], schema_in_prompt=False)
    assert default.index('1. "acoustic"') < default.index('2. "lexical"')
