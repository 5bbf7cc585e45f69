"""Asking a model teacher for one item's trace: request, validation, repair turns, and the final record.

The client (:mod:`cotgen.teachers.openai_teacher`) returns raw answers and caches them; everything
that decides whether an answer is good lives here, so a change in validation (``--repairs``,
``--min-faithfulness``) re-validates cached answers without a single new request. A repair turn
appends the invalid answer as the assistant's turn and a user message carrying the validation
error, so the conversation of every turn is deterministic and is itself a cache key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cotgen.build_outcome import Item, parse_answer, reject_record, trace_record, unfaithful_detail
from cotgen.prompts import PromptInputs, PromptSet
from cotgen.records import RejectRecord, TemplateRef, TraceRecord, Usage
from cotgen.teachers.openai_teacher import ChatRequest, ChatResult, OpenAITeacher, TeacherCallError, build_audio_part
from cotgen.trace import TraceError

Outcome = TraceRecord | RejectRecord
RATIONALIZE_TEMPERATURE = 0.0


@dataclass(frozen=True)
class TeachSettings:
    """How a model is asked: sampling, repair turns, the faithfulness bar, and where the schema goes."""

    temperature: float = 1.0
    repairs: int = 2
    min_faithfulness: float | None = None
    max_tokens: int | None = None
    send_audio: bool = False
    structured: bool = True

    @property
    def schema_in_prompt(self) -> bool:
        """The schema is written into the prompt whenever the server is not asked to enforce it."""
        return self.send_audio or not self.structured

    def temperature_for(self, item: Item) -> float:
        """Gold traces at temperature 0 (reproducible where the server allows); predict samples at ``temperature``."""
        return RATIONALIZE_TEMPERATURE if item.mode == "rationalize" else self.temperature


def item_messages(
    prompts: PromptSet, inputs: PromptInputs, item: Item, settings: TeachSettings
) -> list[dict[str, Any]]:
    """The first turn's messages; with ``send_audio`` the user message also carries the clip."""
    messages = prompts.messages(inputs, item.mode, settings.schema_in_prompt)
    if settings.send_audio:
        user = messages[1]
        messages[1] = {
            "role": "user",
            "content": [{"type": "text", "text": user["content"]}, build_audio_part(item.utterance.audio)],
        }
    return messages


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


async def teach_item(
    teacher: OpenAITeacher,
    prompts: PromptSet,
    item: Item,
    inputs: PromptInputs,
    measured_levels: Mapping[str, str | None],
    settings: TeachSettings,
    on_repair: Callable[[int], None] = lambda delta: None,
) -> Outcome:
    """Ask, validate, repair up to ``settings.repairs`` times; the item's trace or its reject.

    ``attempts`` in a reject counts teacher turns (first answer plus repairs); HTTP retries of one
    turn are the client's and show in ``usage.requests`` and in the detail of a call error.
    """
    template: TemplateRef = prompts.ref(item.mode)
    messages = item_messages(prompts, inputs, item, settings)
    tally = _Tally()
    turn = 0
    repairing = False
    try:
        while True:
            turn += 1
            request = ChatRequest(
                messages=messages,
                sample=item.sample,
                temperature=settings.temperature_for(item),
                classes=tuple(item.classes),
                max_tokens=settings.max_tokens,
            )
            try:
                result = await teacher.chat(request)
            except TeacherCallError as exc:
                detail = f"{exc.detail} (after {exc.attempts} request(s))"
                return reject_record(item, "teacher", exc.reason, detail, turn)
            tally.add(result)
            if result.refusal:
                return reject_record(item, "teacher", "refusal", result.refusal, turn, raw=result.text)
            if result.finish_reason == "length":
                detail = "the answer hit the token limit (finish_reason 'length')"
                return reject_record(item, "teacher", "truncated", detail, turn, raw=result.text)
            text = result.text or ""
            try:
                trace = parse_answer(text, item)
            except TraceError as exc:
                if turn > settings.repairs:
                    return reject_record(item, "validation", exc.reason, exc.detail, turn, raw=text)
                if not repairing:
                    repairing = True
                    on_repair(+1)
                repair = prompts.repair_message(str(exc), item.classes)
                messages = [*messages, {"role": "assistant", "content": text}, repair]
                continue
            record = trace_record(item, trace, teacher.name, template, measured_levels, tally.usage())
            why = unfaithful_detail(record, settings.min_faithfulness)
            if why is not None:
                return reject_record(item, "faithfulness", "unfaithful", why, turn, raw=text)
            return record
    finally:
        if repairing:
            on_repair(-1)


async def run_pool(
    items: Sequence[Item],
    work: Callable[[Item], Awaitable[Outcome]],
    done: Callable[[Outcome], None],
    concurrency: int,
) -> None:
    """Run ``work`` over ``items`` with at most ``concurrency`` in flight, handing each outcome to ``done`` as it ends.

    ``done`` runs on the event loop thread, one outcome at a time, so it may append to files
    without locks. The first error cancels the other workers and propagates.
    """
    queue: asyncio.Queue[Item] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            done(await work(item))

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
