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


def _model_rows(lines, classes=CLASSES):
    """id -> the distribution each readable prediction line carries, as eval reads it."""
    from cotgen.records.trace import parse_sections

    rows = {}
    for line in lines:
        if "distribution" in line:
            d = line["distribution"]
            rows[line["id"]] = np.array([d[c] for c in classes]) / sum(d.values())
        elif "<distribution>" in line["text"]:
            rows[line["id"]] = as_vector(parse_sections(line["text"], classes).distribution, classes)
    return rows


def _model_matrix(lines, utterances, missing="uniform"):
    rows = _model_rows(lines)
    kept = [u for u in utterances if u.id in rows or missing == "uniform"]
    model = np.stack([rows.get(u.id, np.full(len(CLASSES), 0.25)) for u in kept])
    return kept, np.stack([as_vector(u.distribution, CLASSES) for u in kept]), model


def _overall(report):
    return {r["system"]: r for r in report["results"] if r["fold"] == "overall"}


def _assert_metrics(row, expected):
    for name, value in row["metrics"].items():
        assert value == pytest.approx(expected[name]) if value is not None else np.isnan(expected[name]), name


def test_missing_and_unreadable_predictions_are_scored_as_uniform_and_counted(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "report.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "parse failures 1" in result.output and "scored as uniform 2" in result.output
    assert "top parse-failure reasons" in result.output and "missing <lexical>…</lexical> section" in result.output
    assert "oracle†" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    counts = report["counts"]
    assert counts["reference"] == counts["evaluated"] == len(utterances)
    assert counts["parse_failures"] == 1 and counts["missing"] == 1 and counts["unknown_ids"] == 1
    assert counts["scored_as_uniform"] == 2 and counts["with_prediction"] == len(utterances) - 2
    assert report["parse_failure_reasons"] == {"missing <lexical>…</lexical> section": 1}
    kept, human, model = _model_matrix(lines, utterances)
    rows = _overall(report)
    # Without --ids, --train-ids or --by there are no training utterances to take a prior from.
    assert set(rows) == {"model", "uniform", "oracle"} and report["prior_source"] is None
    assert rows["oracle"]["oracle"] and not rows["model"]["oracle"]
    _assert_metrics(rows["model"], evaluate(human, model))
    _assert_metrics(rows["uniform"], evaluate(human, np.full_like(human, 0.25)))
    assert rows["oracle"]["metrics"]["js"] == 0.0
    assert rows["model"]["metrics"]["js"] < rows["uniform"]["metrics"]["js"]


def test_an_eval_that_reads_no_prediction_exits_non_zero_with_the_reasons_on_screen(tmp_path, reference):
    """Lists instead of objects, a 'pred' key: every line unreadable, so the uniform stand-in is all that was scored."""
    ref, utterances = reference
    pred = tmp_path / "pred.jsonl"
    lines = [{"id": u.id, "distribution": [0.25] * len(CLASSES)} for u in utterances[:3]]
    lines += [{"id": u.id, "pred": {c: 0.25 for c in CLASSES}} for u in utterances[3:5]]
    pred.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "report.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--output", str(out))
    assert result.exit_code == 1, result.output
    assert "0 with a readable prediction" in result.output
    assert "top parse-failure reasons" in result.output
    assert "no prediction could be read" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["counts"]["parse_failures"] == 5  # the report is still kept
    readable = tmp_path / "one.jsonl"
    readable.write_text(json.dumps({"id": utterances[0].id, "distribution": {c: 0.25 for c in CLASSES}}) + "\n")
    assert invoke("eval", "--pred", str(readable), "--ref", str(ref)).exit_code == 0


