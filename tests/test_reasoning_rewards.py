"""Rewards only reasoning can win: an adversarial table scores low on the combined reward, every gold scores high.

The completions are built per utterance of a real run from its GRPO record (target, measured cue levels, gold):
boilerplate stages, a contradictory text (the issue's "screaming … everyone would hear happiness", aimed at the
class the votes give least), the transcript copied into every stage, a cue list stuffed with every level, every cue
"moderate", and the right numbers after no reasoning — each with the right distribution. The same table, with the
numbers a demo run gives, is in docs/pairs-grpo-eval.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import LoopbackServer

from cotgen.build.run import BuildConfig, run_build
from cotgen.core.divergence import format_distribution, round_distribution
from cotgen.grpo import build_grpo
from cotgen.records.claims import CLASS_WORDS
from cotgen.records.run_records import GRPORecord
from cotgen.records.trace import ACOUSTIC_CUES
from cotgen.records.utterance import Utterance, iter_utterances
from cotgen.rewards import (
    ambiguity_consistency_reward,
    cue_faithfulness_reward,
    distribution_reward,
    evidence_coherence_reward,
    format_reward,
    reasoning_reward,
)
from cotgen.scoring.reasoning_rewards import ReasoningScores, combine

Adversary = Callable[[GRPORecord, Utterance], str]
# The highest mean combined reward an adversarial completion may reach, the lowest any gold may get.
ADVERSARY_MEAN_AT_MOST = 0.5
GOLD_AT_LEAST = 0.75


def _tagged(acoustic: str, lexical: str, ambiguity: str, record: GRPORecord) -> str:
    distribution = format_distribution(round_distribution(record.target_distribution))
    return (
        f"<acoustic>\n{acoustic}\n</acoustic>\n<lexical>\n{lexical}\n</lexical>\n<ambiguity>\n{ambiguity}\n"
        f"</ambiguity>\n<distribution>{distribution}</distribution>"
    )


def _stage(text: str, name: str) -> str:
    match = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, re.S)
    assert match, name
    return match.group(1)


def boilerplate(record: GRPORecord, utterance: Utterance) -> str:
    line = "The voice sounds fairly typical here."
    return _tagged(line, line, line, record)


def contradictory(record: GRPORecord, utterance: Utterance) -> str:
    least = min(record.target_distribution, key=lambda c: (record.target_distribution[c], c))
    noun = CLASS_WORDS.get(least, (least, least))[1]
    return _tagged(
        f"- Screaming voice, the loudest in the clip; everyone would hear {noun}.\nSummary: Pure {noun}.",
        f"- The words → cheerful and bright, everyone would hear {noun}.\nSummary: The words say {noun}.",
        f"There is no doubt at all here: everyone would hear {noun}.",
        record,
    )


def transcript_everywhere(record: GRPORecord, utterance: Utterance) -> str:
    words = utterance.transcript or "no transcript was given for this clip"
    return _tagged(words, words, words, record)


def stuffed_cues(record: GRPORecord, utterance: Utterance) -> str:
    assert record.gold_trace
    every = ", ".join(record.target_distribution)
    lines = [f"- {cue} very low, low, moderate, high, very high. Suggests: {every}." for cue in ACOUSTIC_CUES]
    acoustic = "\n".join([*lines, "Summary: Every level can be heard."])
    return _tagged(acoustic, _stage(record.gold_trace, "lexical"), _stage(record.gold_trace, "ambiguity"), record)


def every_cue_moderate(record: GRPORecord, utterance: Utterance) -> str:
    assert record.gold_trace
    gold = _stage(record.gold_trace, "acoustic")
    moderate = re.sub(
        r"^- (\w+): (very low|very high|low|moderate|high|rising|flat|falling)\.",
        lambda m: f"- {m.group(1)}: {'flat' if m.group(1) == 'intonation' else 'moderate'}.",
        gold,
        flags=re.M,
    )
    cited = set(re.findall(r"^- (\w+):", gold, re.M))
    extra = [
        f"- {cue}: {'flat' if cue == 'intonation' else 'moderate'}. Typical for this speaker. Suggests: none."
        for cue in ACOUSTIC_CUES
        if cue not in cited
    ]
    body = moderate.replace("\nSummary:", "\n" + "\n".join(extra) + "\nSummary:") if extra else moderate
    return _tagged(body, _stage(record.gold_trace, "lexical"), _stage(record.gold_trace, "ambiguity"), record)


def numbers_without_reasoning(record: GRPORecord, utterance: Utterance) -> str:
    return _tagged("", "", "", record)


ADVERSARIES: dict[str, Adversary] = {
    "boilerplate stages": boilerplate,
    "contradictory text, right numbers": contradictory,
    "transcript copied into every stage": transcript_everywhere,
    "cue list stuffed with every level": stuffed_cues,
    "every cue moderate": every_cue_moderate,
    "right numbers after no reasoning": numbers_without_reasoning,
}
REWARDS = {
    "format": format_reward,
    "distribution": distribution_reward,
    "ambiguity": ambiguity_consistency_reward,
    "faithfulness": cue_faithfulness_reward,
    "coherence": evidence_coherence_reward,
    "combined": reasoning_reward,
}


def _scores(texts: list[str], records: list[GRPORecord]) -> dict[str, list[float]]:
    columns = {
        "target_distribution": [r.target_distribution for r in records],
        "cue_levels": [r.cue_levels for r in records],
        "gold_trace": [r.gold_trace for r in records],
    }
    return {name: reward(texts, **columns) for name, reward in REWARDS.items()}


def _grpo_run(run: Path) -> tuple[list[GRPORecord], dict[str, Utterance]]:
    build_grpo(run, require_gold=True)
    records = [GRPORecord.model_validate_json(line) for line in (run / "grpo.jsonl").read_text().splitlines()]
    return records, {u.id: u for u in iter_utterances(run / "utterances.jsonl")}


def reward_table(records: list[GRPORecord], utterances: dict[str, Utterance]) -> dict[str, dict[str, float]]:
    """Mean of each reward per completion kind (the golds, then each adversary) over the run's GRPO records."""
    table = {}
    kinds: dict[str, Adversary] = {"gold trace": lambda r, u: r.gold_trace or "", **ADVERSARIES}
    for name, make in kinds.items():
        scores = _scores([make(r, utterances[r.id]) for r in records], records)
        table[name] = {reward: sum(values) / len(values) for reward, values in scores.items()}
        table[name]["combined, max"] = max(scores["combined"])
        table[name]["combined, min"] = min(scores["combined"])
    return table


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, measured_features: Path) -> tuple[list[GRPORecord], dict]:
    run = tmp_path_factory.mktemp("rewards") / "demo"
    run_build(BuildConfig(out=run, cache=measured_features, progress=False))
    return _grpo_run(run)


