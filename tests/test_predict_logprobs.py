"""`cotgen predict --readout logprobs` against a loopback server that returns logprobs in OpenAI's and vLLM's shape.

The server returns, per generated token, its logprob and the top-k alternatives. The readout must find
the label position, renormalise the class tokens' probabilities there, record the mass outside them and
the classes beyond the top-k, refuse a label written as two tokens, and count a missing label line as a
parse failure; predictions.jsonl keeps both distributions, and eval scores either.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import Choice, LoopbackServer, split_tokens, student_text

from cotgen.build.run import BuildConfig, run_build
from cotgen.core.errors import CotgenError
from cotgen.predict import PredictConfig, run_predict
from cotgen.predict.label_readout import read_label_logprobs
from cotgen.records.prediction import PredictionRecord
from cotgen.records.utterance import iter_utterances
from cotgen.scoring.evaluate import run_evaluation

# The label position's alternatives of the "valid" answers: hap most likely, a non-class token in between.
LABEL_ALTERNATIVES = {" hap": 0.5, " neu": 0.2, " the": 0.1, " ang": 0.12, " sad": 0.08}


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built")
    run_build(BuildConfig(out=out, cache=tmp_path_factory.mktemp("feature-cache"), progress=False, limit=4))
    return out


@pytest.fixture
def run(tmp_path: Path, built_run: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(built_run, folder)
    return folder


def _answer(body: dict, classes: tuple[str, ...], kind: str) -> Choice:
    """A trained student's answer with its tokens: a label of one token, of two, or no label line."""
    text = body["messages"][1]["content"][1]["text"]
    trace = student_text(classes, text)
    head = [(t, {t: 1.0}) for t in split_tokens(trace + "\n")]
    if kind == "no_label":
        return Choice(trace, tokens=tuple(head[:-1]))
    prefix = [("Label", {"Label": 1.0}), (":", {":": 1.0})]
    if kind == "split":
        label = [(" ne", {" ne": 0.7, " hap": 0.3}), ("u", {"u": 1.0})]
        return Choice(trace + "\nLabel: neu", tokens=(*head, *prefix, *label))
    return Choice(trace + "\nLabel: hap", tokens=(*head, *prefix, (" hap", LABEL_ALTERNATIVES)))


def _responder(kinds: dict[str, str]):
    def respond(body: dict, classes: tuple[str, ...]) -> Choice:
        text = body["messages"][1]["content"][1]["text"]
        kind = next((k for marker, k in kinds.items() if marker in text), "valid")
        return _answer(body, classes, kind)

    return respond


def _predict(srv: LoopbackServer, run: Path, tmp_path: Path, **options: Any):
    settings: dict[str, Any] = {
        "model": "openai:student",
        "run_dir": run,
        "base_url": srv.base_url,
        "cache": tmp_path / "cache",
        "timeout": 10.0,
        "backoff_base": 0.01,
        "concurrency": 2,
        "readout": "logprobs",
        "limit": 4,
    }
    settings.update(options)
    return run_predict(PredictConfig(**settings))


