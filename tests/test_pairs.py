"""``cotgen pairs`` through the CLI and the library: scores, margins, reasons, sources, determinism."""

import json

import numpy as np
import pytest
from test_pairs_support import (
    CLASSES,
    make_trace,
    make_utterance,
    read_records,
    standard_run,
    trace_record,
    write_run,
)
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.divergence import as_vector, js, kl
from cotgen.pairs.build import PairOptions, build_pairs
from cotgen.pairs.scoring import CHUNK_ROWS, score_rows, worst_scores
from cotgen.pairs.select import select_pair
from cotgen.prompts.student import student_messages
from cotgen.records.run_records import DPORecord
from cotgen.records.trace import parse_sections, parse_trace, render_trace


def invoke(*args):
    return CliRunner().invoke(get_app(), list(args))


@pytest.fixture
def run(tmp_path):
    return standard_run(tmp_path / "run")


def _printed_score(text, human, metric):
    cand = as_vector(parse_sections(text, CLASSES).distribution, CLASSES)
    h = as_vector(human, CLASSES)
    return kl(h, cand) if metric == "kl" else js(h, cand)


@pytest.mark.parametrize("metric", ["kl", "js"])
def test_cli_writes_trl_preference_records_scored_from_printed_text(run, metric):
    result = invoke("pairs", "--in", str(run), "--metric", metric, "--per-utterance", "3", "--margin", "0.01")
    assert result.exit_code == 0, result.output
    assert "DPO pairs" in result.output and "Negatives by kind" in result.output
    records = read_records(run / "dpo.jsonl", DPORecord)
    assert records, "expected pairs"
    utterances = {u.id: u for u in [make_utterance("u_amb", {"ang": 3, "sad": 2})]}
    for record in records:
        assert record.metric == metric
        assert len(record.chosen) == 1 and record.chosen[0]["role"] == "assistant"
        assert len(record.rejected) == 1 and record.rejected[0]["role"] == "assistant"
        assert record.chosen[0]["content"] != record.rejected[0]["content"]
        assert record.score_chosen == pytest.approx(
            _printed_score(record.chosen[0]["content"], record.human_distribution, metric), abs=1e-12
        )
        assert record.score_rejected == pytest.approx(
            _printed_score(record.rejected[0]["content"], record.human_distribution, metric), abs=1e-12
        )
        assert record.score_rejected - record.score_chosen >= 0.01 - 1e-12
        if record.id in utterances:
            u = utterances[record.id]
            assert record.prompt == student_messages(u.audio, u.transcript, CLASSES)
    # At most K pairs per utterance, one chosen per utterance.
    by_id = {}
    for record in records:
        by_id.setdefault(record.id, set()).add(record.chosen[0]["content"])
        assert sum(r.id == record.id for r in records) <= 3
    assert all(len(chosen) == 1 for chosen in by_id.values())


def test_margin_and_max_chosen_are_respected_and_reasons_counted(run):
    (run / "run.json").write_text(json.dumps({"build": {"traces": 6}, "schema_version": "1"}), encoding="utf-8")
    result = invoke("pairs", "--in", str(run), "--margin", "0.2", "--per-utterance", "8", "--rejected", "worst")
    assert result.exit_code == 0, result.output
    records = read_records(run / "dpo.jsonl", DPORecord)
    assert all(r.score_rejected - r.score_chosen >= 0.2 - 1e-12 for r in records)
    assert all(r.score_chosen <= 0.1 for r in records)
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["build"] == {"traces": 6} and info["schema_version"] == "1"  # others' keys survive
    pairs = info["pairs"]
    assert pairs["no_pair"]["no_candidates"] == 1  # u_none has no trace at all
    assert pairs["pairs"] == len(records)
    assert pairs["utterances"] == 3 and pairs["utterances_with_pairs"] == 2
    assert pairs["margins"]["q1"] <= pairs["margins"]["median"] <= pairs["margins"]["q3"]
    assert sum(pairs["rejected_sources"].values()) == len(records)

    # Nothing is good enough to be chosen.
    assert invoke("pairs", "--in", str(run), "--max-chosen", "-1").exit_code == 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["pairs"]["no_pair"]["gold_above_max"] == 2 and info["pairs"]["pairs"] == 0
    # Nothing is far enough from the chosen (KL to a one-hot is at most ~14 nats with 1e-6 smoothing).
    assert invoke("pairs", "--in", str(run), "--margin", "100").exit_code == 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["pairs"]["no_pair"]["no_rejected_beyond_margin"] == 2