def test_every_grpo_record_carries_the_clips_measured_cue_levels(demo) -> None:
    records, _ = demo
    assert records and all(r.cue_levels for r in records)
    for record in records:
        assert set(record.cue_levels) == set(ACOUSTIC_CUES)


def test_adversaries_score_low_and_golds_high_on_the_demo(demo) -> None:
    records, utterances = demo
    table = reward_table(records, utterances)
    print(json.dumps(table, indent=1))  # the docs table: pytest -s tests/test_reasoning_rewards.py
    assert table["gold trace"]["combined, min"] >= GOLD_AT_LEAST
    for name in ADVERSARIES:
        assert table[name]["combined"] <= ADVERSARY_MEAN_AT_MOST, (name, table[name])
    # The shortcut each one takes is still paid by the older rewards: only the reasoning parts refuse it.
    assert table["boilerplate stages"]["format"] == 1.0 and table["boilerplate stages"]["distribution"] > 0.999
    assert table["contradictory text, right numbers"]["distribution"] > 0.999
    assert table["cue list stuffed with every level"]["faithfulness"] == 0.0
    assert table["every cue moderate"]["faithfulness"] < table["gold trace"]["faithfulness"]


def test_golds_of_a_model_teacher_score_high(tmp_path: Path, cache: Path) -> None:
    run = tmp_path / "run"
    with LoopbackServer() as srv:
        run_build(
            BuildConfig(teacher="openai:loopback", base_url=srv.base_url, out=run, cache=cache, progress=False, limit=8)
        )
    records, _ = _grpo_run(run)
    assert records and all(r.cue_levels for r in records)
    scores = _scores([r.gold_trace or "" for r in records], records)
    assert min(scores["combined"]) >= GOLD_AT_LEAST, scores


def test_unmeasured_clips_leave_faithfulness_out_and_bad_columns_are_named() -> None:
    parts = ReasoningScores(ambiguity=1.0, faithfulness=None, coherence=1.0)
    assert combine(True, 0.9, parts) == pytest.approx(0.9)
    assert combine(False, 1.0, parts) == 0.0
    text = boilerplate(
        GRPORecord(id="x", audio="a", prompt=[], target_distribution={"neu": 1.0}, gold_trace=None), None
    )
    assert cue_faithfulness_reward([text], target_distribution=[{"neu": 1.0}], cue_levels=[None]) == [0.0]
    with pytest.raises(ValueError, match="target_distribution"):
        reasoning_reward([text])
    with pytest.raises(ValueError, match="cue_levels"):
        cue_faithfulness_reward([text, text], target_distribution=[{"neu": 1.0}] * 2, cue_levels=[None])


@given(
    st.floats(0, 1),
    st.floats(0, 1),
    st.one_of(st.none(), st.floats(0, 1)),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_the_combination_is_bounded_and_no_better_than_its_weakest_part(d, a, f, c, lower) -> None:
    parts = ReasoningScores(ambiguity=a, faithfulness=f, coherence=c)
    value = combine(True, d, parts)
    assert 0.0 <= value <= min(d, a, c, 1.0 if f is None else f) + 1e-12
    worse = ReasoningScores(ambiguity=a * lower, faithfulness=f, coherence=c)
    assert combine(True, d, worse) <= value + 1e-12  # monotone in each part


def test_pairs_and_grpo_show_their_new_counts_in_the_terminal_run_json_and_the_card(
    tmp_path: Path, cache: Path
) -> None:
    from typer.testing import CliRunner

    from cotgen.cli.main import get_app

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(get_app(), list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run = tmp_path / "demo"
    invoke("build", "--out", str(run), "--cache", str(cache))
    shown = invoke("pairs", "--in", str(run))
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    by_kind = info["pairs"]["by_kind"]
    assert "Negatives by kind" in shown and "corrupt:overconfident" in shown
    shown = invoke("grpo", "--in", str(run))
    grpo = json.loads((run / "run.json").read_text(encoding="utf-8"))["grpo"]
    golds = grpo["gold_rewards"]
    assert grpo["with_cue_levels"] == grpo["records"] == golds["golds"] > 0
    assert f"reasoning reward {golds['mean']['combined']:.3f} on average" in shown
    assert golds["lowest_combined"] >= GOLD_AT_LEAST
    card = (run / "README.md").read_text(encoding="utf-8")
    overconfident = by_kind["corrupt:overconfident"]
    assert f"corrupt:overconfident {overconfident['chosen']} of {overconfident['eligible']} eligible" in card
    dropped = sum(row["inconsistent"] for row in by_kind.values())
    assert f"{dropped} candidates dropped as inconsistent" in card
    assert f"the {golds['golds']} gold traces get reasoning reward {golds['mean']['combined']:.3f}" in card