def _lines(path: Path) -> list[PredictionRecord]:
    return [PredictionRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def _kinds(run: Path) -> tuple[list[str], dict[str, str]]:
    utterances = list(iter_utterances(run / "utterances.jsonl"))[:4]
    kinds = ["valid", "valid", "split", "no_label"]
    return [u.id for u in utterances], {
        json.dumps(u.transcript, ensure_ascii=False): kind for u, kind in zip(utterances, kinds)
    }


def test_the_label_position_is_read_and_both_distributions_are_kept(run: Path, tmp_path: Path) -> None:
    ids, kinds = _kinds(run)
    with LoopbackServer(responder=_responder(kinds)) as srv:
        summary = _predict(srv, run, tmp_path, top_logprobs=4)
        bodies = [r.body for r in srv.chat_requests]
    assert all(body["logprobs"] is True and body["top_logprobs"] == 4 for body in bodies)
    lines = {r.id: r for r in _lines(run / "predictions.jsonl")}
    valid = lines[ids[0]]
    # The server sent the 4 likeliest: hap .5, neu .2, ang .12, the .1; sad (.08) fell outside the top 4.
    found = {"hap": 0.5, "neu": 0.2, "ang": 0.12}
    total = sum(found.values())
    assert valid.logprobs is not None and valid.logprobs.error is None
    assert valid.logprobs.distribution == pytest.approx(
        {code: found.get(code, 0.0) / total for code in ("neu", "hap", "ang", "sad")}
    )
    assert valid.logprobs.outside_mass == pytest.approx(1 - total)
    assert valid.logprobs.missing == ["sad"]
    assert valid.logprobs.token == " hap" and valid.logprobs.top_k == 4
    # The written distribution is kept beside it, parsed from the text as before.
    assert valid.error is None and valid.distribution is not None and valid.distribution != valid.logprobs.distribution
    split = lines[ids[2]].logprobs
    assert split is not None and split.distribution is None
    assert split.error.startswith("label_split: the label 'neu' is 2 tokens (' ne' + 'u')")
    no_label = lines[ids[3]].logprobs
    assert no_label is not None and no_label.error.startswith("no_label: ")
    assert lines[ids[3]].error is None  # the text's own distribution is still there
    assert summary.logprob_readouts == {"label_split": 1, "no_label": 1, "read": 2}

    # eval scores either readout: the label-less and the split answer are parse failures of the logprob one.
    reference = run / "utterances.jsonl"
    by_text = run_evaluation(run / "predictions.jsonl", reference, readout="text")
    by_logprobs = run_evaluation(run / "predictions.jsonl", reference, readout="logprobs")
    assert by_text["counts"]["with_prediction"] == 4 and by_text["counts"]["parse_failures"] == 0
    assert by_logprobs["counts"]["with_prediction"] == 2 and by_logprobs["counts"]["parse_failures"] == 2
    reasons = by_logprobs["parse_failure_reasons"]
    assert sum(n for reason, n in reasons.items() if reason.startswith("label_split")) == 1
    assert sum(n for reason, n in reasons.items() if reason.startswith("no_label")) == 1


def test_the_command_line_asks_for_logprobs_and_eval_shows_both_readouts(
    run: Path, tmp_path: Path, cotgen: Any
) -> None:
    ids, kinds = _kinds(run)
    with LoopbackServer(responder=_responder(kinds)) as srv:
        shown = cotgen(
            "predict", "--in", str(run), "--model", "openai:student", "--base-url", srv.base_url,
            "--limit", "4", "--readout", "logprobs", "--top-logprobs", "5", "--no-progress",
        )  # fmt: skip
        assert shown.code == 0, shown.err
        assert all(r.body["top_logprobs"] == 5 for r in srv.chat_requests)
    assert "logprob readout: label_split 1, no_label 1, read 2" in shown.out
    shown = cotgen("eval", "--in", str(run), "--pred", str(run / "predictions.jsonl"), "--readout", "both",
                   "--output", str(tmp_path / "eval.json"))  # fmt: skip
    assert shown.code == 0, shown.err
    side_by_side = shown.out[shown.out.index("the model, read") :]
    assert "(4 of 24 read)" in side_by_side and "(2 of 24 read)" in side_by_side
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["readouts"]["logprobs"]["readout"] == "logprobs"
    assert report["readouts"]["text"]["counts"]["with_prediction"] == 4


def test_the_logprobs_are_cached_and_a_text_readout_asks_for_none(run: Path, tmp_path: Path) -> None:
    ids, kinds = _kinds(run)
    with LoopbackServer(responder=_responder(kinds)) as srv:
        _predict(srv, run, tmp_path, out=tmp_path / "first.jsonl")
        asked = len(srv.chat_requests)
        _predict(srv, run, tmp_path, out=tmp_path / "second.jsonl")
        assert len(srv.chat_requests) == asked  # every answer, logprobs included, came from the cache
        _predict(srv, run, tmp_path, out=tmp_path / "text.jsonl", readout="text")
        text_bodies = [r.body for r in srv.chat_requests[asked:]]
    first, second = _lines(tmp_path / "first.jsonl"), _lines(tmp_path / "second.jsonl")
    assert {r.id: r.logprobs for r in first} == {r.id: r.logprobs for r in second}
    assert text_bodies and all("logprobs" not in body and "top_logprobs" not in body for body in text_bodies)
    assert all(r.logprobs is None for r in _lines(tmp_path / "text.jsonl"))


def test_a_top_k_beyond_what_the_server_allows_is_the_servers_refusal(run: Path, tmp_path: Path) -> None:
    _, kinds = _kinds(run)
    with LoopbackServer(responder=_responder(kinds)) as srv, pytest.raises(CotgenError, match="top_logprobs"):
        _predict(srv, run, tmp_path, top_logprobs=21)
    with pytest.raises(CotgenError, match="--top-logprobs must be at least 1"):
        PredictConfig(model="openai:m", readout="logprobs", top_logprobs=0).check()
    with pytest.raises(CotgenError, match="--readout 'logits'"):
        PredictConfig(model="openai:m", readout="logits").check()


def _tokens(text_tokens: list[str], label_alternatives: dict[str, float]) -> list[dict[str, Any]]:
    entries = [{"token": t, "logprob": 0.0, "top": [[t, 0.0]]} for t in text_tokens]
    label = entries[-1]["token"]
    entries[-1] = {
        "token": label,
        "logprob": math.log(label_alternatives[label]),
        "top": [[t, math.log(p)] for t, p in label_alternatives.items()],
    }
    return entries


@given(st.dictionaries(st.sampled_from([" neu", " hap", " ang", " sad", " x", " y"]), st.floats(0.01, 1.0), min_size=1))
def test_the_distribution_is_the_class_tokens_renormalised(weights: dict[str, float]) -> None:
    total = sum(weights.values())
    alternatives = {token: w / total for token, w in weights.items()}
    label = max(alternatives, key=alternatives.__getitem__)
    tokens = _tokens(["<distribution>{}", "</distribution>", "\n", "Label", ":", label], alternatives)
    readout = read_label_logprobs(tokens, ["neu", "hap", "ang", "sad"], None, 20)
    classes = {f" {c}": c for c in ("neu", "hap", "ang", "sad")}
    if label not in classes:
        assert readout.error is not None and readout.error.startswith("label_unknown")
        return
    in_classes = sum(p for t, p in alternatives.items() if t in classes)
    assert readout.distribution == pytest.approx({c: alternatives.get(t, 0.0) / in_classes for t, c in classes.items()})
    assert sum(readout.distribution.values()) == pytest.approx(1.0)
    assert readout.outside_mass == pytest.approx(1 - in_classes, abs=1e-9)
    assert readout.missing == [c for t, c in classes.items() if t not in alternatives]


def test_label_words_of_an_export_are_what_the_readout_looks_for() -> None:
    words = {"neu": "neutral", "hap": "happy"}
    tokens = _tokens(["</distribution>", "\n", "Label", ":", " happy"], {" happy": 0.6, " neutral": 0.3, " hap": 0.1})
    readout = read_label_logprobs(tokens, ["neu", "hap"], words, 20)
    assert readout.distribution == pytest.approx({"neu": 1 / 3, "hap": 2 / 3})
    assert readout.outside_mass == pytest.approx(0.1)
    assert read_label_logprobs(None, ["neu"], None, 20).error.startswith("no_logprobs")
