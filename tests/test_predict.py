"""`cotgen predict` against the loopback server in student mode, through the real openai client.

What the server receives must be the SFT record's prompt byte for byte apart from the audio part,
and the audio part must have the documented shape for each --audio-part (decoded here: 16 kHz mono
16-bit WAV, resampled when the clip is not). Answers are tagged trace texts, some malformed, some
truncated, some without a distribution; K samples go as one n=K request where the server honours
it, K requests where it ignores or refuses n; resume after kill -9, the response cache and stale
fingerprints behave as in build.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import Choice, LoopbackServer, student_responder, student_text
from typer.testing import CliRunner

from cotgen.build.run import BuildConfig, run_build
from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.export.writer import export_folds, export_run
from cotgen.predict import PredictConfig, run_predict
from cotgen.records.prediction import PredictionRecord
from cotgen.records.run_records import SFTRecord
from cotgen.records.trace import parse_sections
from cotgen.records.utterance import Utterance, iter_utterances, write_utterances
from cotgen.teachers.openai_teacher import share_usage

DEMO_UTTERANCES = 24
LIMIT = 6


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template build of the demo corpus: utterances.jsonl and sft.jsonl, made once for the module."""
    out = tmp_path_factory.mktemp("built")
    run_build(BuildConfig(out=out, cache=tmp_path_factory.mktemp("feature-cache"), progress=False))
    return out


@pytest.fixture
def run(tmp_path: Path, built_run: Path) -> Path:
    """A private copy of the built run (predict writes predictions.jsonl and run.json into it)."""
    folder = tmp_path / "run"
    shutil.copytree(built_run, folder)
    return folder


@pytest.fixture
def student() -> Iterator[LoopbackServer]:
    with LoopbackServer(responder=student_responder) as srv:
        yield srv


def _predict(srv: LoopbackServer, run: Path, tmp_path: Path, **options: Any):
    settings: dict[str, Any] = {
        "model": "openai:student-lora",
        "run_dir": run,
        "base_url": srv.base_url,
        "cache": tmp_path / "cache",
        "limit": LIMIT,
        "timeout": 10.0,
        "backoff_base": 0.01,
        "concurrency": 2,
    }
    settings.update(options)
    return run_predict(PredictConfig(**settings))


