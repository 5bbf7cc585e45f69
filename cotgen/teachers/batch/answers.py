"""Answers for a round of batch work: from the response cache, or from the rows of batches that just ended.

A caller that used to ask synchronously asks :class:`BatchAnswers` instead, with the same
:class:`~cotgen.teachers.openai_teacher.ChatRequest` and a ``custom_id`` naming the request. It gets
the cached answer when there is one (from an earlier batch or a synchronous call: the key is the
synchronous one), a :class:`~cotgen.teachers.openai_teacher.TeacherCallError` for a row that carried
an error, the row's answer (stored in the cache on the way), or :class:`Pending` carrying the
:class:`~cotgen.teachers.batch.lines.BatchRequest` to send, whose body is byte for byte the
synchronous one (:meth:`~cotgen.teachers.openai_teacher.OpenAITeacher.request_body`). ``cotgen build
--batch`` and ``cotgen predict --batch`` both ask through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cotgen.teachers.batch.engine import Collected, RoundsReport
from cotgen.teachers.batch.lines import BatchRequest, body_digest
from cotgen.teachers.openai_teacher import ChatRequest, ChatResult, OpenAITeacher, TeacherCallError, raw_answers
from cotgen.teachers.response_cache import ResponseCache

logger = logging.getLogger("cotgen.batch")


class Pending(Exception):
    """A request has no answer yet: ``request`` goes into the next batch (unless an unfinished one holds it)."""

    def __init__(self, request: BatchRequest) -> None:
        super().__init__(request.custom_id)
        self.request = request


@dataclass
class BatchTally:
    """What the batch rows a caller took over cost, and how many answers came from the cache, for run.json."""

    requests: int = 0  # answers taken from batch rows (each one paid request)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    hits: set[str] = field(default_factory=set)  # cache keys answered from the cache (an item may be seen each round)

    def add(self, raw: dict[str, Any]) -> None:
        usage = raw["usage"]
        self.requests += 1
        self.prompt_tokens += usage["prompt_tokens"]
        self.completion_tokens += usage["completion_tokens"]
        self.cached_prompt_tokens += usage.get("cached_prompt_tokens", 0)

    def usage(self, report: RoundsReport, batches: int) -> dict[str, Any]:
        """The ``usage`` block of run.json: the synchronous keys, plus cached prompt tokens and the batch counts."""
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "cache_hits": len(self.hits),
            "retries": {},
            "batch": {
                "rounds": report.rounds,
                "batches_submitted": batches,
                "answered": self.requests,
                "failed_rows": report.failed,
                "not_run": report.not_run,
                "files": report.files,
                "stopped": report.stopped,
            },
        }


class BatchAnswers:
    """The answers a round may use: the response cache, then the rows of the batches that just ended."""

    def __init__(
        self,
        teacher: OpenAITeacher,
        cache: ResponseCache,
        collected: Collected,
        tally: BatchTally,
        fresh: set[str],
    ) -> None:
        self.name = teacher.name
        self._teacher = teacher
        self._cache = cache
        self._collected = collected
        self._tally = tally
        self._fresh = fresh  # cache keys stored from batch rows by this process (paid now, not cache hits)
        self.used: set[str] = set()  # custom_ids of rows this round took over (or deliberately set aside)

    def answer(self, turn_id: str, request: ChatRequest) -> ChatResult:
        """The answer of the request ``turn_id`` names, or :class:`Pending`; a failed row raises TeacherCallError.

        The cache first (answered before, by a batch or a synchronous call; skipped for a ``fresh`` request,
        ``--resample``, until this run's batch has answered it); then an error row; then an
        answer row, used only when the request sent is this very request (same body digest), and then
        stored in the cache under the synchronous key; otherwise the request is still to send.
        """
        key, body = self._teacher.request_body(request)
        # --resample: a redrawn sample skips the answer cached before this run; its new batch answer is used.
        stale_draw = request.fresh and key not in self._fresh
        stored = None if stale_draw else self._cache.get(key)
        if stored is not None:
            paid_now = key in self._fresh
            if not paid_now:
                self._tally.hits.add(key)
            return _result(stored, paid_now)
        failure = self._collected.failures.get(turn_id)
        if failure is not None:
            self.used.add(turn_id)
            raise TeacherCallError(failure.reason, failure.detail, 1)
        completion = self._collected.answers.get(turn_id)
        if completion is not None:
            self.used.add(turn_id)
            if self._collected.digests.get(turn_id) == body_digest(body):
                raws = raw_answers(completion, body["messages"])  # one choice: batch lines never ask for n
                raw = raws[0] if raws else None
                if raw is None:
                    raise TeacherCallError("server_error", "the batch row's body is not a chat completion", 1)
                self._cache.put(key, raw)
                self._fresh.add(key)
                self._tally.add(raw)
                return _result(raw, True)
            logger.warning("%s: the batch answered an older version of this request; asking again", turn_id)
        raise Pending(BatchRequest(turn_id, body))


def _result(raw: dict[str, Any], paid_now: bool) -> ChatResult:
    usage = raw["usage"]
    return ChatResult(
        text=raw["text"],
        finish_reason=raw["finish_reason"],
        refusal=raw["refusal"],
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        attempts=1 if paid_now else 0,
        from_cache=not paid_now,
    )
