"""``cotgen eval``: metrics per fold and overall, baselines in the same report, splits, failures, intervals."""

import json

import numpy as np
import pytest
from test_pairs_support import CLASSES, make_trace, make_utterance
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.divergence import as_vector
from cotgen.records.trace import render_trace
from cotgen.records.utterance import write_utterances
from cotgen.scoring.metrics import evaluate

VOTES = [
    {"ang": 3, "sad": 2},
    {"hap": 5},
    {"neu": 2, "hap": 2, "sad": 1},
    {"sad": 4, "neu": 1},
    {"ang": 1, "neu": 1, "hap": 1, "sad": 1},
    {"hap": 3, "neu": 2},
]


def invoke(*args):
    return CliRunner().invoke(get_app(), list(args))


@pytest.fixture
def reference(tmp_path):
    utterances = [
        make_utterance(f"s{session}_{i}", votes, session=str(session))
        for session in (1, 2, 3)
        for i, votes in enumerate(VOTES)
        if (i + session) % 3 != 0 or i < 2
    ]
    path = tmp_path / "utterances.jsonl"
    write_utterances(path, utterances)
    return path, utterances


def _predict(utterance):
    h = as_vector(utterance.distribution, CLASSES)
    return 0.7 * h + 0.3 * np.roll(h, 1)


def _write_predictions(tmp_path, utterances):
    lines = []
    for i, u in enumerate(utterances[:-1]):  # the last one is missing
        p = _predict(u)
        if i % 2:
            lines.append({"id": u.id, "distribution": dict(zip(CLASSES, p.tolist()))})
        else:  # a generated text, read with the trace parser (two printed decimals)
            trace = make_trace(dict(zip(CLASSES, p.tolist())), "high", tuple(CLASSES))
            lines.append({"id": u.id, "text": "Here you go:\n" + render_trace(trace)})
    lines[3] = {"id": lines[3]["id"], "text": "<acoustic>loud</acoustic> I cannot tell."}  # parse failure
    lines.append({"id": "not_in_reference", "distribution": {c: 0.25 for c in CLASSES}})
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path, lines


def _model_matrix(lines, utterances):
    from cotgen.records.trace import parse_sections

    rows = {}
    for line in lines:
        if "distribution" in line:
            d = line["distribution"]
            rows[line["id"]] = np.array([d[c] for c in CLASSES]) / sum(d.values())
        elif "<distribution>" in line["text"]:
            rows[line["id"]] = as_vector(parse_sections(line["text"], CLASSES).distribution, CLASSES)
    kept = [u for u in utterances if u.id in rows]
    return kept, np.stack([as_vector(u.distribution, CLASSES) for u in kept]), np.stack([rows[u.id] for u in kept])


def test_overall_report_counts_failures_and_matches_the_metric_functions(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "report.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "parse failures 1" in result.output and "majority" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    counts = report["counts"]
    assert counts["reference"] == len(utterances)
    assert counts["parse_failures"] == 1 and counts["missing"] == 1 and counts["unknown_ids"] == 1
    assert counts["evaluated"] == len(utterances) - 2
    kept, human, model = _model_matrix(lines, utterances)
    rows = {r["system"]: r for r in report["results"] if r["fold"] == "overall"}
    assert set(rows) == {"model", "uniform", "prior", "majority"}
    expected = evaluate(human, model)
    for name, value in rows["model"]["metrics"].items():
        assert value == pytest.approx(expected[name], nan_ok=True) if value is not None else np.isnan(expected[name])
    uniform = evaluate(human, np.full_like(human, 0.25))
    assert rows["uniform"]["metrics"]["js"] == pytest.approx(uniform["js"])
    all_human = np.stack([as_vector(u.distribution, CLASSES) for u in utterances])
    prior = evaluate(human, np.tile(all_human.mean(axis=0), (len(human), 1)))
    assert rows["prior"]["metrics"]["brier"] == pytest.approx(prior["brier"])
    assert rows["majority"]["metrics"]["accuracy"] == 1.0
    assert rows["model"]["metrics"]["js"] < rows["uniform"]["metrics"]["js"]


def test_by_session_takes_the_prior_from_the_other_sessions(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "report.json"
    assert invoke("eval", "--pred", str(pred), "--ref", str(ref), "--by", "session", "--out", str(out)).exit_code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert {r["fold"] for r in report["results"]} == {"1", "2", "3", "overall"}
    kept, human, _ = _model_matrix(lines, utterances)
    for session in ("1", "2", "3"):
        members = np.array([u.session == session for u in kept])
        others = np.stack([as_vector(u.distribution, CLASSES) for u in utterances if u.session != session])
        expected = evaluate(human[members], np.tile(others.mean(axis=0), (members.sum(), 1)))
        row = next(r for r in report["results"] if r["fold"] == session and r["system"] == "prior")
        assert row["n"] == members.sum()
        assert row["metrics"]["js"] == pytest.approx(expected["js"])
        assert row["metrics"]["kl"] == pytest.approx(expected["kl"])


def test_ids_restrict_to_a_split_and_bootstrap_is_seeded(tmp_path, reference):
    ref, utterances = reference
    pred, _ = _write_predictions(tmp_path, utterances)
    split = tmp_path / "test.jsonl"
    chosen = [u.id for u in utterances[:6]]
    split.write_text("".join(json.dumps({"id": uid, "messages": []}) + "\n" for uid in chosen), encoding="utf-8")
    reports = []
    for name in ("a.json", "b.json"):
        args = ["eval", "--pred", str(pred), "--ref", str(ref), "--ids", str(split), "--bootstrap", "30", "--seed", "4"]
        assert invoke(*args, "--out", str(tmp_path / name)).exit_code == 0
        reports.append(json.loads((tmp_path / name).read_text(encoding="utf-8")))
    assert reports[0]["results"] == reports[1]["results"]
    counts = reports[0]["counts"]
    assert counts["reference"] == 6 and counts["outside_ids"] == len(utterances) - 1 - 6
    model = next(r for r in reports[0]["results"] if r["system"] == "model")
    low, high = model["ci95"]["js"]
    assert low <= model["metrics"]["js"] <= high


def test_malformed_prediction_lines_are_errors_naming_the_line(tmp_path, reference):
    ref, utterances = reference
    pred = tmp_path / "pred.jsonl"
    line = json.dumps({"id": utterances[0].id, "distribution": {c: 0.25 for c in CLASSES}})
    pred.write_text(line + "\n" + line + "\n", encoding="utf-8")
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref))
    assert result.exit_code != 0 and "pred.jsonl:2: second prediction" in str(result.exception)
    pred.write_text("{not json\n", encoding="utf-8")
    assert "pred.jsonl:1: not JSON" in str(invoke("eval", "--pred", str(pred), "--ref", str(ref)).exception)
    assert "--by 'room'" in str(invoke("eval", "--pred", str(pred), "--ref", str(ref), "--by", "room").exception)
