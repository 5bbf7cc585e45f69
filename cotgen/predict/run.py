"""``cotgen predict`` as a library: ask a served student model about a run's utterances, write predictions.jsonl.

The asking is the build's own machinery, not a copy: the :class:`~cotgen.teachers.openai_teacher.OpenAITeacher`
client (response cache, concurrency, rpm/tpm limits, the one retry layer, the stop when the server
cannot be reached) run by :func:`cotgen.build.model_teacher.teach_all` over the build's pool. One
utterance is one unit of work: its K samples go as one request with ``n=K`` where the server
honours it (:meth:`~cotgen.teachers.openai_teacher.OpenAITeacher.chat_samples`), and its lines are
appended together when they are in (:mod:`cotgen.predict.state`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from cotgen.build.batch_build import BatchRun, custom_id, parse_custom_id, run_batch_rounds
from cotgen.build.interrupt import TeachingInterrupted
from cotgen.build.model_teacher import teach_all
from cotgen.build.progress import interrupted_message
from cotgen.core.durable_files import iter_recovered_lines, read_run_json, update_run_json
from cotgen.core.errors import CotgenError, Interrupted
from cotgen.core.paths import DEFAULT_RUN
from cotgen.core.redact import recorded_options
from cotgen.core.run_lock import run_lock
from cotgen.core.run_log import run_log
from cotgen.predict.audio import AudioError, AudioSettings
from cotgen.predict.outcome import Readout, audio_failure, error_reason, prediction
from cotgen.predict.progress import PredictProgress
from cotgen.predict.request import ModelIdentity, fingerprint, request_messages
from cotgen.predict.selection import ids_from_export, ids_from_file, label_words_of_export
from cotgen.predict.state import PredictionsFile
from cotgen.records.fingerprint import server_identity
from cotgen.records.measurements import TextStyle
from cotgen.records.prediction import PREDICTIONS_FILE, PredictionRecord
from cotgen.records.utterance import Utterance, iter_utterances
from cotgen.teachers.batch import BatchRequest, BatchSettings, Collected
from cotgen.teachers.batch.answers import BatchAnswers, Pending
from cotgen.teachers.batch_mode import BatchMode, batch_mode
from cotgen.teachers.breaker import TeacherStopped
from cotgen.teachers.openai_teacher import (
    ChatRequest,
    ChatResult,
    OpenAITeacher,
    TeacherCallError,
    TeacherConfig,
    resolve_api_key,
    resolve_base_url,
)

MODEL_PREFIX = "openai:"
READOUTS: tuple[str, ...] = ("text", "logprobs")
# OpenAI's limit for top_logprobs, and vLLM's default --max-logprobs: more needs a vLLM started with a higher one.
DEFAULT_TOP_LOGPROBS = 20
UTTERANCES_FILE = "utterances.jsonl"
RUN_JSON_KEY = "predict"
logger = logging.getLogger("cotgen.predict")


@dataclass(frozen=True)
class PredictConfig:
    """Everything a predict run needs; the ``cotgen predict`` options."""

    model: str
    run_dir: Path = DEFAULT_RUN
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    samples: int = 1
    temperature: float = 1.0
    max_tokens: int | None = None
    ids: Path | None = None
    export: Path | None = None
    split: str = "test"
    limit: int | None = None
    out: Path | None = None
    audio_part: str = "input_audio"
    file_urls: bool = False
    sample_rate: int = 16_000
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 1.0
    cache: Path | None = None
    retry_errors: bool = False
    progress: bool = False
    batch: bool = False
    batch_file_only: bool = False
    batch_results: Path | None = None
    batch_poll: float = 30.0
    batch_wait: bool = True
    readout: str = "text"
    top_logprobs: int = DEFAULT_TOP_LOGPROBS

    @property
    def batch_mode(self) -> BatchMode | None:
        """How the answers are asked for in batches (docs/batch.md); None: one request per utterance."""
        return batch_mode(self.batch, self.batch_file_only, self.batch_results)

    @property
    def model_name(self) -> str:
        """NAME of ``openai:NAME``: the served model, or a LoRA adapter's name under vLLM's --lora-modules."""
        if self.model.startswith(MODEL_PREFIX) and self.model[len(MODEL_PREFIX) :].strip():
            return self.model[len(MODEL_PREFIX) :].strip()
        raise CotgenError(f"--model {self.model!r}: expected openai:NAME (the name the server serves the model under)")

    def check(self) -> None:
        """Reject inconsistent options with one line each, before anything is read or written."""
        _ = self.model_name
        checks = [
            (self.samples >= 1, f"--samples must be at least 1, got {self.samples}"),
            (self.temperature >= 0, f"--temperature must not be negative, got {self.temperature}"),
            (
                self.max_tokens is None or self.max_tokens >= 1,
                f"--max-tokens must be at least 1, got {self.max_tokens}",
            ),
            (self.limit is None or self.limit >= 1, f"--limit must be at least 1, got {self.limit}"),
            (not (self.ids is not None and self.export is not None), "give --ids FILE or --export DIR, not both"),
            (
                not (self.batch_file_only and self.batch_results is not None),
                "--batch-file-only writes requests and --batch-results reads answers: give one of them",
            ),
            (self.batch_poll > 0, f"--batch-poll must be positive, got {self.batch_poll}"),
            (self.readout in READOUTS, f"--readout {self.readout!r}: expected one of {', '.join(READOUTS)}"),
            (self.top_logprobs >= 1, f"--top-logprobs must be at least 1, got {self.top_logprobs}"),
        ]
        for ok, message in checks:
            if not ok:
                raise CotgenError(message)
        self.audio_settings()
        self.teacher_config()

    def audio_settings(self) -> AudioSettings:
        return AudioSettings(part=self.audio_part, file_urls=self.file_urls, sample_rate=self.sample_rate)  # type: ignore[arg-type]

    def teacher_config(self) -> TeacherConfig:
        """The client settings: the teacher's, with no response_format (a student answers in tagged text)."""
        return TeacherConfig(
            model=self.model_name,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            concurrency=self.concurrency,
            rpm=self.rpm,
            tpm=self.tpm,
            timeout=self.timeout,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            structured=False,
        )

    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            model=self.model,
            server=server_identity(resolve_base_url(self.teacher_config())),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            top_logprobs=self.asked_top_logprobs,
        )

    @property
    def asked_top_logprobs(self) -> int | None:
        """top_logprobs sent with every request: only for the logprob readout."""
        return self.top_logprobs if self.readout == "logprobs" else None

    def label_readout(self) -> Readout:
        """The logprob readout of this run (nothing for the text readout), with the export's label words."""
        if self.asked_top_logprobs is None:
            return Readout()
        words = label_words_of_export(self.export) if self.export is not None else None
        return Readout(top_k=self.asked_top_logprobs, label_words=words)

    def out_path(self) -> Path:
        """``--out``, else ``predictions.jsonl`` in the run folder."""
        return self.out if self.out is not None else self.run_dir / PREDICTIONS_FILE

    def batch_journal(self) -> Path:
        """The batch records of this predictions file, beside it (``predictions.batches/``), apart from the build's."""
        out = self.out_path()
        return out.with_name(f"{out.stem}.batches")

    def as_json(self) -> dict[str, Any]:
        """The options as run.json records them (paths as text; the key's variable name, never its value)."""
        return recorded_options(self)