def _lines(path: Path) -> list[PredictionRecord]:
    return [PredictionRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def _sft(run: Path) -> dict[str, SFTRecord]:
    records = (SFTRecord.model_validate_json(line) for line in (run / "sft.jsonl").read_text().splitlines())
    return {r.id: r for r in records}


def _audio_parts(body: dict) -> list[dict]:
    return [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"] if p["type"] != "text"]


def _decoded_wav(data: bytes) -> tuple[np.ndarray, Any]:
    info = soundfile.info(io.BytesIO(data))
    samples, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, info


# ---------------------------------------------------------------------------------------------
# What is sent


@pytest.mark.parametrize("audio_part", ["input_audio", "audio_url"])
def test_the_server_gets_the_sft_prompt_byte_for_byte_apart_from_the_audio_part(
    student: LoopbackServer, run: Path, tmp_path: Path, audio_part: str
) -> None:
    _predict(student, run, tmp_path, audio_part=audio_part)
    sft = _sft(run)
    requests = student.chat_requests
    assert len(requests) == LIMIT
    for request in requests:
        body = request.body
        transcript_line = body["messages"][1]["content"][1]["text"].splitlines()[0]
        record = next(r for r in sft.values() if r.prompt[1]["content"][1]["text"].splitlines()[0] == transcript_line)
        [part] = _audio_parts(body)
        assert body["messages"][1]["content"][0] is not None and body["messages"][1]["content"][0] == part
        # Put the record's own audio part back where the server's was: the rest must be the record, byte for byte.
        restored = json.loads(json.dumps(body["messages"]))
        restored[1]["content"][0] = {"type": "audio", "audio": record.audio}
        assert json.dumps(restored, ensure_ascii=False) == json.dumps(record.prompt, ensure_ascii=False)
        if audio_part == "input_audio":
            assert set(part) == {"type", "input_audio"} and part["type"] == "input_audio"
            assert set(part["input_audio"]) == {"data", "format"} and part["input_audio"]["format"] == "wav"
            data = base64.b64decode(part["input_audio"]["data"], validate=True)
        else:
            assert set(part) == {"type", "audio_url"} and part["type"] == "audio_url"
            url = part["audio_url"]["url"]
            prefix = "data:audio/wav;base64,"
            assert url.startswith(prefix)
            data = base64.b64decode(url[len(prefix) :], validate=True)
        samples, info = _decoded_wav(data)
        original = soundfile.info(record.audio)
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", 16_000, 1)
        assert info.frames == original.frames  # the demo clips are 16 kHz mono already: nothing resampled
        expected, _ = soundfile.read(record.audio, dtype="float32")
        assert np.max(np.abs(samples - expected)) < 1e-4
        assert "n" not in body and "response_format" not in body


def test_file_urls_point_at_the_clip_on_disk(student: LoopbackServer, run: Path, tmp_path: Path) -> None:
    _predict(student, run, tmp_path, audio_part="audio_url", file_urls=True, limit=2)
    audios = {u.id: u.audio for u in iter_utterances(run / "utterances.jsonl")}
    urls = [_audio_parts(r.body)[0]["audio_url"]["url"] for r in student.chat_requests]
    assert sorted(urls) == sorted(Path(audios[i]).resolve().as_uri() for i in list(audios)[:2])


def test_file_urls_need_audio_url_parts(run: Path, tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match="--file-urls needs --audio-part audio_url"):
        run_predict(PredictConfig(model="openai:m", run_dir=run, base_url="http://127.0.0.1:9/v1", file_urls=True))


def test_a_clip_at_another_rate_and_in_stereo_is_sent_as_16_khz_mono(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    rate, seconds = 44_100, 1.5
    t = np.arange(int(rate * seconds)) / rate
    left, right = 0.5 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 440 * t)
    clip = tmp_path / "stereo.flac"
    soundfile.write(clip, np.stack([left, right], axis=1), rate)
    utterances = list(iter_utterances(run / "utterances.jsonl"))
    utterances[0] = utterances[0].model_copy(update={"audio": str(clip)})
    write_utterances(run / "utterances.jsonl", utterances)
    _predict(student, run, tmp_path, limit=1)
    [request] = student.chat_requests
    data = base64.b64decode(_audio_parts(request.body)[0]["input_audio"]["data"])
    samples, info = _decoded_wav(data)
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert abs(info.frames - int(16_000 * seconds)) <= 2
    # The mix of both channels survived: its spectrum peaks at both tones.
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / 16_000)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert abs(top[0] - 220) < 2 and abs(top[1] - 440) < 2


def test_an_unreadable_clip_is_a_prediction_error_without_a_request(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    utterances = list(iter_utterances(run / "utterances.jsonl"))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    utterances[0] = utterances[0].model_copy(update={"audio": str(broken)})
    write_utterances(run / "utterances.jsonl", utterances)
    summary = _predict(student, run, tmp_path, limit=3, samples=2)
    lines = _lines(run / "predictions.jsonl")
    failed = [r for r in lines if r.id == utterances[0].id]
    assert len(failed) == 2 and all(r.error and r.error.startswith("audio: ") for r in failed)
    assert all(r.text == "" and r.distribution is None for r in failed)
    assert summary.errors == {"audio": 2} and summary.parsed == 4
    assert len(student.chat_requests) == 2


# ---------------------------------------------------------------------------------------------
# What comes back


def _scripted_responder(variants: dict[str, str]):
    """Answers by the transcript in the request: valid, malformed, truncated, no distribution, or prose."""

    def respond(body: dict, classes: tuple[str, ...]) -> str | Choice:
        text = body["messages"][1]["content"][1]["text"]
        kind = next((k for marker, k in variants.items() if marker in text), "valid")
        good = student_text(classes, text)
        if kind == "malformed":
            return good.replace("<lexical>", "<lexic>")
        if kind == "truncated":
            return Choice(good[: len(good) // 2], "length")
        if kind == "no_distribution":
            return good[: good.index("<distribution>")] + "I would rather not give numbers."
        if kind == "bad_sum":
            return good[: good.index("<distribution>")] + "<distribution>" + json.dumps(dict.fromkeys(classes, 0.5))
        return good

    return respond


def test_answers_are_parsed_with_the_trace_parser_and_failures_say_why(run: Path, tmp_path: Path) -> None:
    utterances = list(iter_utterances(run / "utterances.jsonl"))[:5]
    marker = {u.id: json.dumps(u.transcript, ensure_ascii=False) for u in utterances}
    kinds = ["valid", "malformed", "truncated", "no_distribution", "bad_sum"]
    variants = {marker[u.id]: kind for u, kind in zip(utterances, kinds)}
    with LoopbackServer(responder=_scripted_responder(variants)) as srv:
        summary = _predict(srv, run, tmp_path, limit=5)
    by_id = {r.id: r for r in _lines(run / "predictions.jsonl")}
    outcome = {kind: by_id[u.id] for u, kind in zip(utterances, kinds)}
    valid = outcome["valid"]
    assert valid.error is None and valid.text
    assert valid.distribution == parse_sections(valid.text, utterances[0].classes).distribution
    assert list(valid.distribution) == utterances[0].classes
    assert abs(sum(valid.distribution.values()) - 1) < 1e-9
    assert outcome["malformed"].error.startswith("unparsed: missing <lexical>")
    assert outcome["truncated"].error.startswith("truncated: ")
    assert outcome["no_distribution"].error.startswith("unparsed: missing <distribution>")
    assert outcome["bad_sum"].error.startswith("unparsed: ")
    for kind in kinds[1:]:
        assert outcome[kind].distribution is None and outcome[kind].text  # the raw text is kept for inspection
    assert summary.parsed == 1 and summary.errors == {"truncated": 1, "unparsed": 3}
    assert all(r.model == "openai:student-lora" and r.sample == 1 for r in by_id.values())


def test_a_call_that_keeps_failing_is_a_line_with_the_reason(run: Path, tmp_path: Path) -> None:
    from loopback_server import SERVER_ERROR, Fault

    with LoopbackServer(responder=student_responder, plan=[Fault(SERVER_ERROR)] * 3) as srv:
        summary = _predict(srv, run, tmp_path, limit=1, max_retries=2)
        assert len(srv.chat_requests) == 3
    [line] = _lines(run / "predictions.jsonl")
    assert line.text == "" and line.distribution is None
    assert line.error.startswith("server_error: HTTP 500") and line.usage.requests == 3
    assert summary.errors == {"server_error": 1}


# ---------------------------------------------------------------------------------------------
# K samples: n where the server honours it, K requests where it does not


def test_a_failed_n_request_fails_every_sample_it_carried(run: Path, tmp_path: Path) -> None:
    from loopback_server import UNAVAILABLE, Fault

    with LoopbackServer(responder=student_responder, plan=[Fault(UNAVAILABLE)] * 2) as srv:
        summary = _predict(srv, run, tmp_path, limit=1, samples=3, max_retries=1)
        requests = srv.chat_requests
    assert len(requests) == 2 and all(r.body["n"] == 3 for r in requests)  # a 503 is retried, not split up
    lines = _lines(run / "predictions.jsonl")
    assert [r.sample for r in lines] == [1, 2, 3]
    assert all(r.error.startswith("server_error: HTTP 503") and r.text == "" for r in lines)
    assert summary.errors == {"server_error": 3} and summary.n_honoured is None


def test_k_samples_go_as_one_request_with_n(student: LoopbackServer, run: Path, tmp_path: Path) -> None:
    summary = _predict(student, run, tmp_path, samples=3)
    requests = student.chat_requests
    assert len(requests) == LIMIT and all(r.body["n"] == 3 for r in requests)
    lines = _lines(run / "predictions.jsonl")
    assert sorted((r.id, r.sample) for r in lines) == sorted((i, s) for i in {r.id for r in lines} for s in (1, 2, 3))
    assert summary.n_honoured is True and summary.parsed == 3 * LIMIT
    # The prompt was paid once: its tokens sit on sample 1; the completion tokens add up to what the server reported.
    for utterance_id in {r.id for r in lines}:
        mine = sorted((r for r in lines if r.id == utterance_id), key=lambda r: r.sample)
        assert mine[0].usage.prompt_tokens > 0 and all(r.usage.prompt_tokens == 0 for r in mine[1:])
        assert mine[0].usage.requests == 1 and all(r.usage.requests == 0 for r in mine[1:])
    assert summary.usage["completion_tokens"] == sum(r.usage.completion_tokens for r in lines)
    assert summary.usage["prompt_tokens"] == sum(r.usage.prompt_tokens for r in lines)


@pytest.mark.parametrize("n_mode", ["ignore", "refuse"])
def test_a_server_that_ignores_or_refuses_n_gets_k_requests(run: Path, tmp_path: Path, n_mode: str) -> None:
    with LoopbackServer(responder=student_responder, n_mode=n_mode) as srv:
        summary = _predict(srv, run, tmp_path, samples=3, concurrency=1)
        requests = srv.chat_requests
    with_n = [r for r in requests if "n" in r.body]
    # n is asked by the utterances in flight before the first answer (the pool holds 2 at concurrency 1), then
    # the client remembers the server's answer and asks one sample a request.
    assert 1 <= len(with_n) <= 2
    answered_with_n = 1 if n_mode == "ignore" else 0  # an ignoring server still answered one sample
    assert len(requests) == len(with_n) * (1 - answered_with_n) + 3 * LIMIT
    assert summary.n_honoured is False
    lines = _lines(run / "predictions.jsonl")
    assert len(lines) == len({(r.id, r.sample) for r in lines}) == 3 * LIMIT
    assert summary.parsed == 3 * LIMIT and summary.errors == {}


def test_a_400_that_is_not_about_n_fails_the_samples_without_giving_up_n(run: Path, tmp_path: Path) -> None:
    from loopback_server import NO_STRUCTURED, Fault

    with LoopbackServer(responder=student_responder, plan=[Fault(NO_STRUCTURED)]) as srv:
        summary = _predict(srv, run, tmp_path, limit=2, samples=3, concurrency=1)
        requests = srv.chat_requests
    # The first utterance's request fails with a 400 about something else: its 3 samples record it; the second
    # utterance still asks with n (the client learnt nothing about n from that answer).
    assert len(requests) == 2 and all(r.body["n"] == 3 for r in requests)
    assert summary.errors == {"request_refused": 3} and summary.parsed == 3 and summary.n_honoured is True


def test_a_batched_answer_and_single_answers_share_the_cache(run: Path, tmp_path: Path) -> None:
    with LoopbackServer(responder=student_responder) as srv:
        _predict(srv, run, tmp_path, samples=2)
        assert len(srv.chat_requests) == LIMIT
        port = srv.port
    first = {(r.id, r.sample): r.text for r in _lines(run / "predictions.jsonl")}
    # Four samples now, from the same server (same URL: the cache keys the server) restarted without n:
    # samples 1-2 come from the cache, 3-4 are asked one by one.
    with LoopbackServer(responder=student_responder, n_mode="ignore", port=port) as srv:
        summary = _predict(srv, run, tmp_path, samples=4, out=tmp_path / "four.jsonl")
        requests = srv.chat_requests
    four = {(r.id, r.sample): r for r in _lines(tmp_path / "four.jsonl")}
    assert {key: four[key].text for key in first} == first
    assert all(four[key].usage.cached for key in first)
    assert len(requests) == 1 + 2 * LIMIT - 1 and summary.usage["cache_hits"] == 2 * LIMIT


@given(
    prompt=st.integers(0, 10_000),
    completion=st.integers(0, 10_000),
    texts=st.lists(st.one_of(st.none(), st.text(max_size=50)), min_size=1, max_size=8),
)
def test_shared_usage_adds_up_to_the_server_totals(prompt: int, completion: int, texts: list[str | None]) -> None:
    shares = share_usage(prompt, completion, texts)
    assert len(shares) == len(texts)
    assert sum(p for p, _ in shares) == prompt and shares[0][0] == prompt
    assert sum(c for _, c in shares) == completion and all(c >= 0 for _, c in shares)
    lengths = [len(t or "") for t in texts]
    if sum(lengths):  # longer texts never get fewer tokens than shorter ones (up to the one rounding token)
        for i in range(len(texts)):
            for j in range(len(texts)):
                if lengths[i] > lengths[j]:
                    assert shares[i][1] >= shares[j][1] - 1


# ---------------------------------------------------------------------------------------------
# Resume, cache and stale inputs, as in build


def test_a_rerun_asks_nothing_and_a_fresh_file_is_filled_from_the_cache(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    _predict(student, run, tmp_path, samples=2)
    first = (run / "predictions.jsonl").read_text()
    student.clear()
    again = _predict(student, run, tmp_path, samples=2)
    assert student.chat_requests == [] and again.skipped == 2 * LIMIT and again.new == 0
    assert (run / "predictions.jsonl").read_text() == first
    fresh = _predict(student, run, tmp_path, samples=2, out=tmp_path / "fresh.jsonl")
    assert student.chat_requests == [] and fresh.usage["cache_hits"] == 2 * LIMIT
    old = {(r.id, r.sample): r for r in _lines(run / "predictions.jsonl")}
    new = {(r.id, r.sample): r for r in _lines(tmp_path / "fresh.jsonl")}
    assert {k: (r.text, r.distribution, r.fingerprint) for k, r in new.items()} == {
        k: (r.text, r.distribution, r.fingerprint) for k, r in old.items()
    }
    assert all(r.usage.cached for r in new.values())
    run_json = json.loads((run / "run.json").read_text())
    assert set(run_json["predict"]) == {str(run / "predictions.jsonl"), str(tmp_path / "fresh.jsonl")}
    assert "build" not in run_json["predict"] and run_json["counts"]  # build's sections are kept


def test_changed_inputs_make_lines_stale_and_they_are_asked_again(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    _predict(student, run, tmp_path, limit=4)
    before = {r.id: r.fingerprint for r in _lines(run / "predictions.jsonl")}
    student.clear()
    summary = _predict(student, run, tmp_path, limit=4, temperature=0.3)
    after = _lines(run / "predictions.jsonl")
    assert summary.dropped == {"stale": 4} and len(student.chat_requests) == 4
    assert len(after) == 4 and all(before[r.id] != r.fingerprint for r in after)
    assert all(r.usage.cached is False for r in after)
    # Utterances outside this run's selection keep their lines; a wider selection adds to them.
    student.clear()
    wider = _predict(student, run, tmp_path, limit=6, temperature=0.3)
    assert wider.skipped == 4 and wider.new == 2 and len(student.chat_requests) == 2


def test_another_models_predictions_file_is_refused(student: LoopbackServer, run: Path, tmp_path: Path) -> None:
    _predict(student, run, tmp_path, limit=1)
    with pytest.raises(CotgenError, match="holds predictions of openai:student-lora, not openai:other"):
        _predict(student, run, tmp_path, limit=1, model="openai:other")


def test_retry_errors_asks_again_only_where_the_call_failed(run: Path, tmp_path: Path) -> None:
    from loopback_server import SERVER_ERROR, Fault

    faults = iter([Fault(SERVER_ERROR)])  # the first request ever fails, whatever clear() does to indices
    with LoopbackServer(responder=student_responder, plan=lambda index, body: next(faults, None)) as srv:
        _predict(srv, run, tmp_path, limit=3, max_retries=0, concurrency=1)
        assert sum(r.error is not None for r in _lines(run / "predictions.jsonl")) == 1
        srv.clear()
        kept = _predict(srv, run, tmp_path, limit=3, max_retries=0)
        assert srv.chat_requests == [] and kept.errors == {"server_error": 1}
        retried = _predict(srv, run, tmp_path, limit=3, max_retries=0, retry_errors=True)
        assert len(srv.chat_requests) == 1 and retried.dropped == {"retried": 1}
    assert retried.errors == {} and retried.lines == 3


_CHILD = """
import sys
from pathlib import Path
from cotgen.predict import PredictConfig, run_predict
run_predict(PredictConfig(model="openai:student", run_dir=Path(sys.argv[2]), base_url=sys.argv[1],
                          cache=Path(sys.argv[3]), samples=2, concurrency=2))
"""


def test_a_killed_predict_resumes_with_every_line_exactly_once(run: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    predictions = run / "predictions.jsonl"
    with LoopbackServer(latency=0.15, responder=student_responder) as srv:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, srv.base_url, str(run), str(cache)],
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if predictions.exists() and predictions.read_text().count("\n") >= 6:
                break
            time.sleep(0.02)
        assert child.poll() is None, "predict finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
        with predictions.open("ab") as handle:  # what a kill in the middle of a write leaves
            handle.write(b'{"id": "demo_spk')
        before = len(srv.chat_requests)
        summary = run_predict(
            PredictConfig(model="openai:student", run_dir=run, base_url=srv.base_url, cache=cache, samples=2)
        )
        total = len(srv.chat_requests)
    lines = _lines(predictions)
    keys = [(r.id, r.sample) for r in lines]
    assert len(keys) == len(set(keys)) == 2 * DEMO_UTTERANCES
    assert summary.skipped >= 6 and summary.parsed == 2 * DEMO_UTTERANCES
    assert before >= 3
    # One request per utterance; answers cached before the kill are not bought again, at most the 4 in flight are.
    assert total <= DEMO_UTTERANCES + 4


def test_pairs_take_the_predictions_file_as_it_is(run: Path, tmp_path: Path) -> None:
    """Rollouts for DPO: `cotgen pairs --rollouts predictions.jsonl`, failed calls and unparsed answers included."""
    from loopback_server import SERVER_ERROR, Fault

    utterances = list(iter_utterances(run / "utterances.jsonl"))[:4]
    variants = {json.dumps(utterances[1].transcript, ensure_ascii=False): "malformed"}
    failing = json.dumps(utterances[0].transcript, ensure_ascii=False)
    failed: list[int] = []

    def plan(index: int, body: dict) -> Fault | None:
        """One server error, on the first utterance's request whichever order the pool sends them in."""
        if failed or failing not in body["messages"][1]["content"][1]["text"]:
            return None
        failed.append(index)
        return Fault(SERVER_ERROR)

    with LoopbackServer(responder=_scripted_responder(variants), plan=plan) as srv:
        summary = _predict(srv, run, tmp_path, limit=4, samples=2, max_retries=0, concurrency=1)
    assert summary.errors == {"server_error": 2, "unparsed": 2}
    result = CliRunner().invoke(
        get_app(),
        ["pairs", "--in", str(run), "--source", "gold,rollouts", "--rollouts", str(run / "predictions.jsonl")],
    )
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in (run / "dpo.jsonl").read_text().splitlines()]
    assert pairs and all(p["source_chosen"] == "gold" for p in pairs)
    assert {p["source_rejected"] for p in pairs} <= {"rollout:1", "rollout:2"}


# ---------------------------------------------------------------------------------------------
# Which utterances


def test_ids_from_an_export_split_or_a_file(student: LoopbackServer, run: Path, tmp_path: Path) -> None:
    export_dir = tmp_path / "export"
    export_run(run, "trl", split="loso:2", out_dir=export_dir)
    test_ids = [json.loads(line)["id"] for line in (export_dir / "sft_test.jsonl").read_text().splitlines()]
    sessions = {u.id: u.session for u in iter_utterances(run / "utterances.jsonl")}
    assert test_ids and {sessions[i] for i in test_ids} == {"2"}
    summary = _predict(student, run, tmp_path, limit=None, export=export_dir, split="test")
    assert sorted({r.id for r in _lines(run / "predictions.jsonl")}) == sorted(test_ids)
    assert summary.utterances == len(test_ids)
    listed = tmp_path / "ids.txt"
    listed.write_text(f"# two of them\n{test_ids[0]}\n\n{test_ids[1]}\n{test_ids[0]}\n")
    chosen = _predict(student, run, tmp_path, limit=None, ids=listed, out=tmp_path / "two.jsonl")
    assert chosen.utterances == 2 and {r.id for r in _lines(tmp_path / "two.jsonl")} == set(test_ids[:2])
    export_folds(run, "trl", "loso:all", out_dir=tmp_path / "folds")
    with pytest.raises(CotgenError, match="it holds folds \\(fold_1, fold_2\\): pass one of them"):
        _predict(student, run, tmp_path, limit=None, export=tmp_path / "folds", out=tmp_path / "x.jsonl")
    # the standard protocol holds no validation set: its empty split is named as such, with the option that adds one
    with pytest.raises(CotgenError, match="its validation split is empty .*\\+val:S"):
        _predict(student, run, tmp_path, limit=None, export=tmp_path / "folds" / "fold_1", split="validation")
    listed.write_text("no_such_utterance\n")
    with pytest.raises(CotgenError, match="1 id\\(s\\) not in .*no_such_utterance"):
        _predict(student, run, tmp_path, limit=None, ids=listed, out=tmp_path / "none.jsonl")


def test_a_missing_run_folder_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no_run"
    with pytest.raises(CotgenError, match="no_run/utterances.jsonl: no such file"):
        run_predict(PredictConfig(model="openai:m", run_dir=missing, base_url="http://127.0.0.1:9/v1"))
    assert not missing.exists()


def test_the_key_reaches_no_file(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopback_server import UNAUTHORIZED, Fault

    key = "sk-test-PREDICT-SENTINEL-1234"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with LoopbackServer(responder=student_responder, plan=[Fault(UNAUTHORIZED)]) as srv:
        summary = _predict(srv, run, tmp_path, limit=2, concurrency=1)
    assert summary.errors == {"request_refused": 1}
    error = next(r.error for r in _lines(run / "predictions.jsonl") if r.error)
    assert "rejected the API key from OPENAI_API_KEY (HTTP 401)" in error
    for name in ("predictions.jsonl", "run.json", "cotgen.log"):
        assert key not in (run / name).read_text(), name


def test_one_student_per_fold_then_eval_folds_reads_the_export_as_it_is(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    """The loop's last step: predict each fold's test split into its fold folder, then `cotgen eval --folds`."""
    folds_dir = tmp_path / "export"
    export_folds(run, "swift", "folds:3", out_dir=folds_dir)
    for k in (1, 2, 3):
        fold = folds_dir / f"fold_{k}"
        summary = _predict(
            student,
            run,
            tmp_path,
            limit=None,
            model=f"openai:student-fold_{k}",
            export=fold,
            split="test",
            out=fold / "predictions.jsonl",
        )
        assert {r.id for r in _lines(fold / "predictions.jsonl")} == set((fold / "test.ids").read_text().split())
        assert summary.parsed == summary.lines
    result = CliRunner().invoke(get_app(), ["eval", "--folds", str(folds_dir), "--in", str(run)])
    assert result.exit_code == 0, result.output
    assert all(f"fold_{k}" in result.output for k in (1, 2, 3)) and "mean" in result.output


def test_unreachable_server_stops_with_one_line_and_writes_nothing(run: Path, tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match="cannot be reached"):
        run_predict(
            PredictConfig(
                model="openai:m", run_dir=run, base_url="http://127.0.0.1:9/v1", max_retries=0, limit=2, timeout=2
            )
        )
    assert not (run / "predictions.jsonl").exists() or (run / "predictions.jsonl").read_text() == ""


def test_a_systematic_failure_stops_predict_with_what_is_left_and_a_rerun_does_it(run: Path, tmp_path: Path) -> None:
    """The teacher's shared stop (issue 13 item 3) in predict: a 401 on every request is not the items' fault."""
    from loopback_server import UNAUTHORIZED, Fault

    with LoopbackServer(responder=student_responder, plan=lambda i, body: Fault(UNAUTHORIZED)) as srv:
        with pytest.raises(CotgenError, match=r"predictions left to do, which a rerun does") as stopped:
            _predict(srv, run, tmp_path, limit=6, samples=1, max_retries=0, concurrency=1)
        asked = len(srv.chat_requests)
    assert "\n" not in str(stopped.value) and asked < 6
    path = run / "predictions.jsonl"
    failed = _lines(path) if path.exists() else []
    with LoopbackServer(responder=student_responder) as srv:
        summary = _predict(srv, run, tmp_path, limit=6, samples=1, max_retries=0, concurrency=1, retry_errors=True)
    assert summary.parsed == 6 and summary.lines == 6 and len(failed) < 6


def test_the_command_line(student: LoopbackServer, run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        get_app(),
        [
            "predict",
            "--model",
            "openai:student-lora",
            "--in",
            str(run),
            "--base-url",
            student.base_url,
            "--samples",
            "2",
            "--limit",
            "3",
            "--audio-part",
            "audio_url",
            "--cache",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "6 predictions, 6 parsed" in result.output and "n honoured: True" in result.output
    assert all(_audio_parts(r.body)[0]["type"] == "audio_url" for r in student.chat_requests)
    bad = CliRunner().invoke(get_app(), ["predict", "--model", "gpt-4o", "--in", str(run)])
    assert bad.exit_code != 0


def test_a_dialogue_context_reaches_the_request_as_it_reaches_the_sft_record(
    student: LoopbackServer, run: Path, tmp_path: Path
) -> None:
    from cotgen.build.run import sft_record
    from cotgen.records.run_records import TraceRecord
    from cotgen.records.utterance import ContextTurn

    utterances = list(iter_utterances(run / "utterances.jsonl"))
    turns = [ContextTurn(speaker="A", transcript="Where were you last night?"), ContextTurn(transcript="Out.")]
    utterances[0] = utterances[0].model_copy(update={"context": turns})
    write_utterances(run / "utterances.jsonl", utterances)
    gold = next(
        TraceRecord.model_validate_json(line)
        for line in (run / "traces.jsonl").read_text().splitlines()
        if json.loads(line)["id"] == utterances[0].id and json.loads(line)["sample"] == 0
    )
    expected = sft_record(utterances[0], gold).prompt
    assert "Where were you last night?" in json.dumps(expected)
    _predict(student, run, tmp_path, limit=1)
    [request] = student.chat_requests
    sent = json.loads(json.dumps(request.body["messages"]))
    sent[1]["content"][0] = {"type": "audio", "audio": utterances[0].audio}
    assert json.dumps(sent, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


def test_utterance_records_keep_their_audio_path_as_the_record_prompt(run: Path) -> None:
    """The prompt helper is the SFT record's own: same function, same arguments (guards against drift)."""
    from cotgen.predict.request import record_prompt

    sft = _sft(run)
    for utt in iter_utterances(run / "utterances.jsonl"):
        assert isinstance(utt, Utterance)
        if utt.id in sft:
            assert record_prompt(utt) == sft[utt.id].prompt
