"""Gold traces are checked, never overwritten (issue 11 item 2).

A gold (rationalize) answer whose own distribution disagrees with the human one gets a repair turn that
quotes the target, and after the repairs a ``distribution_mismatch`` reject; an answer within the tolerance
is kept as the teacher wrote it, so the text of the trace and of its SFT record never contradicts itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from loopback_server import LoopbackServer, message_text, trace_responder, valid_trace

from cotgen.build.outcome import Item, gold_mismatch
from cotgen.build.run import BuildConfig, BuildSummary, run_build
from cotgen.core.divergence import format_distribution
from cotgen.records.run_records import RejectRecord, SFTRecord, TraceRecord
from cotgen.records.trace import Trace
from cotgen.records.utterance import Utterance, majority_of, read_utterances

CLASSES = ("neu", "hap", "ang", "sad")


def _build(srv: LoopbackServer, out: Path, cache: Path, **options: object) -> BuildSummary:
    settings: dict[str, object] = {"limit": 1, "timeout": 5.0, "backoff_base": 0.02, "concurrency": 1}
    settings.update(options)
    return run_build(
        BuildConfig(teacher="openai:loopback", base_url=srv.base_url, out=out, cache=cache, progress=False, **settings)
    )


def _one(path: Path, model: type) -> list:
    return [model.model_validate_json(line) for line in path.read_text().splitlines()] if path.exists() else []


def _prompt_text(body: dict) -> str:
    """The user messages of a request: the cue levels a faithful answer cites."""
    return "\n".join(message_text(m) for m in body["messages"] if m["role"] == "user")


def _always(distribution: dict[str, float]):
    def respond(body: dict, classes: tuple[str, ...]) -> dict:
        return valid_trace(classes, json.dumps(distribution), _prompt_text(body))

    return respond


def _human(out: Path) -> dict[str, float]:
    return read_utterances(out / "utterances.jsonl")[0].distribution


def test_a_gold_answer_with_another_distribution_is_repaired_with_the_target_quoted(
    tmp_path: Path, cache: Path
) -> None:
    wrong = {"neu": 0.1, "hap": 0.1, "ang": 0.1, "sad": 0.7}

    def first_wrong_then_follow(body: dict, classes: tuple[str, ...]) -> dict:
        repairs = [m for m in body["messages"] if m["role"] == "assistant"]
        return (
            trace_responder(body, classes) if repairs else valid_trace(classes, json.dumps(wrong), _prompt_text(body))
        )

    with LoopbackServer(responder=first_wrong_then_follow) as srv:
        summary = _build(srv, tmp_path, cache)
        human = _human(tmp_path)
        repair = srv.chat_requests[1].body["messages"][-1]["content"]
    assert (summary.traces, summary.rejects, len(srv.chat_requests)) == (1, 0, 2)
    assert "distribution_mismatch" in repair and format_distribution(human) in repair
    [trace] = _one(tmp_path / "traces.jsonl", TraceRecord)
    assert trace.js == 0.0 and trace.usage.requests == 2


def test_a_gold_answer_that_keeps_its_own_distribution_is_rejected_not_overwritten(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_always({"neu": 0.1, "hap": 0.1, "ang": 0.1, "sad": 0.7})) as srv:
        summary = _build(srv, tmp_path, cache, repairs=2)
        assert len(srv.chat_requests) == 3
    assert (summary.traces, summary.reject_reasons, summary.sft) == (0, {"distribution_mismatch": 1}, 0)
    [reject] = _one(tmp_path / "rejects.jsonl", RejectRecord)
    assert (reject.stage, reject.attempts) == ("validation", 3)
    assert '"sad": 0.70' in reject.detail and format_distribution(_human(tmp_path)) in reject.detail


def test_predict_samples_are_never_held_to_the_human_distribution(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer(responder=_always({"neu": 0.1, "hap": 0.1, "ang": 0.1, "sad": 0.7})) as srv:
        summary = _build(srv, tmp_path, cache, samples=2, mode="predict")
    assert (summary.traces, summary.rejects) == (2, 0)


def test_a_gold_answer_within_the_tolerance_keeps_the_teachers_own_numbers_in_its_text_and_sft(
    tmp_path: Path, cache: Path
) -> None:
    # demo_spk1_01 is voted ang x5: 0.98 angry is JS 0.0101 bits away, within --gold-tolerance 0.02 but not
    # within the default 0.01, and the kept trace's text must say 0.98, not the human 1.00.
    close = {"neu": 0.0, "hap": 0.0, "ang": 0.98, "sad": 0.02}
    with LoopbackServer(responder=_always(close)) as srv:
        summary = _build(srv, tmp_path, cache, gold_tolerance=0.02)
        strict = _build(srv, tmp_path / "strict", cache, repairs=0)
    assert (summary.traces, summary.rejects) == (1, 0)
    [trace] = _one(tmp_path / "traces.jsonl", TraceRecord)
    assert trace.distribution == close and 0.01 < trace.js <= 0.02
    [sft] = _one(tmp_path / "sft.jsonl", SFTRecord)
    assert sft.completion[0]["content"] == trace.text and '"ang": 0.98' in trace.text
    assert sft.distribution == _human(tmp_path)
    assert strict.reject_reasons == {"distribution_mismatch": 1}


def _item(human: dict[str, float], mode: str = "rationalize") -> Item:
    utt = Utterance(
        id="u",
        corpus="c",
        audio="/a.wav",
        transcript="t",
        vote_counts=human,
        distribution=human,
        majority=majority_of(human),
        n_annotators=3,
    )
    return Item(utt, 0 if mode == "rationalize" else 1, mode)  # type: ignore[arg-type]


def _trace(distribution: dict[str, float]) -> Trace:
    return Trace.model_validate(valid_trace(CLASSES, json.dumps(distribution)))


def test_two_decimal_rounding_always_passes_even_at_zero_tolerance() -> None:
    third = 1 / 3
    human = {"neu": third, "hap": third, "ang": third, "sad": 0.0}
    assert gold_mismatch(_item(human), _trace({"neu": 0.33, "hap": 0.33, "ang": 0.34, "sad": 0.0}), 0.0) is None
    tiny = {"neu": 0.996, "hap": 0.004, "ang": 0.0, "sad": 0.0}
    assert gold_mismatch(_item(tiny), _trace({"neu": 1.0, "hap": 0.0, "ang": 0.0, "sad": 0.0}), 0.0) is None
    assert gold_mismatch(_item(human), _trace({"neu": 0.5, "hap": 0.5, "ang": 0.0, "sad": 0.0}), 0.01) is not None
    assert gold_mismatch(_item(human, "predict"), _trace({"neu": 0.5, "hap": 0.5, "ang": 0.0, "sad": 0.0}), 0.0) is None