@dataclass(frozen=True)
class PredictSummary:
    """What a predict run did (this run) and what the file holds now."""

    out: Path
    utterances: int
    samples: int
    skipped: int
    new: int
    dropped: dict[str, int]
    new_errors: dict[str, int]
    lines: int
    parsed: int
    errors: dict[str, int]
    logprob_readouts: dict[str, int] = field(default_factory=dict)  # 'read' and readout errors by reason
    usage: dict[str, Any] = field(default_factory=dict)
    n_honoured: bool | None = None
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


def _selected(config: PredictConfig) -> Iterator[Utterance]:
    """The run's utterances to ask about, in corpus order; an id of --ids/--export missing from the run is an error."""
    path = config.run_dir / UTTERANCES_FILE
    wanted: list[str] | None = None
    if config.ids is not None:
        wanted = ids_from_file(config.ids)
    elif config.export is not None:
        wanted = ids_from_export(config.export, config.split)
    remaining = set(wanted) if wanted is not None else None
    given = 0
    for utt in iter_utterances(path):
        if config.limit is not None and given >= config.limit:
            return
        if remaining is None or utt.id in remaining:
            if remaining is not None:
                remaining.discard(utt.id)
            given += 1
            yield utt
    if remaining:
        source = f"--ids {config.ids}" if config.ids is not None else f"--export {config.export} --split {config.split}"
        unknown = ", ".join(sorted(remaining)[:5])
        raise CotgenError(f"{source}: {len(remaining)} id(s) not in {path}: {unknown} (is it the same run?)")


def _file_counts(path: Path) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """Lines, parsed lines, errors by reason, and logprob readouts by outcome of the predictions file.

    Read one line at a time. The readout counts are ``read`` and the error reasons of the lines that
    asked for it (empty when none did).
    """
    lines = parsed = 0
    errors: Counter[str] = Counter()
    readouts: Counter[str] = Counter()
    for line in iter_recovered_lines(path):
        lines += 1
        reason = error_reason(line.get("error"))
        if reason is None:
            parsed += 1
        else:
            errors[reason] += 1
        logprobs = line.get("logprobs")
        if isinstance(logprobs, dict):
            readouts[error_reason(logprobs.get("error")) or "read"] += 1
    return lines, parsed, dict(sorted(errors.items())), dict(sorted(readouts.items()))


