"""Content checks of a build against a loopback teacher: a leaked target and a self-contradiction each get one
repair turn naming the problem, then a reject (`leaks_target`, `inconsistent`); a corrected answer is kept."""

from __future__ import annotations

import json
from pathlib import Path

from loopback_server import LoopbackServer, trace_responder
from test_build_loopback import _build as loopback_build
from test_build_loopback import _records

from cotgen.build.run import BuildSummary
from cotgen.report.card import render_card
from cotgen.review import write_review


def _build(srv: LoopbackServer, out: Path, cache: Path, **options: object) -> BuildSummary:
    return loopback_build(srv, out, cache, **{"limit": 3, **options})


def _turns(body: dict) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant") + 1


def _leaking(always: bool):
    def respond(body: dict, classes: tuple[str, ...]) -> dict:
        answer = trace_responder(body, classes)
        if always or _turns(body) == 1:
            top = max(answer["distribution"], key=answer["distribution"].get)
            answer["ambiguity"]["explanation"] = f"Most annotators chose {top}. The voice is tense."
        return answer

    return respond


def _contradicting(always: bool):
    def respond(body: dict, classes: tuple[str, ...]) -> dict:
        answer = trace_responder(body, classes)
        if always or _turns(body) == 1:
            dist = answer["distribution"]
            bottom = min(dist, key=dist.get)
            top = max(dist, key=dist.get)
            answer["ambiguity"] = {"level": "high", "competing": [bottom, top], "explanation": "Unclear."}
        return answer

    return respond


def test_a_leak_gets_one_repair_quoting_the_sentence_and_the_fixed_answer_is_kept(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_leaking(always=False)) as srv:
        summary = _build(srv, tmp_path, cache)
        assert (summary.traces, summary.rejects, len(srv.chat_requests)) == (3, 0, 6)
        repairs = [r.body["messages"][-1]["content"] for r in srv.chat_requests if _turns(r.body) == 2]
    assert len(repairs) == 3
    for text in repairs:
        assert "leaks_target:" in text and "'Most annotators chose" in text
        assert "listeners' distribution" not in text  # the repair turn does not present the target as a vote
    traces, _ = _records(tmp_path)
    assert all("annotators" not in t.text for t in traces)
    assert all(t.usage.requests == 2 for t in traces)


def test_a_leak_twice_is_rejected_as_leaks_target(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_leaking(always=True)) as srv:
        summary = _build(srv, tmp_path, cache)
        assert (summary.traces, summary.reject_reasons, len(srv.chat_requests)) == (0, {"leaks_target": 3}, 6)
    _, rejects = _records(tmp_path)
    assert {(r.stage, r.attempts) for r in rejects} == {("validation", 2)}
    assert all("ambiguity.explanation: 'Most annotators chose" in r.detail for r in rejects)


def test_predict_samples_are_not_held_to_the_leak_rule(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_leaking(always=True)) as srv:
        summary = _build(srv, tmp_path, cache, limit=2, samples=1, mode="predict")
    assert (summary.traces, summary.rejects) == (2, 0)


def test_a_self_contradiction_gets_one_repair_naming_the_rule_then_is_rejected(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_contradicting(always=False)) as srv:
        fixed = _build(srv, tmp_path / "fixed", cache)
        assert (fixed.traces, fixed.rejects, len(srv.chat_requests)) == (3, 0, 6)
        repairs = [r.body["messages"][-1]["content"] for r in srv.chat_requests if _turns(r.body) == 2]
    assert len(repairs) == 3
    assert all("inconsistent: the trace contradicts itself:" in text and "competing: " in text for text in repairs)
    traces, _ = _records(tmp_path / "fixed")
    assert all(t.coherence is not None and t.coherence >= 0.2 for t in traces)
    with LoopbackServer(responder=_contradicting(always=True)) as srv:
        kept = _build(srv, tmp_path / "kept", cache)
    assert (kept.traces, kept.reject_reasons) == (0, {"inconsistent": 3})
    _, rejects = _records(tmp_path / "kept")
    assert all(r.attempts == 2 and "competing names" in r.detail for r in rejects)


