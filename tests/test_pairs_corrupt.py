"""Corruption negatives differ from the gold only where the distribution is stated (no wording shortcut)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_pairs_support import CLASSES, make_trace, make_utterance, read_records, trace_record
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.pairs.candidates import gather_candidates
from cotgen.pairs.corrupt import corrupt_trace
from cotgen.records.run_records import DPORecord
from cotgen.records.trace import parse_trace
from cotgen.teachers.template import ambiguity

# The spans a corruption may change: the ambiguity stage (level, competing classes and the probabilities
# it quotes) and the distribution tag.
_JUDGEMENT = re.compile(r"<ambiguity>.*?</ambiguity>|<distribution>.*?</distribution>", re.S)


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(get_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("corrupt")
    out = base / "demo"
    _invoke("build", "--out", str(out), "--cache", str(base / "cache"))
    _invoke("pairs", "--in", str(out), "--source", "gold,corrupt", "--per-utterance", "4")
    return out


def test_template_corruptions_equal_the_gold_outside_the_distribution_spans(demo: Path) -> None:
    records = read_records(demo / "dpo.jsonl", DPORecord)
    assert len(records) >= 24 and {r.source_chosen for r in records} == {"gold"}
    assert {r.source_rejected.split(":")[0] for r in records} == {"corrupt"}
    for record in records:
        chosen, rejected = record.chosen[0]["content"], record.rejected[0]["content"]
        assert _JUDGEMENT.sub("", chosen) == _JUDGEMENT.sub("", rejected), record.id
        classes = list(record.human_distribution)
        gold, bad = parse_trace(chosen, classes), parse_trace(rejected, classes)
        # Both ambiguity stages are the template teacher's own rule applied to the printed distribution.
        assert gold.ambiguity == ambiguity(gold.distribution)
        assert bad.ambiguity == ambiguity(bad.distribution)
        assert bad.distribution != gold.distribution


def test_a_two_class_split_reads_the_same_level_in_gold_and_corruption() -> None:
    # The case: {0.8, 0.2} was "low" by one rule and "medium" by the other.
    gold = make_trace({"neu": 0.0, "hap": 0.0, "ang": 0.8, "sad": 0.2}, "low", ("ang", "sad"))
    gold = gold.model_copy(update={"ambiguity": ambiguity(gold.distribution)})
    swapped = corrupt_trace("swapped", gold, {"neu": 0, "hap": 0, "ang": 0.8, "sad": 0.2}, "ang", CLASSES, True)
    assert gold.ambiguity.level == swapped.ambiguity.level == "low"


def test_a_model_teachers_gold_is_not_rewritten_into_a_negative() -> None:
    # Replacing the numbers of a model's explanation gave "Anger (0.30) leads" over ang 0.30 / sad 0.60: numbers
    # that agree and words that do not. Such golds get the counterfactual source instead, counted here.
    utterance = make_utterance("u", {"ang": 6, "sad": 3, "hap": 1})
    gold = make_trace({"neu": 0.0, "hap": 0.1, "ang": 0.6, "sad": 0.3}, "medium", ("ang", "sad"))
    record = trace_record(utterance, 0, gold).model_copy(update={"teacher": "openai:gpt-4o-mini"})
    found = gather_candidates(utterance, [record], [], {"gold", "corrupt"}, keep_unparseable=False)
    assert [c.source for c in found.candidates] == ["gold"] and found.model_gold_not_corrupted == 1
    template = gather_candidates(utterance, [trace_record(utterance, 0, gold)], [], {"gold", "corrupt"}, False)
    assert {c.source.split(":")[0] for c in template.candidates} == {"gold", "corrupt"}
