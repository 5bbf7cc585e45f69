"""The counterfactual source: the run's teacher rationalises corrupted distributions, cached, priced, resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from loopback_server import LoopbackServer
from test_pairs_support import read_records
from typer.testing import CliRunner

from cotgen.build.run import BuildConfig, run_build
from cotgen.cli.main import get_app
from cotgen.core.divergence import format_distribution, round_distribution
from cotgen.pairs.candidates import kind_of_sample
from cotgen.pairs.corrupt import corrupted_distribution
from cotgen.records.run_records import DPORecord, TraceRecord
from cotgen.records.trace import parse_trace
from cotgen.records.utterance import iter_utterances
from cotgen.teachers.template import ambiguity


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(get_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _traces(path: Path) -> list[TraceRecord]:
    return [TraceRecord.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cf-cache")
    run_build(BuildConfig(out=tmp_path_factory.mktemp("warm"), cache=folder, progress=False))
    return folder


def test_template_teacher_counterfactuals_are_its_rationalisations_of_the_corruptions(tmp_path, feature_cache):
    run = tmp_path / "demo"
    _invoke("build", "--out", str(run), "--cache", str(feature_cache))
    output = _invoke("pairs", "--in", str(run), "--source", "gold,counterfactual", "--per-utterance", "4")
    assert "counterfactual traces asked" in output
    made = _traces(run / "counterfactual" / "traces.jsonl")
    golds = {t.id: t for t in _traces(run / "traces.jsonl")}
    assert made and all(t.mode == "rationalize" and 1 <= t.sample <= 4 and t.teacher == "template" for t in made)
    for record in made:
        # The template teacher wrote it from the corrupted target: its own ambiguity rule, the gold's cues.
        assert record.trace.ambiguity == ambiguity(record.distribution)
        assert record.trace.acoustic == golds[record.id].trace.acoustic
        assert record.distribution != golds[record.id].distribution and record.faithfulness == 1.0
    pairs = read_records(run / "dpo.jsonl", DPORecord)
    assert {p.source_chosen for p in pairs} == {"gold"}
    assert {p.source_rejected.split(":")[0] for p in pairs} == {"counterfactual"}
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    cf = info["counterfactual"]
    # A corruption the gold's cues point away from is rejected as inconsistent (records/consistency.py): a
    # counterfactual should differ from the gold in its distribution, not in whether its reasoning holds together.
    assert cf["items"] == len(made) + cf["rejects"] and cf["traces"] == len(made) and cf["skipped"] == 0
    assert set(cf["reject_reasons"]) <= {"inconsistent"} and not cf["cost_usd"]
    # With the template teacher the corrupt and counterfactual texts coincide: the same rule wrote both.
    _invoke("pairs", "--in", str(run), "--source", "gold,corrupt,counterfactual", "--per-utterance", "8")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert info["counterfactual"]["skipped"] == cf["items"] and info["counterfactual"]["traces"] == 0  # resumed
    assert "counterfactual" not in info["candidates"]  # every counterfactual text was already a corruption


def test_model_teacher_counterfactuals_are_asked_once_cached_priced_and_resumed(tmp_path, feature_cache, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cache = tmp_path / "cache"
    shutil.copytree(feature_cache, cache, ignore=shutil.ignore_patterns("responses.sqlite*"))
    run = tmp_path / "run"
    with LoopbackServer() as srv:
        config = BuildConfig(
            teacher="openai:loopback",
            base_url=srv.base_url,
            out=run,
            cache=cache,
            progress=False,
            limit=2,
            price_in=1.0,
            price_out=2.0,
            timeout=5.0,
        )
        run_build(config)
        built = len(srv.chat_requests)
        _invoke("pairs", "--in", str(run), "--source", "gold,counterfactual", "--max-chosen", "10", "--margin", "0")
        asked = srv.chat_requests[built:]
        golds = [t for t in _traces(run / "traces.jsonl") if t.sample == 0]
        made = _traces(run / "counterfactual" / "traces.jsonl")
        assert len(golds) == 2 and len(asked) == len(made) > 0
        assert {t.teacher for t in made} == {"openai:loopback"}
        # Each request is the rationalize prompt with a corrupted gold distribution where the votes would be
        # (the loopback teacher answers with the distribution its prompt states).
        prompts = [request.body["messages"][1]["content"] for request in asked]
        utterances = {u.id: u for u in iter_utterances(run / "utterances.jsonl")}
        gold_by_id = {g.id: g for g in golds}
        for record in made:
            utt, gold = utterances[record.id], gold_by_id[record.id]
            kind = kind_of_sample(record.sample)
            target = round_distribution(
                corrupted_distribution(kind, gold.distribution, utt.distribution, utt.majority, utt.classes)
            )
            assert record.distribution == target
            assert sum(format_distribution(target) in p and utt.transcript in p for p in prompts) >= 1
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
        cf = info["counterfactual"]
        assert cf["usage"]["requests"] == len(asked) and cf["cost_usd"] > 0
        pairs = read_records(run / "dpo.jsonl", DPORecord)
        assert pairs and {p.source_rejected.split(":")[0] for p in pairs} == {"counterfactual"}
        for pair in pairs:
            parse_trace(pair.rejected[0]["content"], list(pair.human_distribution))  # the teacher's own text
        # A rerun asks nothing: every item is done; with the files gone, the response cache answers.
        _invoke("pairs", "--in", str(run), "--source", "gold,counterfactual")
        assert len(srv.chat_requests) == built + len(asked)
        shutil.rmtree(run / "counterfactual")
        _invoke("pairs", "--in", str(run), "--source", "gold,counterfactual")
        assert len(srv.chat_requests) == built + len(asked)
        assert len(_traces(run / "counterfactual" / "traces.jsonl")) == len(made)