def test_hardest_takes_the_smallest_gap_above_the_margin_and_worst_the_largest(run):
    options = PairOptions(margin=0.05, per_utterance=1, rejected="hardest")
    build_pairs(run, options)
    hardest = {r.id: r for r in read_records(run / "dpo.jsonl", DPORecord)}
    build_pairs(run, PairOptions(margin=0.05, per_utterance=1, rejected="worst"))
    worst = {r.id: r for r in read_records(run / "dpo.jsonl", DPORecord)}
    build_pairs(run, PairOptions(margin=0.05, per_utterance=20, rejected="hardest"))
    every = read_records(run / "dpo.jsonl", DPORecord)
    for uid in hardest:
        gaps = sorted(r.score_rejected for r in every if r.id == uid)
        assert hardest[uid].score_rejected == pytest.approx(gaps[0])
        assert worst[uid].score_rejected == pytest.approx(gaps[-1])


def test_same_seed_gives_identical_output_and_random_draws_from_eligible(run):
    assert (
        invoke("pairs", "--in", str(run), "--rejected", "random", "--seed", "5", "--per-utterance", "2").exit_code == 0
    )
    first = (run / "dpo.jsonl").read_bytes()
    assert (
        invoke("pairs", "--in", str(run), "--rejected", "random", "--seed", "5", "--per-utterance", "2").exit_code == 0
    )
    assert (run / "dpo.jsonl").read_bytes() == first
    seen = set()
    for seed in range(12):
        build_pairs(run, PairOptions(rejected="random", seed=seed, per_utterance=1))
        seen |= {(r.id, r.source_rejected) for r in read_records(run / "dpo.jsonl", DPORecord)}
    assert len({s for i, s in seen if i == "u_amb"}) > 1  # different seeds pick different rejected


def test_corruptions_are_coherent_and_labelled(run):
    build_pairs(run, PairOptions(sources=frozenset({"gold", "corrupt"}), per_utterance=10, margin=0.0))
    records = [r for r in read_records(run / "dpo.jsonl", DPORecord) if r.id == "u_amb"]
    by_kind = {r.source_rejected: parse_trace(r.rejected[0]["content"], CLASSES) for r in records}
    assert set(by_kind) == {"corrupt:overconfident", "corrupt:flat", "corrupt:swapped", "corrupt:shifted"}
    gold = parse_trace(records[0].chosen[0]["content"], CLASSES)
    over = by_kind["corrupt:overconfident"]
    assert over.distribution == {"neu": 0.0, "hap": 0.0, "ang": 1.0, "sad": 0.0}  # human majority is ang
    assert (over.ambiguity.level, over.ambiguity.competing) == ("low", ["ang"])
    flat = by_kind["corrupt:flat"]
    assert set(flat.distribution.values()) == {0.25}
    assert flat.ambiguity.level == "high" and sorted(flat.ambiguity.competing) == sorted(CLASSES)
    assert by_kind["corrupt:swapped"].distribution == {"neu": 0.0, "hap": 0.0, "ang": 0.4, "sad": 0.6}
    # shifted: ang (gold top, 0.6) hands its mass to the least-voted class (neu: 0 votes, earliest of the ties).
    assert by_kind["corrupt:shifted"].distribution == {"neu": 0.6, "hap": 0.0, "ang": 0.0, "sad": 0.4}
    for trace in by_kind.values():
        assert trace.acoustic == gold.acoustic and trace.lexical == gold.lexical  # only the judgement changes
        if trace.ambiguity.level != "low":
            top = max(trace.distribution, key=trace.distribution.get)
            assert top in trace.ambiguity.competing


