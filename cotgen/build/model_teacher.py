"""Asking a model teacher for one item's trace: request, validation, repair turns, and the final record.

The client (:mod:`cotgen.teachers.openai_teacher`) returns raw answers and caches them; everything
that decides whether an answer is good lives here, so a change in validation (``--repairs``,
``--min-faithfulness``) re-validates cached answers without a single new request. A repair turn
appends the invalid answer as the assistant's turn and a user message carrying the validation
error, so the conversation of every turn is deterministic and is itself a cache key.

Only a build with an ``openai:`` teacher imports this module (and with it the OpenAI client).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cotgen.build.interrupt import TwoStageInterrupt
from cotgen.build.outcome import (
    ONE_REPAIR,
    Answer,
    Checks,
    Item,
    Printed,
    Unfinished,
    content_problem,
    printed_record,
    reject_record,
    reject_stage,
)
from cotgen.build.teach_pool import Outcome, Result, TeachSettings, item_messages, run_pool
from cotgen.prompts.templates import PromptInputs, PromptSet
from cotgen.records.leakage import Shown
from cotgen.records.run_records import RejectReason, TemplateRef, Usage
from cotgen.records.trace import TraceError
from cotgen.teachers.bounds import DEADLINE_GRACE_S
from cotgen.teachers.breaker import TeacherStopped
from cotgen.teachers.openai_teacher import (
    ChatRequest,
    ChatResult,
    OpenAITeacher,
    TeacherCallError,
    TeacherConfig,
)
from cotgen.teachers.response_cache import ResponseCache, default_cache_path

Work = TypeVar("Work")
# Items whose first answer is the same kind of wrong shape, with no answer in the right shape yet, before the stop.
WRONG_SHAPE_AFTER = 3

logger = logging.getLogger("cotgen.build.run")


@dataclass
class _Tally:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    all_cached: bool = True

    def add(self, result: ChatResult) -> None:
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.requests += result.attempts
        self.all_cached = self.all_cached and result.from_cache

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            requests=self.requests,
            cached=self.all_cached,
        )


class WrongShapeError(TeacherStopped):
    """The teacher's first answers are all in a wrong shape (docs/teacher-contract.md): a prompt or model problem."""


@dataclass
class ShapeWatch:
    """Whether a teacher answers in the shape asked for at all; one per build, shared by its items.

    Until one answer has the right shape, an item whose first answer has a recognisable wrong shape
    (:func:`~cotgen.build.outcome.wrong_shape`) is not repaired: it ends unrecorded (to do on a rerun),
    the first such answer is named in one warning line, and the :data:`WRONG_SHAPE_AFTER`-th stops
    the build, instead of paying three requests per item of the corpus to learn the same thing. Once
    an answer has had the right shape, a wrong one is that item's own and gets its repair turns.
    """

    stop_after: int = WRONG_SHAPE_AFTER
    well_shaped: bool = False
    wrong: int = 0

    def ends_item(self, shape: str | None, item: Item) -> bool:
        """Record one first answer's shape; True when its item ends here; WrongShapeError at the limit."""
        if shape is None or self.well_shaped:
            self.well_shaped = self.well_shaped or shape is None
            return False
        self.wrong += 1
        if self.wrong == 1:
            logger.warning(
                "the teacher's answer for %s/%d is %s (docs/teacher-contract.md shows the answer asked for); "
                "the build stops after %d such answers unless one comes in the right shape",
                *item.key,
                shape,
                self.stop_after,
            )
        if self.wrong >= self.stop_after:
            raise WrongShapeError(
                f"the teacher's first {self.wrong} answers are all in a wrong shape, the last {shape}, and none "
                "was the JSON trace object of docs/teacher-contract.md: check the model and --prompts (a fine-tuned "
                "student model answers in tags), or ask with structured outputs; nothing was rejected for this"
            )
        return True


def _checked(
    answer: Answer, item: Item, measured: Mapping[str, str | None], checks: Checks, shown: Shown, events: bool
) -> Printed | tuple[str, RejectReason, str]:
    """The answer as a printed trace, or what is wrong with it (stage, reject reason, detail) for a repair turn or a
    reject."""
    try:
        trace = answer.trace(item, events)
    except TraceError as exc:
        return "validation", exc.reason, exc.detail
    scored = Printed.of(trace, measured)
    problem = content_problem(item, scored, measured, checks, shown)
    if problem is None:
        return scored
    reason, detail = problem
    return reject_stage(reason), reason, detail


