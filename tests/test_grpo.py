"""``cotgen grpo``: one GRPO prompt per utterance with its target distribution and gold trace."""

import json

from test_pairs_support import CLASSES, read_records, standard_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.prompts.student import student_messages
from cotgen.records.run_records import GRPORecord, TraceRecord
from cotgen.records.utterance import read_utterances
from cotgen.scoring.rewards import distribution_reward, format_reward


def test_grpo_records_carry_prompt_target_and_gold_trace(tmp_path):
    run = standard_run(tmp_path / "run")
    (run / "run.json").write_text(json.dumps({"pairs": {"pairs": 4}}), encoding="utf-8")
    result = CliRunner().invoke(get_app(), ["grpo", "--in", str(run)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 GRPO prompts" in result.output
    records = {r.id: r for r in read_records(run / "grpo.jsonl", GRPORecord)}
    utterances = {u.id: u for u in read_utterances(run / "utterances.jsonl")}
    traces = [TraceRecord.model_validate_json(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    gold = {t.id: t.text for t in traces if t.sample == 0}
    assert set(records) == set(utterances)
    for uid, record in records.items():
        u = utterances[uid]
        assert record.prompt == student_messages(u.audio, u.transcript, CLASSES)
        assert record.target_distribution == u.distribution
        assert record.gold_trace == gold.get(uid)
    assert records["u_none"].gold_trace is None
    # The gold trace rewarded against its own target scores (nearly) perfectly: the pieces fit together.
    rec = records["u_amb"]
    assert format_reward([rec.gold_trace], target_distribution=[rec.target_distribution]) == [1.0]
    assert distribution_reward([rec.gold_trace], target_distribution=[rec.target_distribution])[0] > 0.99
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["pairs"] == {"pairs": 4}
    assert info["grpo"]["records"] == 3 and info["grpo"]["with_gold"] == 2 and info["grpo"]["without_gold"] == 1


def test_require_gold_skips_and_counts(tmp_path):
    run = standard_run(tmp_path / "run")
    result = CliRunner().invoke(
        get_app(), ["grpo", "--in", str(run), "--require-gold", "--output", str(tmp_path / "g.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert [r.id for r in read_records(tmp_path / "g.jsonl", GRPORecord)] == ["u_amb", "u_clear"]
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["grpo"]
    assert info["skipped_without_gold"] == 1 and info["records"] == 2