def test_rollouts_are_candidates_and_unparseable_ones_are_counted_or_kept(run, tmp_path):
    amb = make_utterance("u_amb", {"ang": 3, "sad": 2})
    good = render_trace(make_trace({"neu": 0.0, "hap": 0.0, "ang": 0.9, "sad": 0.1}, "low", ("ang",)))
    rollouts = tmp_path / "rollouts.jsonl"
    lines = [
        {"id": "u_amb", "text": "I think it is angry."},
        {"id": "u_amb", "text": good, "model": "mine"},
        {"id": "somebody_else", "text": good},
    ]
    rollouts.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    base = ["pairs", "--in", str(run), "--source", "rollouts,gold", "--rollouts", str(rollouts), "--per-utterance", "5"]
    assert invoke(*base).exit_code == 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert info["unreadable"] == {"rollout": 1} and info["unknown_rollout_lines"] == 1
    records = [r for r in read_records(run / "dpo.jsonl", DPORecord) if r.id == amb.id]
    assert {r.source_rejected for r in records} == {"rollout:2"}
    assert invoke(*base, "--keep-unparseable").exit_code == 0
    records = [r for r in read_records(run / "dpo.jsonl", DPORecord) if r.id == amb.id]
    failure = next(r for r in records if r.source_rejected == "rollout:1")
    assert failure.rejected[0]["content"] == "I think it is angry."
    assert failure.score_rejected == pytest.approx(float(worst_scores(as_vector(amb.distribution, CLASSES), "kl")[0]))
    assert all(r.source_chosen != "rollout:1" for r in records)


