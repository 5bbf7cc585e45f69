"""What one student answer ends as: a :class:`PredictionRecord`, parsed or with the reason it is not.

Every (id, sample) asked for ends as a line of ``predictions.jsonl``. A text is read with the
tolerant trace parser (:func:`cotgen.records.trace.parse_sections`), the one pair scoring and the
rewards use, so a distribution counts here exactly when it would count there. The ``error`` field
starts with a reason word (:data:`ERROR_REASONS`) so readers can count failures by kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cotgen.predict.label_readout import read_label_logprobs
from cotgen.records.prediction import LogprobReadout, PredictionRecord
from cotgen.records.run_records import Usage
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import TraceParseError, parse_sections
from cotgen.teachers.openai_teacher import ChatResult, TeacherCallError

# unparsed: the text is not a four-stage trace with a valid distribution; truncated: the same, and the
# answer hit the token limit; the call failures are the client's (after its retries); audio: the clip.
CALL_FAILURES: tuple[str, ...] = ("timeout", "rate_limited", "server_error", "malformed_response", "request_refused")
ERROR_REASONS: tuple[str, ...] = ("unparsed", "truncated", "refusal", *CALL_FAILURES, "audio")


def error_reason(error: str | None) -> str | None:
    """The reason word of an ``error`` field ('truncated: ...' -> 'truncated'); None for a parsed prediction."""
    return None if error is None else error.partition(":")[0]


@dataclass(frozen=True)
class Readout:
    """Whether the logprob readout is asked for (``top_k`` alternatives), and the label words it looks for."""

    top_k: int | None = None
    label_words: Mapping[str, str] | None = None

    def read(self, answer: ChatResult, classes: Sequence[str]) -> LogprobReadout | None:
        if self.top_k is None:
            return None
        return read_label_logprobs(answer.logprobs, classes, self.label_words, self.top_k)


TEXT_READOUT = Readout()


def prediction(
    utterance_id: str,
    sample: int,
    model: str,
    answer: ChatResult | TeacherCallError,
    classes: Sequence[str],
    fingerprint: str,
    readout: Readout = TEXT_READOUT,
    order: Sequence[str] = DEFAULT_ORDER,
) -> PredictionRecord:
    """The line of one sample's answer (or of the call that gave none), with the logprob readout when asked."""
    if isinstance(answer, TeacherCallError):
        error = f"{answer.reason}: {answer.detail} (after {answer.attempts} request(s))"
        return _record(utterance_id, sample, model, "", None, error, Usage(requests=answer.attempts), fingerprint)
    usage = Usage(
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        requests=answer.attempts,
        cached=answer.from_cache,
    )
    text = answer.text or ""
    if answer.refusal:
        return _record(utterance_id, sample, model, text, None, f"refusal: {answer.refusal}", usage, fingerprint)
    logprobs = readout.read(answer, classes)
    try:
        distribution = parse_sections(text, classes, order).distribution
    except TraceParseError as exc:
        reason = "truncated" if answer.finish_reason == "length" else "unparsed"
        error = f"{reason}: {exc}"
        return _record(utterance_id, sample, model, text, None, error, usage, fingerprint, logprobs)
    return _record(utterance_id, sample, model, text, distribution, None, usage, fingerprint, logprobs)


def audio_failure(utterance_id: str, sample: int, model: str, detail: str, fingerprint: str) -> PredictionRecord:
    """The line of a sample whose clip could not be read (no request was sent)."""
    return _record(utterance_id, sample, model, "", None, f"audio: {detail}", Usage(), fingerprint)


def _record(
    utterance_id: str,
    sample: int,
    model: str,
    text: str,
    distribution: dict[str, float] | None,
    error: str | None,
    usage: Usage,
    fingerprint: str,
    logprobs: LogprobReadout | None = None,
) -> PredictionRecord:
    return PredictionRecord(
        id=utterance_id,
        sample=sample,
        model=model,
        text=text,
        distribution=distribution,
        error=error,
        usage=usage,
        logprobs=logprobs,
        fingerprint=fingerprint,
    )