class _Predictor:
    """One predict invocation: what the asking shares, so each step is a short method."""

    def __init__(self, config: PredictConfig, console: Console | None) -> None:
        self.config = config
        self.console = console
        self.identity = config.identity()
        self.audio = config.audio_settings()
        self.readout = config.label_readout()
        # The run's order of the reasoning stages: the prompt states it, the answers are read in it.
        self.order = TextStyle.of_run(read_run_json(config.run_dir).get("config")).order
        self.fingerprints: dict[str, str] = {}
        self.n_honoured: bool | None = None
        self.new_errors: Counter[str] = Counter()
        self.new = 0

    def plan(self, predictions: PredictionsFile) -> tuple[list[int], Counter[str]]:
        """Fingerprint every selected utterance and drop the lines whose inputs changed; returns the sample numbers."""
        for utt in _selected(self.config):
            self.fingerprints[utt.id] = fingerprint(utt, self.identity, self.audio, self.order)
        if not self.fingerprints:
            raise CotgenError(f"{self.config.run_dir / UTTERANCES_FILE}: no utterance selected")
        return list(range(1, self.config.samples + 1)), predictions.prune(self.fingerprints, self.config.retry_errors)

    def work(self, predictions: PredictionsFile, numbers: list[int]) -> Iterator[tuple[Utterance, list[int]]]:
        """Each selected utterance with the samples it still lacks, read one at a time."""
        for utt in _selected(self.config):
            todo = [n for n in numbers if not predictions.done((utt.id, n))]
            if todo:
                yield utt, todo

    async def ask(self, teacher: OpenAITeacher, unit: tuple[Utterance, list[int]]) -> list[PredictionRecord]:
        utt, samples = unit
        model, digest = self.config.model, self.fingerprints[utt.id]
        try:
            # In a thread: decoding and resampling a clip is CPU work the event loop should not wait on.
            messages = await asyncio.to_thread(request_messages, utt, self.audio)
        except AudioError as exc:
            return [audio_failure(utt.id, s, model, str(exc), digest) for s in samples]
        request = ChatRequest(
            messages=messages,
            sample=samples[0],
            temperature=self.config.temperature,
            classes=tuple(utt.classes),
            max_tokens=self.config.max_tokens,
            top_logprobs=self.config.asked_top_logprobs,
        )
        answers = await teacher.chat_samples(request, samples)
        self.n_honoured = teacher.n_honoured
        return [
            prediction(utt.id, s, model, answers[s], utt.classes, digest, self.readout, self.order) for s in samples
        ]

    def in_batches(self, predictions: PredictionsFile, numbers: list[int], progress: PredictProgress) -> dict[str, Any]:
        """Ask in batch rounds (:func:`cotgen.build.batch_build.run_batch_rounds`): one line per sample.

        Each sample is its own request (``custom_id`` ``<id>#<sample>#1``, no ``n``), cached under the
        key a synchronous run uses for it, so batch and synchronous answers are interchangeable.
        """
        config = self.config
        mode = config.batch_mode
        assert mode is not None
        settings = BatchSettings(
            poll_interval=config.batch_poll, poll_cap=max(600.0, config.batch_poll), wait=config.batch_wait
        )
        run = BatchRun(mode, config.run_dir, config.cache, settings, config.batch_results, config.batch_journal())

        def step(answers: BatchAnswers, collected: Collected, add: Callable[[BatchRequest], None]) -> set[str]:
            for utt, samples in self.work(predictions, numbers):
                records = self.answered(utt, samples, answers, add)
                if records:
                    self.record(predictions, progress, records)
            rows = set(collected.answers) | set(collected.failures)
            return {cid for cid in rows - answers.used if not predictions.done(parse_custom_id(cid)[0])}

        return run_batch_rounds(config.teacher_config(), run, step, lambda entry: None)

    def answered(
        self, utt: Utterance, samples: list[int], answers: BatchAnswers, add: Callable[[BatchRequest], None]
    ) -> list[PredictionRecord]:
        """The lines of the samples that have an answer (or a failed row); the others' requests go to ``add``."""
        model, digest = self.config.model, self.fingerprints[utt.id]
        try:
            messages = request_messages(utt, self.audio, self.order)
        except AudioError as exc:
            return [audio_failure(utt.id, s, model, str(exc), digest) for s in samples]
        records = []
        for sample in samples:
            request = ChatRequest(
                messages=messages,
                sample=sample,
                temperature=self.config.temperature,
                classes=tuple(utt.classes),
                max_tokens=self.config.max_tokens,
                top_logprobs=self.config.asked_top_logprobs,
            )
            answer: ChatResult | TeacherCallError
            try:
                answer = answers.answer(custom_id((utt.id, sample), 1), request)
            except TeacherCallError as exc:
                answer = exc
            except Pending as pending:
                add(pending.request)
                continue
            records.append(prediction(utt.id, sample, model, answer, utt.classes, digest, self.readout, self.order))
        return records

    def record(self, predictions: PredictionsFile, progress: PredictProgress, records: list[PredictionRecord]) -> None:
        predictions.append(records)
        progress.finished(records)
        self.new += len(records)
        for record in records:
            reason = error_reason(record.error)
            if reason is not None:
                self.new_errors[reason] += 1
                logger.debug("prediction %s/%d: %s", record.id, record.sample, record.error)

    def run(self) -> PredictSummary:
        config = self.config
        started = time.monotonic()
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        out = config.out_path()
        # Offline batch files go to no server: they need no key.
        offline = config.batch_mode in ("file_only", "results")
        secret = "" if offline else resolve_api_key(config.teacher_config())
        utterances = config.run_dir / UTTERANCES_FILE
        if not utterances.is_file():  # checked before the run log would create the folder
            raise CotgenError(f"{utterances}: no such file (--in must be a run folder written by `cotgen build`)")
        with run_log(config.run_dir, secrets=[secret]):
            predictions = PredictionsFile(out, config.model)
            numbers, dropped = self.plan(predictions)
            total = len(self.fingerprints) * len(numbers)
            skipped = sum(1 for i in self.fingerprints for n in numbers if predictions.done((i, n)))
            logger.info(
                "predict %s with %s: %d utterances x %d samples, %d done, %d to do (%s dropped)",
                out,
                config.model,
                len(self.fingerprints),
                len(numbers),
                skipped,
                total - skipped,
                dict(dropped) or "none",
            )
            usage: dict[str, Any] = {}
            pending = sum(1 for i in self.fingerprints if any(not predictions.done((i, n)) for n in numbers))
            if pending and config.batch_mode is not None:
                with predictions, PredictProgress(pending, config.progress, self.console) as progress:
                    usage = self.in_batches(predictions, numbers, progress)
            elif pending:
                try:
                    with predictions, PredictProgress(pending, config.progress, self.console) as progress:
                        usage = asyncio.run(
                            teach_all(
                                config.teacher_config(),
                                config.cache,
                                self.work(predictions, numbers),
                                self.ask,
                                lambda records: self.record(predictions, progress, records),
                                lambda stats: None,
                                2 * config.concurrency,
                            )
                        )
                except TeacherStopped as exc:  # an outage or a systematic failure: the server's fault, not the items'
                    left = sum(1 for i in self.fingerprints for n in numbers if not predictions.done((i, n)))
                    logger.warning("stopped: %s", exc)
                    raise CotgenError(f"{exc}; {left} of {total} predictions left to do, which a rerun does") from None
                except TeachingInterrupted as exc:  # Ctrl-C: the answers in flight were awaited (or abandoned)
                    left = sum(1 for i in self.fingerprints for n in numbers if not predictions.done((i, n)))
                    message = interrupted_message(total - left, left, exc.describe())
                    logger.info("%s", message)
                    raise Interrupted(message) from None
            lines, parsed, errors, readouts = _file_counts(out)
            summary = PredictSummary(
                out=out,
                utterances=len(self.fingerprints),
                samples=len(numbers),
                skipped=skipped,
                new=self.new,
                dropped=dict(dropped),
                new_errors=dict(sorted(self.new_errors.items())),
                lines=lines,
                parsed=parsed,
                errors=errors,
                logprob_readouts=readouts,
                usage=usage,
                n_honoured=self.n_honoured,
                wall_s=time.monotonic() - started,
            )
            self._write_run_json(summary, started_at)
            logger.info("done: %s", json.dumps(summary.as_json(), sort_keys=True))
            return summary

    def _write_run_json(self, summary: PredictSummary, started_at: str) -> None:
        previous = read_run_json(self.config.run_dir).get(RUN_JSON_KEY)
        entries = previous if isinstance(previous, dict) else {}
        entry = {"config": self.config.as_json(), "summary": summary.as_json(), "started_at": started_at}
        update_run_json(self.config.run_dir, RUN_JSON_KEY, {**entries, str(summary.out): entry})


def run_predict(config: PredictConfig, console: Console | None = None) -> PredictSummary:
    """Run (or resume) a predict run; see the module docstring. Raises :class:`CotgenError` on bad input."""
    config.check()
    # predictions.jsonl and run.json live in the run folder: two predicts at once would ask twice and interleave.
    with run_lock(config.run_dir, "cotgen predict", create=False):
        return _Predictor(config, console).run()
