"""How a model teacher is asked (settings, first-turn messages) and the pool that runs the items.

What is asked lives here and the asking in :mod:`cotgen.build.model_teacher`, so the command line (which
shows a prompt with ``--show-prompt``) and builds with the template teacher never import the OpenAI
client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from cotgen.build.outcome import CHECKS_VERSION, Checks, Item, Mode, Unfinished
from cotgen.prompts.templates import PromptInputs, PromptSet
from cotgen.records.consistency import MIN_COHERENCE
from cotgen.records.measurements import DEFAULT_STYLE, TextStyle
from cotgen.records.run_records import RejectRecord, TraceRecord
from cotgen.teachers.breaker import SendingStopped, TeacherStopped

Outcome = TraceRecord | RejectRecord | Unfinished
RATIONALIZE_TEMPERATURE = 0.0
Work = TypeVar("Work")
_END = object()
Result = TypeVar("Result")  # an Outcome for build, a list of PredictionRecord for predict


@dataclass(frozen=True)
class TeachSettings:
    """How a model is asked: sampling, repair turns, the faithfulness bar, and where the schema goes."""

    temperature: float = 1.0
    repairs: int = 2
    min_faithfulness: float | None = None
    max_tokens: int | None = None
    send_audio: bool = False
    structured: bool = True
    gold_tolerance: float = 0.01
    min_coherence: float | None = MIN_COHERENCE
    style: TextStyle = DEFAULT_STYLE  # how the training text is written (stage order, measured numbers)

    @property
    def checks(self) -> Checks:
        """The content checks a valid answer must pass (gold match, consistency, leaks, faithfulness)."""
        return Checks(self.gold_tolerance, self.min_faithfulness, self.min_coherence)

    @property
    def schema_in_prompt(self) -> bool:
        """The schema is written into the prompt whenever the server is not asked to enforce it."""
        return self.send_audio or not self.structured

    def temperature_for(self, item: Item) -> float:
        """Gold traces at temperature 0 (reproducible where the server allows); predict samples at ``temperature``."""
        return self.temperature_of(item.mode)

    def temperature_of(self, mode: Mode) -> float:
        return RATIONALIZE_TEMPERATURE if mode == "rationalize" else self.temperature

    def fingerprint_params(self, mode: Mode) -> dict[str, Any]:
        """The parameters that decide a model teacher's record of ``mode`` (they go into its fingerprint)."""
        params: dict[str, Any] = {
            "temperature": self.temperature_of(mode),
            "max_tokens": self.max_tokens,
            "structured": self.structured,
            "send_audio": self.send_audio,
            "repairs": self.repairs,
            "min_faithfulness": self.min_faithfulness,
            "min_coherence": self.min_coherence,
            "checks": CHECKS_VERSION,
            "stages": list(self.style.order),
            "keep_numbers": self.style.keep_numbers,
        }
        if mode == "rationalize":
            params["gold_tolerance"] = self.gold_tolerance
        return params


def item_messages(
    prompts: PromptSet, inputs: PromptInputs, item: Item, settings: TeachSettings
) -> list[dict[str, Any]]:
    """The first turn's messages; with ``send_audio`` the user message also carries the clip."""
    messages = prompts.messages(inputs, item.mode, settings.schema_in_prompt, settings.send_audio)
    if settings.send_audio:
        # Only a model is sent audio: the OpenAI client (and its audio encoder) load with the first one.
        from cotgen.teachers.openai_teacher import build_audio_part

        user = messages[1]
        messages[1] = {
            "role": "user",
            "content": [{"type": "text", "text": user["content"]}, build_audio_part(item.utterance.audio)],
        }
    return messages


async def run_pool(
    items: Iterable[Work],
    work: Callable[[Work], Awaitable[Result]],
    done: Callable[[Result], None],
    concurrency: int,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``work`` over ``items`` with at most ``concurrency`` in flight, handing each outcome to ``done`` as it ends.

    Items are taken from ``items`` only as a worker becomes free, so a generator that reads the
    corpus as it goes is never read ahead by more than ``concurrency`` items. ``done`` runs on the
    event loop thread, one outcome at a time, so it may append to files without locks. Once ``stop``
    is set (a first Ctrl-C) no item is taken any more, and an item whose next request is refused
    (:class:`SendingStopped`) ends without an outcome; the items in flight finish and are handed to
    ``done`` as usual. A stop of the teacher (:class:`TeacherStopped`: an outage, a failing server...)
    ends the same way, so the answers already paid for are kept (the client refuses every request
    after the stop, so the others end at their next one), and is raised once they have; so does an
    error of ``items`` itself (a record that cannot be read back, a helper process that died). Any
    other error cancels the other workers and propagates at once.
    """
    pending = iter(items)  # shared by the workers: one event loop thread, so each next() is whole
    halted: list[Exception] = []

    async def worker() -> None:
        while not halted and (stop is None or not stop.is_set()):
            try:
                item = next(pending, _END)
            except Exception as exc:  # noqa: BLE001 - the items' source failed: raised once the items in flight end
                halted.append(exc)
                return
            if item is _END:
                return
            try:
                result = await work(item)  # type: ignore[arg-type]
            except SendingStopped:
                return
            except TeacherStopped as exc:
                halted.append(exc)
                return
            done(result)

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if halted:
        raise halted[0]
