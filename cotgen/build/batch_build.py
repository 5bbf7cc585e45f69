"""``cotgen build --batch``: the build's items asked through the Batch API (or an offline batch file), in rounds.

A round is one pass over the items still to do, each taught by the *same* code as a synchronous
build (:func:`cotgen.build.model_teacher.teach_item`), with one difference: the teacher answers only
from the response cache and from the rows of batches that just ended. An item whose next turn has
an answer goes on (validated, repaired, faithfulness-checked exactly like a synchronous answer) and
may end as a trace or a reject; an item whose next turn has none raises :class:`Pending`, and its
request — built by :meth:`~cotgen.teachers.openai_teacher.OpenAITeacher.request_body`, so byte for
byte the synchronous body — goes into the next batch. Repairs are therefore simply the next round.

What a batch row becomes: a 200 answer is stored in the response cache under the synchronous
request's key (so a later rerun, batch or not, never pays for it again) and validated; an error
row or a non-200 response ends its item as a reject with the row's reason; a request in neither
file (expired, cancelled) has no answer and is asked again in the next round. Rows are matched by
``custom_id`` = ``<id>#<sample>#<turn>`` only, and only when the request sent (its body digest) is
the request this build would send now: an answer to an older prompt is never taken for a new one.

The rounds themselves (reattach, poll, collect, record before submitting, when to stop) are the
engine's (:meth:`~cotgen.teachers.batch.engine.BatchEngine.run_rounds`); this module supplies the
step of a round: the pass over the items.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotgen.build.outcome import Item, ItemKey, Unfinished, reject_record
from cotgen.build.teach_pool import Outcome
from cotgen.teachers.batch import BatchEngine, BatchRequest, BatchSettings, Collected
from cotgen.teachers.batch.answers import BatchAnswers, BatchTally, Pending
from cotgen.teachers.batch_mode import BatchMode
from cotgen.teachers.openai_teacher import ChatRequest, ChatResult, OpenAITeacher, TeacherConfig
from cotgen.teachers.response_cache import ResponseCache, default_cache_path

# Offline files are not sent to OpenAI: no base URL is needed, and no key (the client is never used).
OFFLINE_BASE_URL = "http://offline.invalid/v1"
CUSTOM_ID_SEPARATOR = "#"

logger = logging.getLogger("cotgen.build.run")


def custom_id(key: ItemKey, turn: int) -> str:
    """The Batch API ``custom_id`` of an item's turn: ``<id>#<sample>#<turn>`` (the id may itself hold a ``#``)."""
    return f"{key[0]}{CUSTOM_ID_SEPARATOR}{key[1]}{CUSTOM_ID_SEPARATOR}{turn}"


def parse_custom_id(value: str) -> tuple[ItemKey, int]:
    """The item key and turn of a :func:`custom_id`; ValueError for anything else."""
    utterance, sample, turn = value.rsplit(CUSTOM_ID_SEPARATOR, 2)
    return (utterance, int(sample)), int(turn)


class ItemTurns:
    """One item's teacher in a round: turn *n* of :func:`teach_item` is answered as ``custom_id(key, n)``."""

    def __init__(self, turns: BatchAnswers, key: ItemKey) -> None:
        self.name = turns.name
        self._turns = turns
        self._key = key
        self._turn = 0

    async def chat(self, request: ChatRequest) -> ChatResult:
        self._turn += 1
        return self._turns.answer(custom_id(self._key, self._turn), request)


WorkItem = tuple[Item, Any]
Ask = Callable[[Any, WorkItem], Awaitable[Outcome]]


async def _round(
    work: Iterable[WorkItem],
    is_done: Callable[[ItemKey], bool],
    turns: BatchAnswers,
    ask: Ask,
    done: Callable[[Outcome], None],
    add: Callable[[BatchRequest], None],
) -> None:
    """One pass over the items still to do: end those whose turns all have answers, add the next requests."""
    for work_item in work:
        key = work_item[0].key
        if is_done(key):
            continue
        try:
            outcome = await ask(ItemTurns(turns, key), work_item)
        except Pending as pending:
            add(pending.request)
            continue
        if isinstance(outcome, Unfinished):
            # A failed row (HTTP 5xx or 429 in the batch's error file) is recorded, or the rounds would send it
            # again and again; its reason is a server fault, so a plain rerun of the build asks it again.
            outcome = reject_record(work_item[0], "teacher", outcome.reason, outcome.detail, 1)  # type: ignore[arg-type]
        done(outcome)


@dataclass(frozen=True)
class BatchRun:
    """What batch rounds need besides the work: the mode, the run folder, the cache, how to poll.

    ``journal`` is the folder of the batch records, ``RUN/batches/`` by default; another command
    asking about the same items (``cotgen predict``) keeps its own, so custom_ids never meet.
    """

    mode: BatchMode
    run_dir: Path
    cache: Path | None
    settings: BatchSettings
    results: Path | None = None
    journal: Path | None = None


# One round's work over BatchAnswers: take the rows over, add() the requests still to send, and return the
# custom_ids of rows it could not use yet (see BatchEngine.run_rounds).
AnswersStep = Callable[[BatchAnswers, Collected, Callable[[BatchRequest], None]], set[str]]


def run_batch_rounds(
    config: TeacherConfig, run: BatchRun, step: AnswersStep, on_status: Callable[[Any], None]
) -> dict[str, Any]:
    """Batch rounds with a response cache and the request bodies of ``config``'s client; the ``usage`` block.

    The shared part of ``build --batch`` and any other command that asks in batches: ``step`` gets,
    each round, a :class:`~cotgen.teachers.batch.answers.BatchAnswers` to ask its requests through.
    """
    # Offline files go to no server: the client that builds the bodies needs no base URL and no key.
    offline = run.mode != "online"
    request_config = dataclasses.replace(config, base_url=config.base_url or OFFLINE_BASE_URL) if offline else config
    engine = BatchEngine(config, run.run_dir, run.settings, on_status=on_status, journal=run.journal)
    tally = BatchTally()
    fresh: set[str] = set()  # cache keys stored from batch rows by this process
    with ResponseCache(default_cache_path(run.cache)) as responses:
        teacher = OpenAITeacher(request_config, responses)

        def engine_step(collected: Collected, add: Callable[[BatchRequest], None]) -> set[str]:
            return step(BatchAnswers(teacher, responses, collected, tally, fresh), collected, add)

        try:
            report = engine.run_rounds(engine_step, run.mode, run.results)
        finally:
            asyncio.run(teacher.aclose())
    if report.stopped:
        logger.warning("%s", report.stopped)
    return tally.usage(report, engine.created)


def teach_batch(
    config: TeacherConfig,
    run: BatchRun,
    work: Callable[[], Iterable[WorkItem]],
    is_done: Callable[[ItemKey], bool],
    ask: Ask,
    done: Callable[[Outcome], None],
    on_status: Callable[[Any], None],
) -> dict[str, Any]:
    """Rounds of batches until every item has ended or must wait for a rerun; the ``usage`` block of run.json.

    ``work()`` yields the items not done before this build (each round calls it again), ``is_done``
    says which of them ended during it, ``ask(teacher, work_item)`` teaches one item as the
    synchronous build does, and ``done`` records an outcome durably.
    """

    def step(answers: BatchAnswers, collected: Collected, add: Callable[[BatchRequest], None]) -> set[str]:
        asyncio.run(_round(work(), is_done, answers, ask, done, add))
        rows = set(collected.answers) | set(collected.failures)
        return {cid for cid in rows - answers.used if not is_done(parse_custom_id(cid)[0])}

    return run_batch_rounds(config, run, step, on_status)