def test_repairs_zero_means_no_repair_turn(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_leaking(always=False)) as srv:
        summary = _build(srv, tmp_path, cache, repairs=0)
        assert (summary.reject_reasons, len(srv.chat_requests)) == ({"leaks_target": 3}, 3)


def test_the_prompt_states_each_measured_level_in_the_answers_words(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer() as srv:
        _build(srv, tmp_path, cache, limit=1)
        prompt = srv.chat_requests[0].body["messages"][1]["content"]
    line = next(text for text in prompt.splitlines() if text.startswith("Measured level of each cue"))
    stated = dict(part.strip().split(": ") for part in line.split("): ", 1)[1].split(";"))
    traces, _ = _records(tmp_path)
    # The levels the check compares with are exactly the ones stated (the stock answer cites the cue line).
    assert set(stated) >= {"pitch", "loudness", "speech_rate", "voice_quality"}
    assert all(stated[c.cue] == c.level or c.cue == "pauses" for c in traces[0].trace.acoustic.cues)


def test_the_review_page_and_the_card_show_the_leak_and_the_scores(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_leaking(always=True)) as srv:
        summary = _build(srv, tmp_path, cache, limit=2, samples=1)
    assert summary.reject_reasons == {"leaks_target": 2} and summary.scores["mean_coherence"] is not None
    run_json = json.loads((tmp_path / "run.json").read_text())
    assert run_json["counts"]["scores"]["mean_coherence"] == summary.scores["mean_coherence"]
    write_review(tmp_path, tmp_path / "page")
    details = {}
    for chunk in sorted((tmp_path / "page").rglob("detail/*.js")):
        text = chunk.read_text()
        for detail in json.loads(text[text.index("[") : text.rindex("]") + 1]):
            details[detail["id"]] = detail
    rejects = [r for d in details.values() for r in d["rejects"]]
    assert len(rejects) == 2
    assert all(
        r["marks"] and r["marks"][0].startswith("Most annotators chose") and r["marks"][0] in r["text"] for r in rejects
    )
    assert all(t["coherence"] is not None for d in details.values() for t in d["traces"])
    card = render_card(tmp_path)
    assert "2 narrated the target" in card and "mean coherence of cited cues and distribution" in card
    assert "measured numbers (Hz, dB, SD, z...) removed; reasoning order acoustic → lexical" in card


def _hears_laughter(body: dict, classes: tuple[str, ...]) -> dict:
    answer = trace_responder(body, classes)
    top = max(answer["distribution"], key=answer["distribution"].get)
    answer["acoustic"]["cues"].append(
        {"cue": "laughter", "level": "heard", "observation": "A short laugh before the words.", "suggests": [top]}
    )
    return answer


def test_a_listening_teacher_cites_vocal_events_that_no_measurement_checks(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_hears_laughter) as srv:
        heard = _build(srv, tmp_path / "audio", cache, limit=2, send_audio=True)
        first = srv.chat_requests[0].body["messages"]
        deaf = _build(srv, tmp_path / "text", cache, limit=2, repairs=0)
    with LoopbackServer() as srv:
        _build(srv, tmp_path / "plain", cache, limit=2, send_audio=True)
    assert heard.traces == 2 and deaf.reject_reasons == {"schema_invalid": 2}
    assert "The audio clip of this utterance is attached." in first[1]["content"][0]["text"]
    assert '"heard"' in first[0]["content"] and "laughter, sigh, crying" in first[0]["content"]
    traces, _ = _records(tmp_path / "audio")
    assert all(t.vocal_events == ["laughter"] for t in traces)
    plain = {t.id: t.faithfulness for t in _records(tmp_path / "plain")[0]}
    assert {t.id: t.faithfulness for t in traces} == plain  # the event is left out of the score
    assert all("- laughter: heard. A short laugh before the words." in t.text for t in traces)
    _, rejects = _records(tmp_path / "text")
    assert all("laughter is a vocal event, and this teacher was not given the audio" in r.detail for r in rejects)
    card = render_card(tmp_path / "audio")
    assert "| traces citing vocal events heard, not measured | 2 (laughter 2) |" in card