def test_missing_drop_leaves_them_out_and_says_so(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "report.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--missing", "drop", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "dropped 2 (--missing drop)" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["counts"]["evaluated"] == len(utterances) - 2 and report["counts"]["dropped"] == 2
    kept, human, model = _model_matrix(lines, utterances, missing="drop")
    _assert_metrics(_overall(report)["model"], evaluate(human, model))


def test_by_session_takes_the_prior_from_the_other_sessions(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "report.json"
    assert (
        invoke("eval", "--pred", str(pred), "--ref", str(ref), "--by", "session", "--output", str(out)).exit_code == 0
    )
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


def _write_ids(path, ids, as_jsonl=True):
    text = "".join((json.dumps({"id": uid, "messages": []}) if as_jsonl else uid) + "\n" for uid in ids)
    path.write_text(text, encoding="utf-8")
    return path


def test_ids_take_the_prior_from_the_complement_or_from_train_ids_and_bootstrap_is_seeded(tmp_path, reference):
    ref, utterances = reference
    pred, _ = _write_predictions(tmp_path, utterances)
    split = _write_ids(tmp_path / "test.jsonl", [u.id for u in utterances[:6]])
    reports = []
    for name in ("a.json", "b.json"):
        args = ["eval", "--pred", str(pred), "--ref", str(ref), "--ids", str(split), "--bootstrap", "30", "--seed", "4"]
        assert invoke(*args, "--output", str(tmp_path / name)).exit_code == 0
        reports.append(json.loads((tmp_path / name).read_text(encoding="utf-8")))
    assert reports[0]["results"] == reports[1]["results"]
    counts = reports[0]["counts"]
    assert counts["reference"] == 6 and counts["outside_ids"] == len(utterances) - 1 - 6
    assert counts["train_utterances"] == len(utterances) - 6
    test_human = np.stack([as_vector(u.distribution, CLASSES) for u in utterances[:6]])
    train_human = np.stack([as_vector(u.distribution, CLASSES) for u in utterances[6:]])
    prior = _overall(reports[0])["prior"]
    assert prior["metrics"]["brier_sum"] == pytest.approx(
        evaluate(test_human, np.tile(train_human.mean(axis=0), (6, 1)))["brier_sum"]
    )
    model = _overall(reports[0])["model"]
    low, high = model["ci95"]["js"]
    assert low <= model["metrics"]["js"] <= high
    # --train-ids names the training utterances instead (plain lines of ids work too).
    train = _write_ids(tmp_path / "train.ids", [u.id for u in utterances[6:9]], as_jsonl=False)
    out = tmp_path / "c.json"
    args = ["eval", "--pred", str(pred), "--ref", str(ref), "--ids", str(split), "--train-ids", str(train)]
    assert invoke(*args, "--output", str(out)).exit_code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    three = np.stack([as_vector(u.distribution, CLASSES) for u in utterances[6:9]])
    assert report["counts"]["train_utterances"] == 3
    assert _overall(report)["prior"]["metrics"]["js"] == pytest.approx(
        evaluate(test_human, np.tile(three.mean(axis=0), (6, 1)))["js"]
    )
    overlap = _write_ids(tmp_path / "overlap.ids", [utterances[0].id], as_jsonl=False)
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--ids", str(split), "--train-ids", str(overlap))
    assert "also in --ids" in str(result.exception)


def _predict_line(uid, sample, distribution=None, error=None, text="..."):
    """A line of `cotgen predict`'s predictions.jsonl, every field of its contract."""
    return {
        "id": uid,
        "sample": sample,
        "model": "openai:student",
        "text": text,
        "distribution": distribution,
        "error": error,
        "usage": {"prompt_tokens": 10, "completion_tokens": 20},
        "fingerprint": "abc123",
        "schema_version": "1",
    }


def test_predict_files_are_read_as_they_are_and_sample_picks_first_or_mean(tmp_path, reference):
    ref, utterances = reference
    a, b = utterances[0], utterances[1]
    one = {c: 1.0 if c == "ang" else 0.0 for c in CLASSES}
    half = {"neu": 0.5, "hap": 0.5, "ang": 0.0, "sad": 0.0}
    lines = [
        _predict_line(a.id, 2, half),
        _predict_line(a.id, 1, one),
        _predict_line(a.id, 3, None, "missing <distribution>…</distribution> section"),
        _predict_line(b.id, 1, None, "missing <acoustic>…</acoustic> section"),
        _predict_line(b.id, 2, half),
    ]
    pred = tmp_path / "predictions.jsonl"
    pred.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ids = _write_ids(tmp_path / "ids", [a.id, b.id], as_jsonl=False)
    human = np.stack([as_vector(u.distribution, CLASSES) for u in (a, b)])
    uniform, p_one, p_half = np.full(4, 0.25), as_vector(one, CLASSES), as_vector(half, CLASSES)
    expected = {
        ("first", "uniform"): np.stack([p_one, uniform]),
        ("mean", "uniform"): np.stack([(p_one + p_half + uniform) / 3, (uniform + p_half) / 2]),
        ("mean", "drop"): np.stack([(p_one + p_half) / 2, p_half]),
    }
    for (sample, missing), model in expected.items():
        out = tmp_path / f"{sample}-{missing}.json"
        args = ["eval", "--pred", str(pred), "--ref", str(ref), "--ids", str(ids), "--sample", sample]
        result = invoke(*args, "--missing", missing, "--output", str(out))
        assert result.exit_code == 0, result.output
        report = json.loads(out.read_text(encoding="utf-8"))
        assert report["parse_failure_reasons"] == {
            "missing <distribution>…</distribution> section": 1,
            "missing <acoustic>…</acoustic> section": 1,
        }
        _assert_metrics(_overall(report)["model"], evaluate(human, model))
    assert "--sample 'last'" in str(
        invoke("eval", "--pred", str(pred), "--ref", str(ref), "--sample", "last").exception
    )


def test_wa_and_ua_compare_with_the_corpus_reference_label(tmp_path):
    from cotgen.records.utterance import Utterance

    def iemocap(uid, votes, header):
        base = make_utterance(uid, votes)
        return Utterance(**{**base.model_dump(), "corpus": "iemocap", "meta": {"header_label": header}})

    utterances = [
        iemocap("u1", {"hap": 2, "neu": 3}, "exc"),  # votes say neu; the corpus's label is exc, read as hap
        iemocap("u2", {"sad": 3, "neu": 2}, "sad"),
        iemocap("u3", {"ang": 1, "neu": 1}, "xxx"),  # no agreement: no reference label
    ]
    ref = tmp_path / "utterances.jsonl"
    write_utterances(ref, utterances)
    answer = {"u1": "hap", "u2": "sad", "u3": "ang"}
    rows = [{"id": u, "distribution": {c: float(c == a) for c in CLASSES}} for u, a in answer.items()]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "report.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--output", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["reference_label"] == "iemocap header_label" and report["counts"]["no_reference_label"] == 1
    model = _overall(report)["model"]["metrics"]
    assert model["wa_ref"] == 1.0 and model["ua_ref"] == 1.0  # u1 hap = exc read as hap; u2 sad
    assert model["wa_votes"] == 0.5  # u1's votes say neu, u2 sad; u3's votes tie
    assert _overall(report)["oracle"]["metrics"]["wa_ref"] == 0.5  # the votes themselves miss u1's label


def test_folds_print_a_per_fold_and_mean_table(tmp_path, reference):
    from cotgen.scoring.folds import fold_table

    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    folds = tmp_path / "folds"
    by_session = {s: [u for u in utterances if u.session == s] for s in ("1", "2", "3")}
    for session in by_session:
        (folds / f"loso_{session}").mkdir(parents=True)
    _write_ids(folds / "loso_1" / "test.ids", [u.id for u in by_session["1"]], as_jsonl=False)
    _write_ids(folds / "loso_2" / "sft_test.jsonl", [u.id for u in by_session["2"]])  # an export's split file
    _write_ids(folds / "loso_3" / "test.ids", [u.id for u in by_session["3"]], as_jsonl=False)
    own = [{"id": u.id, "distribution": {c: 0.25 for c in CLASSES}} for u in by_session["3"]]
    (folds / "loso_3" / "predictions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in own), encoding="utf-8")
    out = tmp_path / "folds.json"
    result = invoke("eval", "--folds", str(folds), "--pred", str(pred), "--ref", str(ref), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "loso_1" in result.output and "mean" in result.output and "WA ref" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert list(report["folds"]) == ["loso_1", "loso_2", "loso_3"]
    rows = {(r["row"], r["system"]): r for r in report["table"]}
    kept, human, model = _model_matrix(lines, utterances)
    for session in ("1", "2", "3"):
        members = np.array([u.session == session for u in kept])
        others = np.stack([as_vector(u.distribution, CLASSES) for u in utterances if u.session != session])
        fold_model = np.full((members.sum(), 4), 0.25) if session == "3" else model[members]
        expected = evaluate(human[members], fold_model)
        row = rows[(f"loso_{session}", "model")]
        assert row["n"] == members.sum()
        assert row["metrics"]["js"] == pytest.approx(expected["js"])
        assert row["metrics"]["r2"] == pytest.approx(expected["r2"])
        prior = evaluate(human[members], np.tile(others.mean(axis=0), (members.sum(), 1)))
        assert rows[(f"loso_{session}", "prior")]["metrics"]["brier_sum"] == pytest.approx(prior["brier_sum"])
    for metric in report["table_metrics"]:
        values = [rows[(f"loso_{s}", "model")]["metrics"][metric] for s in ("1", "2", "3")]
        assert rows[("mean", "model")]["metrics"][metric] == pytest.approx(np.mean(values))
        assert rows[("std", "model")]["metrics"][metric] == pytest.approx(np.std(values, ddof=1))
    assert rows[("mean", "oracle")]["oracle"]
    assert fold_table({"only": report["folds"]["loso_1"]})[-1]["metrics"]["js"] is None  # std of one fold
    (folds / "empty").mkdir()
    result = invoke("eval", "--folds", str(folds), "--pred", str(pred), "--ref", str(ref))
    assert "neither test.ids nor an export's *_test.jsonl" in str(result.exception)


def test_a_fold_without_training_utterances_is_an_error_not_a_silently_missing_prior(tmp_path, reference):
    ref, utterances = reference
    pred, _ = _write_predictions(tmp_path, utterances)
    fold = tmp_path / "folds" / "fold_1"
    fold.mkdir(parents=True)
    _write_ids(fold / "test.ids", [u.id for u in utterances if u.session == "1"], as_jsonl=False)
    (fold / "train.ids").write_text("", encoding="utf-8")  # what loso:all wrote on two sessions before
    result = invoke("eval", "--folds", str(tmp_path / "folds"), "--pred", str(pred), "--ref", str(ref))
    assert result.exit_code != 0 and "train.ids: no id in the file" in str(result.exception)
    (fold / "train.ids").write_text("another_runs_id\n", encoding="utf-8")  # a fold of some other run
    result = invoke("eval", "--folds", str(tmp_path / "folds"), "--pred", str(pred), "--ref", str(ref))
    assert result.exit_code != 0
    assert "none of the fold's training ids" in str(result.exception) and "re-export" in str(result.exception)


def test_malformed_prediction_lines_are_errors_naming_the_line(tmp_path, reference):
    ref, utterances = reference
    pred = tmp_path / "pred.jsonl"
    line = json.dumps({"id": utterances[0].id, "distribution": {c: 0.25 for c in CLASSES}})
    pred.write_text(line + "\n" + line + "\n", encoding="utf-8")
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref))
    assert result.exit_code != 0 and "pred.jsonl:2: second prediction for id" in str(result.exception)
    pred.write_text("{not json\n", encoding="utf-8")
    shown = str(invoke("eval", "--pred", str(pred), "--ref", str(ref)).exception)
    assert "pred.jsonl:1: not a prediction line" in shown and "invalid json" in shown
    assert "--by 'room'" in str(invoke("eval", "--pred", str(pred), "--ref", str(ref), "--by", "room").exception)


# Agreement strata of VOTES on four classes (normalised entropy = entropy in bits / 2): 3-2 is 0.485 (mild),
# 5 is 0 (unanimous), 2-2-1 is 0.761 (strong), 4-1 is 0.361 (mild), 1-1-1-1 is 1 (strong), 3-2 mild.
VOTE_STRATA = ["mild", "unanimous", "strong", "mild", "strong", "mild"]


def test_every_metric_by_agreement_stratum_and_annotator_count_with_the_count_per_bin(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "eval.json"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "model by agreement" in result.output and "unanimous" in result.output and "5 annotators" in result.output
    report = json.loads(out.read_text())
    kept, human, model = _model_matrix(lines, utterances)
    stratum = {f"s{s}_{i}": VOTE_STRATA[i] for s in (1, 2, 3) for i in range(len(VOTES))}
    labels = np.array([stratum[u.id] for u in kept])
    annotators = np.array([u.n_annotators for u in kept])
    rows = {(r["by"], r["stratum"], r["system"]): r for r in report["strata"]}
    for name in ("unanimous", "mild", "strong"):
        mask = labels == name
        row = rows[("agreement", name, "model")]
        assert row["n"] == mask.sum() > 0
        _assert_metrics(row, evaluate(human[mask], model[mask]))
        assert rows[("agreement", name, "oracle")]["metrics"]["classwise_ece"] == pytest.approx(0.0, abs=1e-12)
    for count in (4, 5):
        mask = annotators == count
        row = rows[("annotators", f"{count} annotators", "model")]
        assert row["n"] == mask.sum() > 0
        _assert_metrics(row, evaluate(human[mask], model[mask]))
    assert sum(rows[("agreement", n, "model")]["n"] for n in ("unanimous", "mild", "strong")) == len(kept)
    assert report["agreement_strata"]["mild"] == "0 < normalised entropy <= 0.5"
    assert report["definitions"]["brier_sum"].startswith("Brier's multi-class score: squared differences summed")
    assert report["definitions"]["brier_mean"].startswith("mean squared error over utterances and classes")
    assert len(report["reliability"]["counts"]) == len(CLASSES)
    assert all(sum(row) == len(kept) for row in report["reliability"]["counts"])


def test_compare_two_prediction_files_paired(tmp_path, reference):
    ref, utterances = reference
    pred, lines = _write_predictions(tmp_path, utterances)
    out = tmp_path / "same.json"
    result = invoke("eval", "--pred", str(pred), "--compare", str(pred), "--ref", str(ref), "--resamples", "40")
    assert result.exit_code == 0, result.output
    assert "model − compared" in result.output
    invoke(
        "eval",
        "--pred",
        str(pred),
        "--compare",
        str(pred),
        "--ref",
        str(ref),
        "--resamples",
        "40",
        "--output",
        str(out),
    )
    same = json.loads(out.read_text())["comparison"]
    assert same["n"] == len(utterances)
    for metric, row in same["metrics"].items():
        if row["difference"] is not None:
            assert row["difference"] == 0.0 and row["p"] == 1.0 and row["p_holm"] == 1.0, metric
    kept, human, model = _model_matrix(lines, utterances)
    other = tmp_path / "other.jsonl"
    other.write_text(
        "".join(json.dumps({"id": u.id, "distribution": {c: 0.25 for c in CLASSES}}) + "\n" for u in utterances),
        encoding="utf-8",
    )
    out = tmp_path / "other.json"
    args = ["--pred", str(pred), "--compare", str(other), "--ref", str(ref), "--resamples", "60", "--seed", "3"]
    assert invoke("eval", *args, "--names", "sft,flat", "--output", str(out)).exit_code == 0
    comparison = json.loads(out.read_text())["comparison"]
    a, b = evaluate(human, model), evaluate(human, np.full_like(model, 0.25))
    for metric in ("js", "bc", "brier_sum", "brier_mean", "classwise_ece"):
        assert comparison["metrics"][metric]["difference"] == pytest.approx(a[metric] - b[metric])
    assert comparison["metrics"]["js"]["ci"][0] <= comparison["metrics"]["js"]["difference"]
    assert comparison["metrics"]["js"]["difference"] <= comparison["metrics"]["js"]["ci"][1]
    result = invoke("eval", *args, "--names", "only-one")
    assert "--names 'only-one': expected two display names" in str(result.exception)


def _fold_reference_rows(report, system):
    """fold -> the overall metrics of ``system`` in each per-fold report."""
    return {
        fold: next(r for r in rep["results"] if r["fold"] == "overall" and r["system"] == system)["metrics"]
        for fold, rep in report["folds"].items()
    }


def test_the_paper_table_over_folds_has_every_cell_right_in_markdown_latex_and_csv(tmp_path, reference):
    import csv

    ref, utterances = reference
    pred, _ = _write_predictions(tmp_path, utterances)
    folds, compared = tmp_path / "folds", tmp_path / "baseline_run"
    for session in ("1", "2", "3"):
        members = [u for u in utterances if u.session == session]
        (folds / f"fold_{session}").mkdir(parents=True)
        _write_ids(folds / f"fold_{session}" / "test.ids", [u.id for u in members], as_jsonl=False)
        (compared / f"fold_{session}").mkdir(parents=True)
        rows = [{"id": u.id, "distribution": dict(zip(CLASSES, np.roll(_predict(u), 1).tolist()))} for u in members]
        (compared / f"fold_{session}" / "predictions.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
        )
    out, prefix = tmp_path / "folds.json", tmp_path / "paper" / "table"
    args = ["--folds", str(folds), "--pred", str(pred), "--compare", str(compared), "--ref", str(ref)]
    result = invoke("eval", *args, "--names", "sft_dpo,sft", "--table", str(prefix), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "sft_dpo − sft, per fold" in result.output and "mean ± std over folds" in result.output
    report = json.loads(out.read_text())
    metrics = report["table_metrics"]
    assert metrics == ["js", "bc", "r2", "brier_sum", "brier_mean", "classwise_ece", "wa_ref", "ua_ref"]
    markdown = (tmp_path / "paper" / "table.md").read_text().splitlines()
    latex = (tmp_path / "paper" / "table.tex").read_text()
    with (tmp_path / "paper" / "table.csv").open(newline="") as handle:
        table_csv = list(csv.DictReader(handle))
    assert markdown[0] == "Mean ± standard deviation over 3 folds."
    assert markdown[2] == (
        "| system | JS ↓ | BC ↑ | R² ↑ | Brier (sum) ↓ | Brier (mean) ↓ | class-wise ECE ↓ | WA ref ↑ | UA ref ↑ |"
    )
    body = [line for line in markdown[4:] if line.startswith("|")]
    labels = ["sft_dpo", "sft", "uniform (baseline)", "prior (baseline)", "oracle†"]
    assert [line.split(" | ")[0].removeprefix("| ") for line in body] == labels
    assert [row["label"] for row in table_csv] == labels
    assert [row["role"] for row in table_csv] == ["model", "model", "baseline", "baseline", "oracle"]
    assert "† the human distribution itself: a ceiling, not a competitor.  " in markdown
    assert markdown[-3].startswith(
        "Brier (sum): Brier's multi-class score: squared differences summed over the classes"
    )
    assert markdown[-2].startswith("Brier (mean): mean squared error over utterances and classes (= brier_sum / k)")
    assert markdown[-1].startswith("class-wise ECE: class-wise ECE against the human shares")
    for line, row, system in zip(body, table_csv, ("model", "compared", "uniform", "prior", "oracle")):
        per_fold = _fold_reference_rows(report, system)
        cells = line.strip("| ").split(" | ")[1:]
        for metric, cell in zip(metrics, cells):
            values = [per_fold[f][metric] for f in ("fold_1", "fold_2", "fold_3") if per_fold[f][metric] is not None]
            mean, std = np.mean(values), np.std(values, ddof=1)
            assert cell == f"{mean:.3f} ± {std:.3f}", (system, metric)
            assert float(row[f"{metric}_mean"]) == pytest.approx(mean) and float(row[f"{metric}_std"]) == pytest.approx(
                std
            )
            assert f"{mean:.3f} $\\pm$ {std:.3f}".replace("-", "$-$") in latex
    assert "sft\\_dpo &" in latex and "oracle$^\\dagger$ &" in latex and "JS $\\downarrow$" in latex
    comparison = report["comparison"]["metrics"]
    model, base = _fold_reference_rows(report, "model"), _fold_reference_rows(report, "compared")
    for fold in ("fold_1", "fold_2", "fold_3"):
        assert comparison["js"]["differences"][fold] == pytest.approx(model[fold]["js"] - base[fold]["js"])
    assert invoke("eval", "--pred", str(pred), "--ref", str(ref), "--table", str(prefix)).exit_code != 0


def test_plot_draws_the_reliability_diagram_and_the_metric_by_agreement(tmp_path, reference):
    from matplotlib.image import imread

    ref, utterances = reference
    pred, _ = _write_predictions(tmp_path, utterances)
    png = tmp_path / "plots" / "eval.png"
    result = invoke("eval", "--pred", str(pred), "--ref", str(ref), "--plot", str(png))
    assert result.exit_code == 0, result.output
    image = imread(png)
    assert image.shape[:2] == (450, 1100)  # two panels at 100 dpi
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 20  # curves and bars, not a blank canvas
    refused = invoke("eval", "--folds", str(tmp_path), "--pred", str(pred), "--ref", str(ref), "--plot", str(png))
    assert refused.exit_code != 0
