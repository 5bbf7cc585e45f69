"""``cotgen build`` as a library: corpus -> utterances -> features -> teacher traces -> SFT records and run.json.

The CLI only fills a :class:`BuildConfig` and calls :func:`run_build`; a notebook can do the same.
The stages run in order into one run folder (docs/architecture.md, "Output folder of a run"): the
utterances and features are written first (features come from the shared cache on a rerun), then
every (id, sample) item not yet done is given to the teacher and ends, durably and exactly once,
in ``traces.jsonl`` or ``rejects.jsonl``; ``sft.jsonl`` and ``run.json`` are rewritten at the end
from what the files hold, so their counts always agree with the files.

Speaker references for cue levels are computed over the whole corpus, whatever ``limit`` selects.

Memory stays flat in the corpus size apart from a few columns: the utterance records are written
out and read back one at a time (:mod:`cotgen.build.corpus_columns`), cue profiles are derived per utterance
from per-speaker references as it is taught, and outcomes are appended as they finish. Libraries a
build may not need (pandas and pyarrow for the features table, the OpenAI client, the dataset card's)
are imported where they are first used, after the corpus records are gone, so they never add to the
peak of loading the corpus.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import platform
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from cotgen.acoustics import CUE_FEATURES, FEATURE_COLUMNS, CueProfile, CueReferences, cue_phrases, verbalise
from cotgen.build.corpus_columns import UTTERANCES_FILE, CorpusColumns, load_columns
from cotgen.build.cost import Prices, batch_prices, prices_for
from cotgen.build.fingerprint import FingerprintContext, utterance_fingerprint
from cotgen.build.interrupt import TeachingInterrupted
from cotgen.build.outcome import (
    CHECKS_VERSION,
    Checks,
    Item,
    Mode,
    ModeChoice,
    Printed,
    Unfinished,
    content_problem,
    mode_of,
    printed_record,
    reject_record,
    reject_stage,
    sample_numbers,
)
from cotgen.build.progress import BuildProgress, interrupted_message
from cotgen.build.state import RunState, traces_fingerprint
from cotgen.build.teach_pool import Outcome, TeachSettings
from cotgen.core.durable_files import merge_run_json, recover_jsonl, write_jsonl_atomic
from cotgen.core.errors import CotgenError, Interrupted
from cotgen.core.forked import forked_items
from cotgen.core.heap import frozen_heap, release_freed_memory
from cotgen.core.id_index import IdIndex, IdIndexBuilder
from cotgen.core.limits import MAX_AUDIO_SECONDS
from cotgen.core.paths import run_dir as default_run_dir
from cotgen.core.redact import recorded_options
from cotgen.core.run_lock import run_lock
from cotgen.core.run_log import run_log
from cotgen.core.spool import RowFile
from cotgen.corpora import canonical_name
from cotgen.corpora.out_of_set import DEFAULT_RULE
from cotgen.corpora.registry import corpus_folder
from cotgen.prompts.student import assistant_message, student_prompt
from cotgen.prompts.templates import FeatureLine, PromptInputs, PromptSet, load_prompts
from cotgen.records.consistency import MIN_COHERENCE
from cotgen.records.faithfulness_gate import DEFAULT_MIN_FAITHFULNESS
from cotgen.records.measurements import TextStyle
from cotgen.records.run_records import RejectRecord, SFTRecord, TraceRecord, Usage
from cotgen.records.stages import DEFAULT_ORDER, stage_order
from cotgen.records.trace import SCHEMA_VERSION
from cotgen.records.utterance import Utterance, iter_utterances
from cotgen.teachers.batch_mode import BatchMode, batch_mode
from cotgen.teachers.bounds import MAX_RESPONSE_BYTES
from cotgen.teachers.breaker import OUTAGE_AFTER_S, SERVER_FAULT_REASONS, TeacherStopped
from cotgen.teachers.endpoint import server_of
from cotgen.teachers.ratelimit import estimate_text_tokens, estimate_tokens
from cotgen.teachers.template import TEACHER_NAME, template_ref, write_trace

if TYPE_CHECKING:
    from cotgen.acoustics.table import FeatureTable
    from cotgen.build.model_teacher import OpenAITeacher, ShapeWatch
    from cotgen.teachers.openai_teacher import TeacherConfig

SFT_FILE = "sft.jsonl"
BUILD_COMMAND = "cotgen build"
MODES: tuple[Mode, ...] = ("rationalize", "predict")
TEMPLATE_TEACHER = "template"
OPENAI_PREFIX = "openai:"

logger = logging.getLogger("cotgen.build.run")


def teacher_model(teacher: str) -> str | None:
    """The model of ``openai:MODEL``; None for the offline ``template`` teacher; CotgenError otherwise."""
    if teacher == TEMPLATE_TEACHER:
        return None
    if teacher.startswith(OPENAI_PREFIX) and teacher[len(OPENAI_PREFIX) :].strip():
        return teacher[len(OPENAI_PREFIX) :].strip()
    raise CotgenError(f"--teacher {teacher!r}: expected 'template' or 'openai:MODEL' (e.g. openai:gpt-4o-mini)")


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build needs; defaults are ``cotgen build`` with no arguments (demo corpus, template teacher)."""

    corpus: str = "demo"
    root: Path | None = None
    classes: str | None = None
    self_eval: bool = False
    allow_missing_audio: bool = False
    out: Path | None = None
    teacher: str = TEMPLATE_TEACHER
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 60.0
    max_retries: int = 6
    backoff_base: float = 1.0
    outage_after: float = OUTAGE_AFTER_S
    max_response_bytes: int = MAX_RESPONSE_BYTES
    structured: bool = True
    send_audio: bool = False
    samples: int = 0
    temperature: float = 1.0
    mode: ModeChoice | None = None
    repairs: int = 2
    min_faithfulness: float | None = DEFAULT_MIN_FAITHFULNESS  # None (a run.json from before the default): no gate
    min_coherence: float | None = MIN_COHERENCE  # the evidence-distribution gate (cotgen.records.consistency)
    out_of_set: str = DEFAULT_RULE  # votes outside the class set (cotgen.corpora.out_of_set)
    include_no_majority: bool = False  # keep utterances whose corpus records no majority (IEMOCAP's xxx)
    keep_numbers: bool = False  # training texts keep the teacher's measured numbers (cotgen.records.measurements)
    stages: str | None = None  # order of the reasoning stages, e.g. "lexical,acoustic,ambiguity" (records/stages.py)
    max_tokens: int | None = None
    price_in: float | None = None
    price_out: float | None = None
    cache: Path | None = None
    prompts: Path | None = None
    dry_run: bool = False
    limit: int | None = None
    retry_rejects: bool = False
    resample: bool = False
    gold_tolerance: float = 0.01
    workers: int | None = None
    dask_scheduler: str | None = None
    max_audio_seconds: float = MAX_AUDIO_SECONDS  # longer clips (by their header) are features rejects
    progress: bool = True
    context: int = 0
    batch: bool = False
    batch_file_only: bool = False
    batch_results: Path | None = None
    batch_poll: float = 30.0
    batch_wait: bool = True

    @property
    def batch_mode(self) -> BatchMode | None:
        """How a batch build asks (docs/batch.md): the Batch API, a file for vllm run-batch, its results; else None."""
        return batch_mode(self.batch, self.batch_file_only, self.batch_results)

    @property
    def model(self) -> str | None:
        """The model name of an ``openai:`` teacher, None for the template teacher."""
        return teacher_model(self.teacher)

    @property
    def effective_mode(self) -> ModeChoice:
        """``--mode``, defaulting to both when samples are asked for, else rationalize."""
        if self.mode is not None:
            return self.mode
        return "both" if self.samples > 0 else "rationalize"

    def check(self) -> None:
        """Reject inconsistent options with one line each, before anything is read or written."""
        teacher_model(self.teacher)
        stage_order(self.stages)
        checks = [
            (
                self.batch_mode is None or self.model is not None,
                "--batch, --batch-file-only and --batch-results need --teacher openai:MODEL",
            ),
            (
                not (self.batch_file_only and self.batch_results is not None),
                "--batch-file-only writes requests and --batch-results reads answers: give one of them",
            ),
            (self.batch_poll > 0, f"--batch-poll must be positive, got {self.batch_poll}"),
            (self.samples >= 0, f"--samples must be 0 or more, got {self.samples}"),
            (self.repairs >= 0, f"--repairs must be 0 or more, got {self.repairs}"),
            (self.concurrency >= 1, f"--concurrency must be at least 1, got {self.concurrency}"),
            (self.limit is None or self.limit >= 1, f"--limit must be at least 1, got {self.limit}"),
            (self.context >= 0, f"--context must be 0 or more, got {self.context}"),
            (self.temperature >= 0, f"--temperature must not be negative, got {self.temperature}"),
            (
                self.min_faithfulness is None or 0.0 <= self.min_faithfulness <= 1.0,
                f"--min-faithfulness must lie in [0, 1], got {self.min_faithfulness}",
            ),
            (
                self.min_coherence is None or 0.0 <= self.min_coherence <= 1.0,
                f"--min-coherence must lie in [0, 1], got {self.min_coherence}",
            ),
            (
                not (self.effective_mode == "predict" and self.samples == 0),
                "--mode predict needs --samples K with K >= 1",
            ),
            (self.mode in (None, "rationalize", "predict", "both"), f"--mode {self.mode!r}: rationalize|predict|both"),
            (
                0.0 <= self.gold_tolerance <= 1.0,
                f"--gold-tolerance is a JS divergence in bits and must lie in [0, 1], got {self.gold_tolerance}",
            ),
            (
                not self.resample or self.retry_rejects,
                "--resample goes with --retry-rejects (it redraws rejected items)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise CotgenError(message)

    def teacher_config(self) -> TeacherConfig:
        """The client settings of an ``openai:`` teacher."""
        # Imported here: the template teacher's builds never load the OpenAI client (see the module docstring).
        from cotgen.teachers.openai_teacher import TeacherConfig

        model = self.model
        if model is None:
            raise ValueError("the template teacher has no client configuration")
        return TeacherConfig(
            model=model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            concurrency=self.concurrency,
            rpm=self.rpm,
            tpm=self.tpm,
            timeout=self.timeout,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            structured=self.structured,
            send_audio=self.send_audio,
            outage_after=self.outage_after,
            stages=self.style.order,
            max_response_bytes=self.max_response_bytes,
        )

    @property
    def style(self) -> TextStyle:
        """How this build writes training texts: its stage order and whether measured numbers stay."""
        return TextStyle(stage_order(self.stages), self.keep_numbers)

    def checks(self) -> Checks:
        """The content checks of this build (gold match, consistency, leaks, faithfulness)."""
        return Checks(self.gold_tolerance, self.min_faithfulness, self.min_coherence)

    def teach_settings(self) -> TeachSettings:
        return TeachSettings(
            temperature=self.temperature,
            repairs=self.repairs,
            min_faithfulness=self.min_faithfulness,
            max_tokens=self.max_tokens,
            send_audio=self.send_audio,
            structured=self.structured,
            gold_tolerance=self.gold_tolerance,
            min_coherence=self.min_coherence,
            style=self.style,
        )

    def fingerprint_context(self, prompts: PromptSet) -> FingerprintContext:
        """What every item's fingerprint shares in this build: teacher, server, template hashes, parameters."""
        if self.model is None:
            refs = {mode: template_ref(mode).sha256 for mode in MODES}
            checks = {
                "min_faithfulness": self.min_faithfulness,
                "min_coherence": self.min_coherence,
                "checks": CHECKS_VERSION,
                "stages": list(self.style.order),
                "keep_numbers": self.keep_numbers,
            }
            params = {mode: checks for mode in MODES}
            return FingerprintContext(TEACHER_NAME, None, refs, params)
        settings = self.teach_settings()
        return FingerprintContext(
            f"{OPENAI_PREFIX}{self.model}",
            server_of(self.base_url),
            {mode: prompts.ref(mode).sha256 for mode in MODES},
            {mode: settings.fingerprint_params(mode) for mode in MODES},
        )

    def run_dir(self) -> Path:
        """``--out``, else ``outputs/<corpus>/``."""
        return default_run_dir(canonical_name(self.corpus), self.out)

    def as_json(self) -> dict[str, Any]:
        """The configuration as recorded in run.json (paths as text; the key's variable name, never its value)."""
        return recorded_options(self)


@dataclass(frozen=True)
class Prepared:
    """A corpus ready for teaching: its columns, feature values, cue references and feature errors.

    The utterance records themselves stay in ``utterances.jsonl`` (:meth:`utterances`); a cue profile
    is derived when its utterance comes up (:meth:`profile`), from the row's values and the
    per-speaker, per-gender and corpus references computed once over every measured utterance.
    """

    corpus: CorpusColumns
    run_dir: Path
    values: RowFile  # (utterances, FEATURE_COLUMNS) in corpus order, NaN = not measured; on disk
    references: CueReferences
    errors: dict[str, str]

    def utterances(self) -> Iterator[Utterance]:
        """The corpus's records in corpus order, read back one at a time."""
        return iter_utterances(self.run_dir / UTTERANCES_FILE)

    def utterance(self, utterance_id: str) -> Utterance:
        position = self.corpus.position(utterance_id)
        return next(islice(self.utterances(), position, None))

    def profile(self, position: int, utt: Utterance) -> CueProfile:
        """The cue profile of the utterance at ``position`` in corpus order."""
        return self.references.profile(dict(zip(FEATURE_COLUMNS, self.values[position])), utt.speaker, utt.gender)

    def inputs(self, utt: Utterance) -> PromptInputs:
        """What the prompt says about ``utt``: its words, gender, cues in words and numbers, the human distribution."""
        return prompt_inputs(utt, self.profile(self.corpus.position(utt.id), utt))


def prompt_inputs(utt: Utterance, profile: CueProfile) -> PromptInputs:
    """Prompt inputs of one utterance from its cue profile (numbers rounded as a reader would quote them)."""
    features = []
    for cue, feature in CUE_FEATURES.items():
        value, z = profile.values.get(feature), profile.z.get(cue)
        features.append(
            FeatureLine(
                name=f"{cue} ({feature})",
                value=round(value, 3) if value is not None else None,
                z=round(z, 2) if z is not None else None,
            )
        )
    return PromptInputs(
        transcript=utt.transcript,
        gender=utt.gender,
        cues_text=verbalise(profile),
        classes=utt.classes,
        features=features,
        human_distribution=utt.distribution,
        context=utt.context,
        levels={cue: level for cue, level in profile.levels.items() if level is not None},
    )


def prepare(config: BuildConfig, run_dir: Path) -> Prepared:
    """Load the corpus, write utterances.jsonl, measure (or reuse) features over the whole corpus, compute cues."""
    corpus = load_columns(
        config.corpus,
        config.root,
        config.classes,
        config.self_eval,
        config.allow_missing_audio,
        run_dir,
        config.context,
        config.out_of_set,
        config.include_no_majority,
    )
    release_freed_memory()  # what loading freed, before the stages that keep memory to the end
    return _measured(corpus, run_dir, config, config.dask_scheduler)


def _measured(corpus: CorpusColumns, run_dir: Path, config: BuildConfig, dask_scheduler: str | None) -> Prepared:
    """Measure (or reuse) the features of ``corpus``, write features.parquet and compute the cue references."""
    # Imported here, once the corpus records are gone: the features table needs pandas and pyarrow
    # (about 80 MB), which would otherwise sit under the peak of loading the corpus.
    from cotgen.acoustics.stage import measure_and_write

    features = measure_and_write(
        corpus.audio_items(),
        corpus.size,
        run_dir,
        workers=config.workers,
        cache_dir=config.cache,
        dask_scheduler=dask_scheduler,
        progress=config.progress,
        max_audio_seconds=config.max_audio_seconds,
    )
    release_freed_memory()
    prepared = _prepared(corpus, features, run_dir)
    release_freed_memory()  # the cue columns the references were computed from
    return prepared


# How many clips a "could not be measured" warning names before it says how many more there are.
NAMED_CLIPS = 3


def unmeasured_summary(errors: Mapping[str, str], total: int, audio: Mapping[str, str]) -> str:
    """One line naming the clips that could not be measured (the first few, with why), so the user can look."""
    named = [f"{uid} ({audio.get(uid, '?')}: {why})" for uid, why in list(errors.items())[:NAMED_CLIPS]]
    more = f" and {len(errors) - NAMED_CLIPS} more" if len(errors) > NAMED_CLIPS else ""
    return (
        f"{len(errors)} of {total} utterances could not be measured: {'; '.join(named)}{more}; "
        "they end in rejects.jsonl with reason 'features'"
    )


def _prepared(corpus: CorpusColumns, features: FeatureTable, run_dir: Path) -> Prepared:
    """The corpus columns with their features (in corpus order) and the cue references."""
    if not np.array_equal(features.ids, corpus.ids):
        raise RuntimeError("the features table is not in corpus order")  # measure_table keeps input order
    errors = {corpus.ids[row].decode(): error for row, error in sorted(features.errors.items()) if error}
    if errors:
        audio = {uid: path for uid, path in corpus.audio_items() if uid in errors}
        logger.warning("features: %s", unmeasured_summary(errors, corpus.size, audio))
    cues = list(CUE_FEATURES.values())
    columns = dict(zip(cues, features.values.columns([FEATURE_COLUMNS.index(feature) for feature in cues])))
    references = CueReferences.of_codes(
        columns, (corpus.speaker_codes, corpus.speaker_names), (corpus.gender_codes, corpus.gender_names)
    )
    return Prepared(corpus, run_dir, features.values, references, errors)


@dataclass(frozen=True)
class DryRunEstimate:
    """What a build would send: first-turn requests, estimated tokens (chars / 4) and cost."""

    requests: int
    features_rejects: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


@dataclass(frozen=True)
class BuildSummary:
    """The outcome of :func:`run_build`; file counts are of the files, this-run counts of this call."""

    run_dir: Path
    corpus: str
    items: int
    skipped: int
    stale: int
    new_traces: int
    new_rejects: int
    traces: int
    rejects: int
    sft: int
    reject_reasons: dict[str, int]
    reject_examples: dict[str, str] = field(default_factory=dict)  # reason -> the detail of its first reject
    scores: dict[str, float | None] = field(default_factory=dict)  # mean faithfulness and coherence of the traces
    by_mode: dict[str, dict[str, int]] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    cost_usd: float | None = None
    wall_s: float = 0.0
    dry_run: DryRunEstimate | None = None
    # Items of this run the server failed (cotgen.build.outcome.Unfinished): no record, to do on a rerun.
    unfinished: int = 0
    unfinished_reasons: dict[str, int] = field(default_factory=dict)
    unfinished_examples: dict[str, str] = field(default_factory=dict)  # reason -> the detail of its first item


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cotgen": version("cotgen"),
        "python": platform.python_version(),
        "openai": version("openai"),
        "parselmouth": version("praat-parselmouth"),
    }


def sft_record(utt: Utterance, gold: TraceRecord, order: Sequence[str] = DEFAULT_ORDER) -> SFTRecord:
    """The student record of one utterance from its gold trace.

    The assistant turn is the gold trace text exactly as the teacher wrote it (its own distribution,
    rounded to two decimals), never with the human numbers pasted over it, so the reasoning and the
    distribution it ends in cannot contradict each other; the build admits a gold trace only when its
    distribution matches the human one (:func:`cotgen.build.outcome.gold_mismatch`). The record's
    ``distribution`` field is the human one. ``order``: the run's order of the reasoning stages, which the
    instruction states and the gold text follows.
    """
    return SFTRecord(
        id=utt.id,
        audio=utt.audio,
        prompt=student_prompt(utt, order),
        completion=[assistant_message(gold.text)],
        distribution=utt.distribution,
    )


def sft_records(utterances: list[Utterance], traces: list[TraceRecord]) -> list[SFTRecord]:
    """One student record per utterance with a gold trace, in corpus order (see :func:`sft_record`)."""
    gold = {t.id: t for t in traces if t.sample == 0}
    return [sft_record(utt, gold[utt.id]) for utt in utterances if utt.id in gold]


@dataclass(frozen=True)
class TraceIndex:
    """What the end of a build needs from ``traces.jsonl``: traces per mode, and where each gold line lies.

    Built by reading one line at a time, so finishing a run of 100,000 utterances does not hold
    100,000 traces in memory (about 28 KB each as decoded JSON) just to count them and write sft.jsonl.
    Where the gold lines lie is an :class:`~cotgen.core.id_index.IdIndex` (the id's bytes and an
    offset per utterance) rather than a dict of tuples (about 0.23 KB per utterance).
    """

    by_mode: Counter[str]
    gold_lines: IdIndex  # id -> byte offset of its first sample-0 line
    scores: dict[str, float | None] = field(default_factory=dict)  # mean faithfulness and coherence of the traces

    @classmethod
    def scan(cls, path: Path) -> TraceIndex:
        """Index a traces file the run state has already recovered (no torn line) and this run appended to."""
        by_mode: Counter[str] = Counter()
        gold_lines = IdIndexBuilder(np.int64)
        sums: dict[str, list[float]] = {"faithfulness": [0.0, 0.0], "coherence": [0.0, 0.0]}
        if path.exists():
            offset = 0
            with path.open("rb") as handle:
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        by_mode[record["mode"]] += 1
                        for score, acc in sums.items():
                            if record.get(score) is not None:
                                acc[0] += record[score]
                                acc[1] += 1
                        if record["sample"] == 0:
                            gold_lines.add(record["id"], offset)  # the first of a repeated id wins (stable sort)
                    offset += len(line)
        scores = {f"mean_{name}": (total / n if n else None) for name, (total, n) in sums.items()}
        return cls(by_mode, gold_lines.build(), scores)

    def sft_records(
        self, utterances: Iterable[Utterance], path: Path, order: Sequence[str] = DEFAULT_ORDER
    ) -> Iterator[SFTRecord]:
        """The student records in corpus order, each gold trace read back from its line when its turn comes."""
        if not len(self.gold_lines):
            return
        with path.open("rb") as handle:
            for utt in utterances:
                offset = self.gold_lines.get(utt.id)
                if offset is not None:
                    handle.seek(int(offset))
                    yield sft_record(utt, TraceRecord.model_validate_json(handle.readline()), order)


def _counts(traces_by_mode: Counter[str], rejects: list[RejectRecord]) -> dict[str, Any]:
    by_mode: dict[str, Counter[str]] = {"rationalize": Counter(), "predict": Counter()}
    for mode, n in traces_by_mode.items():
        by_mode[mode]["traces"] += n
    for r in rejects:
        by_mode[r.mode]["rejects"] += 1
    return {
        "traces": sum(traces_by_mode.values()),
        "rejects": len(rejects),
        "by_mode": {mode: {"traces": c["traces"], "rejects": c["rejects"]} for mode, c in by_mode.items()},
        "reject_reasons": dict(sorted(Counter(r.reason for r in rejects).items())),
        "reject_examples": {r.reason: r.detail for r in reversed(rejects)},
    }


# An item to do, with the cue profile of its utterance; None when its features could not be measured.
WorkItem = tuple[Item, CueProfile | None]


@dataclass(frozen=True)
class WorkPlan:
    """Which items of the selected utterances this run does; each item's input fingerprint is computed as it goes.

    An item is skipped when it is done and its recorded fingerprint is the one its inputs give now;
    a done item whose fingerprint differs is stale and done again, as is a retried reject. A reject
    whose reason is a server fault (:data:`~cotgen.teachers.breaker.SERVER_FAULT_REASONS`: written by
    an older cotgen, or a failed batch row) is retried by every run, ``--retry-rejects`` or not: the
    failure was never the item's. Only the done items' fingerprints are computed to plan (none in a
    fresh run); the others are computed when their item comes up, so the plan holds nothing per item
    that is to do (a fingerprint per item was about 0.3 KB per utterance at 100,000).
    """

    selected: int  # utterances
    numbers: list[int]  # sample numbers per utterance
    skip: set[tuple[str, int]]  # done before this run, unchanged, and not retried
    retried: set[tuple[str, int]]
    stale: set[tuple[str, int]]  # done before this run from inputs that have changed since
    context: FingerprintContext
    resample: bool = False  # retried predict samples are drawn again, not read from the cache

    @property
    def items(self) -> int:
        return self.selected * len(self.numbers)

    @classmethod
    def of(cls, config: BuildConfig, prepared: Prepared, state: RunState, context: FingerprintContext) -> WorkPlan:
        corpus = prepared.corpus
        selected = min(config.limit, corpus.size) if config.limit else corpus.size
        numbers = sample_numbers(config.samples, config.effective_mode)
        stale: set[tuple[str, int]] = set()
        retried: set[tuple[str, int]] = set()
        if state.trace_keys or state.rejects:
            for position, utt in enumerate(islice(prepared.utterances(), selected)):
                if not any(state.is_done((utt.id, n)) for n in numbers):
                    continue
                current = {item.key: fp for item, fp in _fingerprinted(utt, position, numbers, prepared, context)[1]}
                stale |= state.stale(current)
                retried.update(
                    key
                    for key in current
                    if key in state.rejects
                    and (config.retry_rejects or state.rejects[key].reason in SERVER_FAULT_REASONS)
                )
        retried -= stale
        return cls(selected, numbers, state.done - retried - stale, retried, stale, context, config.resample)

    def pending(self, corpus: CorpusColumns) -> int:
        """How many items are to do (done items and items outside the selection excluded)."""
        if not self.skip:
            return self.items
        ids = (i.decode() for i in corpus.ids[: self.selected].tolist())
        return sum(1 for i in ids for n in self.numbers if (i, n) not in self.skip)

    def work(self, prepared: Prepared) -> Iterator[WorkItem]:
        """The items to do in corpus order, each with its cue profile and fingerprint, reading one record at a time."""
        for position, utt in enumerate(islice(prepared.utterances(), self.selected)):
            if all((utt.id, n) in self.skip for n in self.numbers):
                continue
            profile, fingerprinted = _fingerprinted(utt, position, self.numbers, prepared, self.context)
            for item, fingerprint in fingerprinted:
                key = item.key
                if key in self.skip:
                    continue
                redraw = self.resample and key in self.retried and item.sample > 0
                yield Item(utt, item.sample, item.mode, fingerprint, redraw, item.inputs), profile


def _fingerprinted(
    utt: Utterance, position: int, numbers: list[int], prepared: Prepared, context: FingerprintContext
) -> tuple[CueProfile | None, list[tuple[Item, str]]]:
    """The cue profile of the utterance at ``position``, and each of its items with the fingerprint of what its
    record would be made from."""
    error = prepared.errors.get(utt.id)
    profile = None if error is not None else prepared.profile(position, utt)
    inputs = None if profile is None else prompt_inputs(utt, profile)
    levels = None if profile is None else profile.levels
    items = [Item(utt, n, mode_of(n), inputs=inputs) for n in numbers]
    if not items:
        return profile, []
    shared = utterance_fingerprint(items[0], inputs, levels, error)
    return profile, [(item, context.of_sample(item, shared)) for item in items]


def inputs_of(item: Item, profile: CueProfile) -> PromptInputs:
    """What the prompt of ``item`` shows: computed with its fingerprint (:meth:`WorkPlan.work`), else now."""
    return item.inputs if item.inputs is not None else prompt_inputs(item.utterance, profile)


def features_reject(item: Item, prepared: Prepared) -> RejectRecord:
    """The reject of an item whose utterance has no features to cite."""
    return reject_record(item, "features", "features", prepared.errors[item.utterance.id], 0)


class _Builder:
    """One build invocation: holds what the stages share so each stage is a short method."""

    def __init__(self, config: BuildConfig, console: Console | None) -> None:
        self.config = config
        self.console = console
        self.prompts: PromptSet = load_prompts(config.prompts, config.style.order)
        self.model = config.model
        price_table = batch_prices if config.batch_mode == "online" else prices_for
        self.prices: Prices | None = price_table(self.model, config.price_in, config.price_out)
        self.secret = ""
        # Offline batch files go to no server: they need no key.
        if self.model is not None and not config.dry_run and config.batch_mode not in ("file_only", "results"):
            # Imported here: the template teacher's builds never load the OpenAI client (module docstring).
            from cotgen.teachers.openai_teacher import resolve_api_key

            self.secret = resolve_api_key(config.teacher_config())
        self.unfinished: Counter[str] = Counter()  # reason -> items the server failed in this run
        self.unfinished_examples: dict[str, str] = {}
        self.usage: dict[str, Any] = {
            "requests": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cache_hits": 0,
            "retries": {},
        }

    def finish(self, state: RunState, progress: BuildProgress) -> Callable[[Outcome], None]:
        def record(outcome: Outcome) -> None:
            if isinstance(outcome, Unfinished):  # the server's fault: no record, the item stays to do
                self.unfinished[outcome.reason] += 1
                self.unfinished_examples.setdefault(outcome.reason, outcome.detail)
                progress.finished(outcome)
                logger.warning("left to do %s/%d (%s): %s", *outcome.key, outcome.reason, outcome.detail)
                return
            state.record(outcome)
            progress.finished(outcome)
            if isinstance(outcome, TraceRecord):
                logger.debug(
                    "trace %s/%d js=%.4f faithfulness=%s", outcome.id, outcome.sample, outcome.js, outcome.faithfulness
                )
            else:
                logger.debug("reject %s/%d %s: %s", outcome.id, outcome.sample, outcome.reason, outcome.detail)

        return record

    def teach_template(self, work: Iterable[WorkItem], prepared: Prepared, done: Callable[[Outcome], None]) -> None:
        for item, profile in work:
            if profile is None:
                done(features_reject(item, prepared))
                continue
            levels = profile.levels
            utt = item.utterance
            trace = write_trace(
                utt.id, utt.transcript, utt.distribution, levels, item.mode, item.sample, cue_phrases(profile)
            )
            answer = Printed.of(trace, levels)
            record = printed_record(item, answer, TEACHER_NAME, template_ref(item.mode), Usage(), self.config.style)
            # The rules write the human distribution, consistently, from the measured levels: a problem is a bug,
            # never hidden, and rejected like a model's answer (no repair: the rules would write the same again).
            shown = inputs_of(item, profile).evidence_text  # written only when the trace states a number
            problem = content_problem(item, answer, levels, self.config.checks(), shown)
            if problem is None:
                done(record)
            else:
                reason, detail = problem
                done(reject_record(item, reject_stage(reason), reason, detail, 1, record.text))

    def asker(
        self, prepared: Prepared, progress: BuildProgress, shapes: ShapeWatch | None = None
    ) -> Callable[[OpenAITeacher, WorkItem], Awaitable[Outcome]]:
        """How one item is taught by a model, the same whether it is asked synchronously or in a batch.

        ``shapes`` watches the first answers' shape (synchronous builds: a batch's answers all arrive at once).
        """
        # Imported here: the template teacher's builds never load the OpenAI client (module docstring).
        from cotgen.build.model_teacher import teach_item

        settings = self.config.teach_settings()

        async def ask(teacher: OpenAITeacher, work_item: WorkItem) -> Outcome:
            item, profile = work_item
            if profile is None:
                return features_reject(item, prepared)
            inputs = inputs_of(item, profile)
            return await teach_item(
                teacher, self.prompts, item, inputs, profile.levels, settings, progress.repairing, shapes
            )

        return ask

    def teach_in_batches(
        self,
        plan: WorkPlan,
        prepared: Prepared,
        state: RunState,
        done: Callable[[Outcome], None],
        progress: BuildProgress,
    ) -> None:
        """Ask through the Batch API or an offline batch file, in rounds (cotgen.build.batch_build)."""
        from cotgen.build.batch_build import BatchRun, teach_batch
        from cotgen.teachers.batch import BatchSettings

        config = self.config
        mode = config.batch_mode
        assert mode is not None
        run = BatchRun(
            mode,
            prepared.run_dir,
            config.cache,
            BatchSettings(
                poll_interval=config.batch_poll, poll_cap=max(600.0, config.batch_poll), wait=config.batch_wait
            ),
            config.batch_results,
        )
        work = partial(plan.work, prepared)
        self.usage = teach_batch(
            config.teacher_config(), run, work, state.is_done, self.asker(prepared, progress), done, progress.batch
        )

    async def teach_model(
        self, work: Iterable[WorkItem], prepared: Prepared, done: Callable[[Outcome], None], progress: BuildProgress
    ) -> None:
        # Imported here: the template teacher's builds never load the OpenAI client (module docstring).
        from cotgen.build.model_teacher import ShapeWatch, teach_all

        ask = self.asker(prepared, progress, ShapeWatch())

        def network(stats: dict[str, Any]) -> None:
            progress.network(sum(stats["retries"].values()), stats["tokens_in"], stats["tokens_out"])

        self.usage = await teach_all(
            self.config.teacher_config(),
            self.config.cache,
            work,
            ask,
            done,
            network,
            2 * self.config.concurrency,
            progress.stopping,
            progress.say,
        )

    def work(self, plan: WorkPlan, prepared: Prepared, pending: int) -> AbstractContextManager[Iterator[WorkItem]]:
        """The plan's items; for a model asked item by item, made in a forked helper (:mod:`cotgen.core.forked`).

        Reading each utterance back, its cue profile, prompt inputs and fingerprint were a quarter of a cached
        item's time on the thread that checks the answers; the helper makes them on the other core. The template
        teacher takes the items here: its builds are the ones the memory benchmark measures, and they were never
        measured forked. Batches read the plan themselves.
        """
        if pending and self.model is not None and self.config.batch_mode is None:
            return forked_items(partial(plan.work, prepared))
        return nullcontext(plan.work(prepared))

    def estimate(self, work: Iterable[WorkItem]) -> DryRunEstimate:
        requests = features_rejects = prompt_tokens = completion_tokens = 0
        schema_in_prompt = self.config.teach_settings().schema_in_prompt
        for item, profile in work:
            if profile is None:
                features_rejects += 1
                continue
            requests += 1
            if self.model is None:
                continue
            utt = item.utterance
            inputs = inputs_of(item, profile)
            messages = self.prompts.messages(inputs, item.mode, schema_in_prompt, self.config.send_audio)
            prompt_tokens += estimate_tokens(messages)
            # The template teacher's answer for the same item stands in for the length of a model's answer.
            answer = write_trace(
                utt.id, utt.transcript, utt.distribution, profile.levels, item.mode, item.sample, cue_phrases(profile)
            )
            completion_tokens += estimate_text_tokens(answer.model_dump_json())
        if self.model is None:
            return DryRunEstimate(0, features_rejects, 0, 0, 0.0)
        cost = self.prices.cost(prompt_tokens, completion_tokens) if self.prices is not None else None
        return DryRunEstimate(requests, features_rejects, prompt_tokens, completion_tokens, cost)

    def run(self) -> BuildSummary:
        config = self.config
        started, started_at = time.monotonic(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        run_dir = config.run_dir()
        with run_log(run_dir, secrets=[self.secret]):
            logger.info(
                "build %s: teacher %s, mode %s, samples %d%s",
                run_dir,
                config.teacher,
                config.effective_mode,
                config.samples,
                " (dry run)" if config.dry_run else "",
            )
            prepared = prepare(config, run_dir)
            state = RunState(run_dir, prepared.corpus.classes)
            plan = WorkPlan.of(config, prepared, state, config.fingerprint_context(self.prompts))
            pending = plan.pending(prepared.corpus)
            skipped = plan.items - pending
            logger.info(
                "items: %d selected, %d already done, %d to do (%d stale, %d rejects retried)",
                plan.items,
                skipped,
                pending,
                len(plan.stale),
                len(plan.retried),
            )
            if config.dry_run:
                estimate = self.estimate(plan.work(prepared))
                return self._summary(run_dir, prepared, state, plan, skipped, started, estimate)
            state.release(plan.stale)
            state.release_rejects(plan.retried)
            state.track(prepared.corpus.ids, plan.numbers)  # this run's trace keys as bits, not tuples
            stopped: TeacherStopped | None = None
            # The items are made before the run state opens its files and the progress display starts its thread.
            items = self.work(plan, prepared, pending)
            with frozen_heap(), items as work, state, BuildProgress(pending, config.progress, self.console) as progress:
                done = self.finish(state, progress)
                try:
                    if self.model is None:
                        self.teach_template(work, prepared, done)
                    elif pending and config.batch_mode is not None:
                        self.teach_in_batches(plan, prepared, state, done, progress)
                    elif pending:
                        asyncio.run(self.teach_model(work, prepared, done, progress))
                except TeacherStopped as exc:  # the server's fault, not the items': they stay to do
                    stopped = exc
                except KeyboardInterrupt as exc:
                    # Finished items are on disk (the state flushes as it closes); the rest is what a rerun does.
                    finished = progress.finished_items
                    flight = exc.describe() if isinstance(exc, TeachingInterrupted) else ""
                    message = interrupted_message(skipped + finished, pending - finished, flight)
                    logger.info(message)
                    raise Interrupted(message) from None
            summary = self._summary(run_dir, prepared, state, plan, skipped, started, None)
            self._write_run_json(summary, prepared, started_at, stopped)
            if stopped is not None:
                left = pending - summary.new_traces - summary.new_rejects
                raise CotgenError(f"{stopped}; {left} of {pending} items left to do, which a rerun does") from None
            logger.info(
                "done: %d traces, %d rejects %s, %d sft records, %.1f s",
                summary.traces,
                summary.rejects,
                summary.reject_reasons,
                summary.sft,
                summary.wall_s,
            )
            return summary

    def _summary(
        self,
        run_dir: Path,
        prepared: Prepared,
        state: RunState,
        plan: WorkPlan,
        skipped: int,
        started: float,
        estimate: DryRunEstimate | None,
    ) -> BuildSummary:
        traces = TraceIndex.scan(state.traces_path)
        rejects = recover_jsonl(state.rejects_path, RejectRecord)
        sft = 0
        if estimate is None:
            records = traces.sft_records(prepared.utterances(), state.traces_path, self.config.style.order)
            sft = write_jsonl_atomic(run_dir / SFT_FILE, records)
        counts = _counts(traces.by_mode, rejects)
        tokens_in, tokens_out = self.usage["prompt_tokens"], self.usage["completion_tokens"]
        cached_in = self.usage.get("cached_prompt_tokens", 0)
        return BuildSummary(
            run_dir=run_dir,
            corpus=prepared.corpus.corpus,
            items=plan.items,
            skipped=skipped,
            stale=len(plan.stale),
            new_traces=state.new["traces"],
            new_rejects=state.new["rejects"],
            traces=counts["traces"],
            rejects=counts["rejects"],
            sft=sft,
            reject_reasons=counts["reject_reasons"],
            reject_examples=counts["reject_examples"],
            scores=traces.scores,
            by_mode=counts["by_mode"],
            usage=dict(self.usage),
            cost_usd=self.prices.cost(tokens_in, tokens_out, cached_in) if self.prices is not None else None,
            wall_s=time.monotonic() - started,
            dry_run=estimate,
            unfinished=sum(self.unfinished.values()),
            unfinished_reasons=dict(sorted(self.unfinished.items())),
            unfinished_examples=dict(self.unfinished_examples),
        )

    def _write_run_json(
        self, summary: BuildSummary, prepared: Prepared, started_at: str, stopped: TeacherStopped | None
    ) -> None:
        templates: dict[str, Any] = {"prompts_dir": str(self.prompts.directory), "files": self.prompts.hashes()}
        if self.model is None:
            templates["template_teacher"] = {m: template_ref(m).sha256 for m in ("rationalize", "predict")}
        corpus = prepared.corpus
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "versions": _versions(),
            "config": self.config.as_json(),
            "teacher": self.config.teacher,
            "corpus": {
                "name": corpus.corpus,
                "root": str(corpus_folder(self.config.corpus, self.config.root)),
                "classes": corpus.classes,
                "utterances": corpus.size,
                "dropped": corpus.dropped,
                "selected": min(self.config.limit, corpus.size) if self.config.limit else corpus.size,
                "feature_errors": len(prepared.errors),
                **corpus.facts,
            },
            "templates": templates,
            "counts": {
                "items_selected": summary.items,
                "traces": summary.traces,
                "rejects": summary.rejects,
                "by_mode": summary.by_mode,
                "reject_reasons": summary.reject_reasons,
                "scores": summary.scores,
                "sft": summary.sft,
                "this_run": {
                    "skipped": summary.skipped,
                    "stale": summary.stale,
                    "traces": summary.new_traces,
                    "rejects": summary.new_rejects,
                    "unfinished": summary.unfinished,
                    "unfinished_reasons": summary.unfinished_reasons,
                },
            },
            "usage": summary.usage,
            "cost": {
                "usd": summary.cost_usd,
                "price_in_per_million": self.prices.input_per_million if self.prices else None,
                "price_out_per_million": self.prices.output_per_million if self.prices else None,
                "price_cached_in_per_million": self.prices.cached_input_per_million if self.prices else None,
                "rate": "batch" if self.config.batch_mode == "online" else "synchronous",
            },
            "timing": {"started_at": started_at, "wall_s": round(summary.wall_s, 3)},
            "stopped": None if stopped is None else str(stopped),
        }
        manifest["traces_fingerprint"] = traces_fingerprint(summary.run_dir)
        # Merged, not rewritten: the sections pairs, grpo, stats and export wrote stay (their fingerprints say
        # whether their files still match these traces).
        merge_run_json(summary.run_dir, manifest, BUILD_COMMAND)


def run_build(config: BuildConfig, console: Console | None = None) -> BuildSummary:
    """Run (or resume) a build; see the module docstring. Raises :class:`CotgenError` on bad input."""
    config.check()
    with run_lock(config.run_dir(), BUILD_COMMAND):
        return _Builder(config, console).run()


def prepare_from_run(config: BuildConfig, run_dir: Path) -> Prepared:
    """A finished run's corpus ready for teaching again, from its own ``utterances.jsonl`` (not the corpus on disk).

    Later stages that ask the teacher more questions about the same utterances (the counterfactual
    pairs source) must see exactly the utterances and cue levels the build saw; features come from
    the cache, so nothing is measured twice.
    """
    return _measured(CorpusColumns.read(run_dir / UTTERANCES_FILE), run_dir, config, dask_scheduler=None)


@dataclass(frozen=True)
class TaughtItems:
    """What :func:`teach_into` did: items asked for, skipped as done before, new outcomes, usage and cost."""

    items: int
    skipped: int
    traces: int
    rejects: int
    reject_reasons: dict[str, int]
    usage: dict[str, Any]
    cost_usd: float | None


def teach_into(
    config: BuildConfig,
    prepared: Prepared,
    work: Iterable[WorkItem],
    out_dir: Path,
    console: Console | None = None,
) -> TaughtItems:
    """Teach items outside the build's own plan into ``out_dir/traces.jsonl`` and ``rejects.jsonl``.

    The build's machinery, unchanged: the same teacher (template or ``openai:``), response cache,
    repairs, faithfulness gate, prices and run state, so the items are cached, priced and resumable
    (an item already in either file is skipped). Each item's utterance carries the target the teacher
    rationalises, which need not be the votes.
    """
    # These items are asked synchronously, and priced so, even when the run's own build used --batch.
    config = dataclasses.replace(config, batch=False, batch_file_only=False, batch_results=None)
    config.check()
    builder = _Builder(config, console)
    state = RunState(out_dir, prepared.corpus.classes)
    items = list(work)
    pending = [(item, profile) for item, profile in items if item.key not in state.done]
    with run_log(prepared.run_dir, secrets=[builder.secret]):
        with state, BuildProgress(len(pending), config.progress, console) as progress:
            done = builder.finish(state, progress)
            if builder.model is None:
                builder.teach_template(pending, prepared, done)
            elif pending:
                asyncio.run(builder.teach_model(pending, prepared, done, progress))
    usage = builder.usage
    prices = builder.prices
    return TaughtItems(
        items=len(items),
        skipped=len(items) - len(pending),
        traces=state.new["traces"],
        rejects=state.new["rejects"],
        reject_reasons=dict(sorted(state.new_reasons.items())),
        usage=dict(usage),
        cost_usd=(
            prices.cost(usage["prompt_tokens"], usage["completion_tokens"], usage.get("cached_prompt_tokens", 0))
            if prices is not None
            else None
        ),
    )