async def teach_item(
    teacher: OpenAITeacher,
    prompts: PromptSet,
    item: Item,
    inputs: PromptInputs,
    measured_levels: Mapping[str, str | None],
    settings: TeachSettings,
    on_repair: Callable[[int], None] = lambda delta: None,
    shapes: ShapeWatch | None = None,
) -> Outcome:
    """Ask, validate, repair up to ``settings.repairs`` times; the item's trace, its reject, or :class:`Unfinished`.

    A content problem (self-contradiction, a leaked target, unfaithful cues) gets one repair turn of its own; the
    same problem again is final. ``attempts`` in a reject counts teacher turns (first answer plus repairs); HTTP
    retries of one turn are the client's and show in ``usage.requests`` and in the detail of a call error. A call
    that failed through the server's fault is no reject: the item is unfinished, and a rerun asks it again (every
    answer it got before is cached, so only the failed turn is asked). When sending has stopped (Ctrl-C),
    :class:`~cotgen.teachers.breaker.SendingStopped` ends the item unrecorded.
    """
    template: TemplateRef = prompts.ref(item.mode, inputs.context is not None)
    messages = item_messages(prompts, inputs, item, settings)
    tally = _Tally()
    turn = 0
    repairing = False
    repaired: set[str] = set()
    shown = inputs.evidence_text  # written by the leak check only when an answer states a number
    try:
        while True:
            turn += 1
            request = ChatRequest(
                messages=messages,
                sample=item.sample,
                temperature=settings.temperature_for(item),
                classes=tuple(item.classes),
                max_tokens=settings.max_tokens,
                fresh=item.redraw,
            )
            try:
                result = await teacher.chat(request)
            except TeacherCallError as exc:
                detail = f"{exc.detail} (after {exc.attempts} request(s))"
                if exc.server_fault:
                    return Unfinished(item.key, exc.reason, detail)
                return reject_record(item, "teacher", exc.reason, detail, turn)
            tally.add(result)
            if result.refusal:
                return reject_record(item, "teacher", "refusal", result.refusal, turn, raw=result.text)
            if result.finish_reason == "length":
                detail = "the answer hit the token limit (finish_reason 'length')"
                return reject_record(item, "teacher", "truncated", detail, turn, raw=result.text)
            text = result.text or ""
            answer = Answer.read(text)
            if turn == 1 and shapes is not None:
                shape = answer.wrong_shape(item.classes)
                if shapes.ends_item(shape, item):
                    return Unfinished(item.key, "wrong_shape", f"the answer is {shape}")
            checked = _checked(answer, item, measured_levels, settings.checks, shown, settings.send_audio)
            if not isinstance(checked, Printed):
                stage, reason, detail = checked
                if turn > settings.repairs or reason in repaired:
                    return reject_record(item, stage, reason, detail, turn, raw=text)
                if reason in ONE_REPAIR:
                    repaired.add(reason)
                if not repairing:
                    repairing = True
                    on_repair(+1)
                repair = prompts.repair_message(f"{reason}: {detail}", item.classes)
                messages = [*messages, {"role": "assistant", "content": text}, repair]
                continue
            return printed_record(item, checked, teacher.name, template, tally.usage(), settings.style)
    finally:
        if repairing:
            on_repair(-1)


async def teach_all(
    config: TeacherConfig,
    cache: Path | None,
    items: Iterable[Work],
    work: Callable[[OpenAITeacher, Work], Awaitable[Result]],
    done: Callable[[Result], None],
    on_network: Callable[[dict[str, Any]], None],
    concurrency: int,
    on_stopping: Callable[[str], None] = lambda status: None,
    announce: Callable[[str], None] = logger.warning,
) -> dict[str, Any]:
    """Run ``work`` over ``items`` with one client and response cache; the client's usage at the end.

    ``on_network`` gets the client's statistics after each outcome (for the progress bar). The
    outcome type is the caller's: a build's trace or reject, ``cotgen predict``'s prediction lines.
    Ctrl-C is :mod:`cotgen.build.interrupt`'s (``on_stopping`` shows its countdown, ``announce`` its one-line
    explanation): it ends in
    :class:`~cotgen.build.interrupt.TeachingInterrupted` once every answer in flight is in or abandoned.
    """
    with ResponseCache(default_cache_path(cache)) as responses:
        teacher = OpenAITeacher(config, responses)

        def finished(outcome: Result) -> None:
            done(outcome)
            on_network(teacher.stats())

        interrupt = TwoStageInterrupt(
            teacher.stop_sending,
            lambda: teacher.in_flight,
            config.timeout + DEADLINE_GRACE_S + 1.0,
            on_stopping,
            announce,
        )
        try:
            await interrupt.run(
                lambda stop: asyncio.ensure_future(
                    run_pool(items, lambda item: work(teacher, item), finished, concurrency, stop)
                )
            )
        finally:
            await teacher.aclose()
            stats = teacher.stats()
            logger.info("teacher %s: %s", teacher.name, json.dumps(stats, sort_keys=True))
    return {
        "requests": stats["requests"],
        "prompt_tokens": stats["tokens_in"],
        "completion_tokens": stats["tokens_out"],
        "cached_prompt_tokens": stats["cached_prompt_tokens"],
        "cache_hits": stats["cache_hits"],
        "retries": stats["retries"],
    }