def test_bad_input_is_one_line_error_naming_file_and_line(run, tmp_path):
    with (run / "traces.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"id": "u_amb", "sample": 9}\n')
    result = invoke("pairs", "--in", str(run))
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "traces.jsonl:7" in str(result.exception) and "not a valid trace record" in str(result.exception)
    result = invoke("pairs", "--in", str(run), "--source", "rollouts")
    assert "--rollouts FILE" in str(result.exception)
    result = invoke("pairs", "--in", str(tmp_path / "missing"))
    assert "utterances.jsonl: no such file" in str(result.exception)


def test_utterances_without_readable_candidates_are_counted(tmp_path):
    utt = make_utterance("u1", {"ang": 1})
    record = trace_record(utt, 1, make_trace({"neu": 0, "hap": 0, "ang": 0.5, "sad": 0.5}))
    record = record.model_copy(update={"text": "no tags here"})
    run = write_run(tmp_path / "run", [utt], [record])
    stats = build_pairs(run, PairOptions(sources=frozenset({"samples"}), keep_unparseable=True))
    assert stats.no_pair["no_readable_candidate"] == 1 and stats.unreadable["sample"] == 1


def test_vectorised_scores_equal_row_by_row_and_worst_is_an_upper_bound():
    rng = np.random.default_rng(0)
    human = rng.dirichlet(np.ones(4), size=50)
    cand = rng.dirichlet(np.ones(4) * 0.3, size=50)
    for metric, fn in (("kl", kl), ("js", js)):
        scores = score_rows(human, cand, metric)
        assert scores == pytest.approx([fn(h, c) for h, c in zip(human, cand)])
        assert (worst_scores(human, metric) >= scores - 1e-12).all()


def test_select_pair_never_pairs_identical_texts_and_keeps_candidate_order_on_ties():
    scores = np.array([0.0, 0.0, 0.5, 0.5])
    texts = ["a", "b", "a", "c"]
    pick = select_pair(scores, np.ones(4, bool), texts, 0.1, 1.0, "hardest", 5, np.random.default_rng(0))
    assert pick.chosen == 0 and pick.rejected == (3,)
    readable = np.array([False, True, True, True])
    pick = select_pair(scores, readable, texts, 0.1, 1.0, "worst", 5, np.random.default_rng(0))
    assert pick.chosen == 1 and pick.rejected == (2, 3)


def test_chunked_scoring_equals_one_call_across_chunk_boundaries():
    rng = np.random.default_rng(1)
    n = CHUNK_ROWS + 123
    human = rng.dirichlet(np.ones(4), size=n)
    cand = rng.dirichlet(np.ones(4), size=n)
    assert np.array_equal(score_rows(human, cand, "kl"), kl(human, cand))
    assert np.array_equal(score_rows(human[0], cand, "js"), js(np.broadcast_to(human[0], cand.shape), cand))


def test_rollouts_file_and_source_must_agree(run, tmp_path):
    rollouts = tmp_path / "r.jsonl"
    rollouts.write_text("", encoding="utf-8")
    result = invoke("pairs", "--in", str(run), "--source", "gold", "--rollouts", str(rollouts))
    assert "leaves rollouts out" in str(result.exception)
    result = invoke("pairs", "--in", str(run), "--source", "gold,bogus")
    assert "expected a comma-separated subset" in str(result.exception)


def test_gold_is_chosen_by_default_and_never_rejected_and_predictions_files_are_rollouts(tmp_path):
    amb = make_utterance("u_amb", {"ang": 3, "sad": 2})  # human: ang 0.6, sad 0.4
    gold = make_trace({"neu": 0, "hap": 0, "ang": 0.4, "sad": 0.6})  # KL 0.081: within --max-chosen, not exact
    run = write_run(tmp_path / "run", [amb], [trace_record(amb, 0, gold)])
    exact = render_trace(make_trace({"neu": 0, "hap": 0, "ang": 0.6, "sad": 0.4}))
    wrong = render_trace(make_trace({"neu": 0, "hap": 1.0, "ang": 0, "sad": 0}, "low", ()))
    # `cotgen predict`'s predictions.jsonl as it is: samples out of order, one unparseable.
    predict_lines = [
        {"id": "u_amb", "sample": 3, "text": wrong, "distribution": {"hap": 1.0}, "error": None},
        {"id": "u_amb", "sample": 1, "text": exact, "distribution": {"ang": 0.6, "sad": 0.4}, "error": None},
        {"id": "u_amb", "sample": 2, "text": "angry", "distribution": None, "error": "missing <acoustic>"},
    ]
    predictions = tmp_path / "predictions.jsonl"
    common = {"model": "openai:student", "usage": {}, "fingerprint": "f", "schema_version": "1"}
    predictions.write_text("".join(json.dumps({**x, **common}) + "\n" for x in predict_lines), encoding="utf-8")
    base = ["pairs", "--in", str(run), "--source", "gold,rollouts", "--rollouts", str(predictions)]

    assert invoke(*base, "--per-utterance", "5").exit_code == 0
    records = read_records(run / "dpo.jsonl", DPORecord)
    assert {r.source_chosen for r in records} == {"gold"}
    assert {r.source_rejected for r in records} == {"rollout:3"}  # rollout:1 beats the gold yet is not rejected
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert info["chosen"] == "gold" and info["pairs_by_source"] == {"gold": {"rollout": 1}}
    assert info["unreadable"] == {"rollout": 1}

    result = invoke(*base, "--per-utterance", "5", "--chosen", "best")
    assert result.exit_code == 0 and "Pairs by source" in result.output
    records = read_records(run / "dpo.jsonl", DPORecord)
    assert {r.source_chosen for r in records} == {"rollout:1"}
    assert {r.source_rejected for r in records} == {"gold", "rollout:3"}  # today's rule can reject the gold
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert info["pairs_by_source"] == {"rollout": {"gold": 1, "rollout": 1}}

    # A gold beyond --max-chosen gives no pair rather than a pair that rejects it.
    assert invoke(*base, "--max-chosen", "0.05").exit_code == 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert info["pairs"] == 0 and info["no_pair"]["gold_above_max"] == 1
    assert "--chosen 'first'" in str(invoke(*base, "--chosen", "first").exception)
