"""``cotgen pairs`` as a library call: stream a run folder, score candidates, write ``dpo.jsonl``.

Memory stays flat in the number of candidates: utterances are read twice as a stream (once for
their ids), traces and rollouts are indexed by byte offset (:mod:`cotgen.pairs.index`), and
candidates are held for one block of utterances at a time, which is also the unit the scoring is
vectorised over.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from rich.console import Console

from cotgen.build.state import TRACES_FILE, traces_fingerprint
from cotgen.core.divergence import as_vector
from cotgen.core.durable_files import read_run_json, update_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import jsonl_writer
from cotgen.core.run_lock import run_lock
from cotgen.pairs.candidates import (
    DEFAULT_SOURCES,
    CandidateSet,
    Source,
    counterfactual_dir,
    gather_candidates,
    source_kind,
)
from cotgen.pairs.index import GroupedLines, LineReader, index_lines
from cotgen.pairs.scoring import Metric, score_rows, worst_scores
from cotgen.pairs.select import ChosenRule, Selection, Strategy, select_pair
from cotgen.pairs.summary import PairStats
from cotgen.prompts.student import assistant_message, student_prompt
from cotgen.records.consistency import MIN_COHERENCE
from cotgen.records.measurements import TextStyle
from cotgen.records.run_records import DPORecord, TraceRecord
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.utterance import Utterance, iter_utterances
from cotgen.teachers.template import TEACHER_NAME as TEMPLATE_TEACHER

BLOCK = 1024
DPO_FILE = "dpo.jsonl"


@dataclass(frozen=True)
class PairOptions:
    """Everything ``cotgen pairs`` lets a user choose; scores are in the metric's units (nats or bits)."""

    sources: frozenset[Source] = frozenset(DEFAULT_SOURCES)
    rollouts: Path | None = None
    keep_unparseable: bool = False
    metric: Metric = "kl"
    chosen: ChosenRule = "gold"
    margin: float = 0.05
    max_chosen: float = 0.1
    rejected: Strategy = "balanced"
    per_utterance: int = 1
    seed: int = 0
    progress: bool = True

    def settings(self) -> dict[str, Any]:
        """The options as recorded in ``run.json``."""
        return {
            "sources": sorted(self.sources),
            "rollouts": str(self.rollouts) if self.rollouts else None,
            "keep_unparseable": self.keep_unparseable,
            "metric": self.metric,
            "chosen": self.chosen,
            "margin": self.margin,
            "max_chosen": self.max_chosen,
            "rejected_strategy": self.rejected,
            "per_utterance": self.per_utterance,
            "seed": self.seed,
        }


def _check(options: PairOptions) -> None:
    if options.per_utterance < 1:
        raise CotgenError(f"--per-utterance must be at least 1, got {options.per_utterance}")
    if options.margin < 0 or not math.isfinite(options.margin):
        raise CotgenError(f"--margin must be a non-negative number, got {options.margin}")
    if options.rollouts is not None and not options.rollouts.exists():
        raise CotgenError(f"{options.rollouts}: no such rollouts file")


def _ordinals(path: Path) -> dict[str, int]:
    ordinals: dict[str, int] = {}
    for utterance in iter_utterances(path):
        if utterance.id in ordinals:
            raise CotgenError(f"{path}: utterance id {utterance.id!r} occurs twice")
        ordinals[utterance.id] = len(ordinals)
    return ordinals


def _traces(index: GroupedLines | None, reader: LineReader | None, ordinal: int) -> list[TraceRecord]:
    if index is None or reader is None:
        return []
    records = []
    for offset in index.offsets_of(ordinal):
        try:
            records.append(TraceRecord.model_validate_json(reader.read(offset)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            raise reader.fail(int(offset), f"not a valid trace record ({where}: {first['msg']})") from None
    return records


def _rollouts(index: GroupedLines | None, reader: LineReader | None, ordinal: int) -> list[tuple[int, str]]:
    """(number, text) of each rollout of an utterance: the line's ``sample`` (``cotgen predict``), else its rank."""
    if index is None or reader is None:
        return []
    texts = []
    for rank, offset in enumerate(index.offsets_of(ordinal), start=1):
        record = reader.read_json(int(offset))
        if not isinstance(record.get("text"), str):
            raise reader.fail(int(offset), "expected a rollout record with a string 'text' (JSONL of id + text)")
        sample = record.get("sample")
        number = sample if isinstance(sample, int) and not isinstance(sample, bool) and sample >= 1 else rank
        texts.append((number, record["text"]))
    return texts


def _blocks(path: Path) -> Iterator[list[tuple[int, Utterance]]]:
    block: list[tuple[int, Utterance]] = []
    for ordinal, utterance in enumerate(iter_utterances(path)):
        block.append((ordinal, utterance))
        if len(block) == BLOCK:
            yield block
            block = []
    if block:
        yield block


def score_block(found: list[tuple[Utterance, CandidateSet]], metric: Metric) -> list[np.ndarray]:
    """Scores of every candidate of a block of utterances in one vectorised call, split back per utterance.

    Unreadable candidates get the worst score any distribution could get for that utterance.
    """
    human_rows, cand_rows, readable, sizes = [], [], [], []
    for utterance, candidates in found:
        classes = utterance.classes
        human = as_vector(utterance.distribution, classes)
        for candidate in candidates.candidates:
            human_rows.append(human)
            ok = candidate.distribution is not None
            readable.append(ok)
            cand_rows.append(
                as_vector(candidate.distribution, classes) if ok else np.full(len(classes), 1 / len(classes))
            )
        sizes.append(len(candidates.candidates))
    if not human_rows:
        return [np.empty(0) for _ in found]
    # Class sets can differ between runs but not within one; group by width to stay vectorised anyway.
    scores = np.empty(len(human_rows))
    widths = np.array([len(h) for h in human_rows])
    ok_mask = np.array(readable)
    for width in np.unique(widths):
        rows = np.flatnonzero(widths == width)
        h = np.stack([human_rows[i] for i in rows])
        c = np.stack([cand_rows[i] for i in rows])
        scored = score_rows(h, c, metric)
        bad = ~ok_mask[rows]
        if bad.any():
            scored[bad] = worst_scores(h[bad], metric)
        scores[rows] = scored
    return np.split(scores, np.cumsum(sizes)[:-1])


def _rng(seed: int, utterance_id: str) -> np.random.Generator:
    """A generator per utterance, so the random strategy does not depend on processing order."""
    return np.random.default_rng([seed, zlib.crc32(utterance_id.encode("utf-8"))])


def _record(
    utterance: Utterance,
    candidates: CandidateSet,
    scores: np.ndarray,
    pick: Selection,
    metric: Metric,
    i: int,
    order: Sequence[str] = DEFAULT_ORDER,
) -> DPORecord:
    chosen = candidates.candidates[pick.chosen]
    rejected = candidates.candidates[i]
    return DPORecord(
        id=utterance.id,
        audio=utterance.audio,
        prompt=student_prompt(utterance, order),
        chosen=[assistant_message(chosen.text)],
        rejected=[assistant_message(rejected.text)],
        human_distribution=utterance.distribution,
        metric=metric,
        score_chosen=float(scores[pick.chosen]),
        score_rejected=float(scores[i]),
        source_chosen=chosen.source,
        source_rejected=rejected.source,
    )


def _gold_index(candidates: CandidateSet) -> int | None:
    """Where the gold trace sits among the candidates (None when the utterance has none)."""
    return next((i for i, c in enumerate(candidates.candidates) if c.source == "gold"), None)


def _tally(stats: PairStats, candidates: CandidateSet) -> None:
    for candidate in candidates.candidates:
        stats.candidates[source_kind(candidate.source)] += 1
    stats.unreadable.update(candidates.unreadable)
    stats.inconsistent.update(candidates.inconsistent)
    stats.model_golds_not_corrupted += candidates.model_gold_not_corrupted


def _tally_selection(stats: PairStats, kinds: list[str], pick: Selection) -> None:
    """Per kind of candidate: how many could be rejected, how many were too close to the chosen, how many were."""
    for i in pick.eligible:
        stats.eligible[kinds[i]] += 1
    for i in pick.within_margin:
        stats.within_margin[kinds[i]] += 1


def _recorded_build(run_dir: Path) -> tuple[bool, float | None]:
    """Whether the run's golds come from a model teacher, and the coherence gate its golds passed (run.json)."""
    config = read_run_json(run_dir).get("config")
    config = config if isinstance(config, dict) else {}
    teacher = config.get("teacher", TEMPLATE_TEACHER)
    gate = config.get("min_coherence", MIN_COHERENCE)
    return teacher != TEMPLATE_TEACHER, gate if isinstance(gate, (int, float)) and not isinstance(gate, bool) else None


def effective_sources(options: PairOptions, model_teacher: bool) -> frozenset[Source]:
    """The sources a run really draws from: for a model teacher's run, ``corrupt`` means its counterfactuals.

    A corruption rewrites only what a rule wrote; a model's words around the numbers would stay and contradict
    them, so a model teacher's golds get their corrupted negatives from the teacher's own rationalisations.
    """
    if model_teacher and "corrupt" in options.sources:
        return options.sources | {"counterfactual"}
    return options.sources


def build_pairs(
    run_dir: Path, options: PairOptions, out: Path | None = None, console: Console | None = None
) -> PairStats:
    """Write ``dpo.jsonl`` (atomically) for the run in ``run_dir``, record counts in ``run.json``, return them.

    The run folder is locked meanwhile, and the section records the fingerprint of the traces the
    pairs come from, so a later reader can tell when a rebuild has made them stale.
    """
    with run_lock(run_dir, "cotgen pairs"):
        return _write_pairs(run_dir, options, out, console)


def _write_pairs(run_dir: Path, options: PairOptions, out: Path | None, console: Console | None) -> PairStats:
    _check(options)
    utterances_path = run_dir / "utterances.jsonl"
    traces_path = run_dir / "traces.jsonl"
    out = out or run_dir / DPO_FILE
    fingerprint = traces_fingerprint(run_dir)
    ordinals = _ordinals(utterances_path)
    model_teacher, min_coherence = _recorded_build(run_dir)
    sources = effective_sources(options, model_teacher)
    needs_traces = bool(sources & {"gold", "samples", "corrupt", "counterfactual"})
    if needs_traces and not traces_path.exists():
        raise CotgenError(f"{traces_path}: no such file (run `cotgen build` first, or use --source rollouts)")
    trace_index = index_lines(traces_path, ordinals) if needs_traces else None
    style = TextStyle.of_run(read_run_json(run_dir).get("config"))
    taught = None
    counterfactual_path = counterfactual_dir(run_dir) / TRACES_FILE
    if "counterfactual" in sources:
        # Imported here: asking the teacher loads the build (and, for a model teacher, the OpenAI client).
        from cotgen.pairs.counterfactual import generate_counterfactuals

        taught = generate_counterfactuals(run_dir, console, options.progress)
    counterfactual_index = index_lines(counterfactual_path, ordinals) if taught is not None else None
    use_rollouts = "rollouts" in sources and options.rollouts is not None
    rollout_index = index_lines(options.rollouts, ordinals) if use_rollouts else None
    stats = PairStats(
        unknown_trace_lines=trace_index.unknown_lines if trace_index else 0,
        unknown_rollout_lines=rollout_index.unknown_lines if rollout_index else 0,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with ExitStack() as stack:
        trace_reader = LineReader(stack.enter_context(traces_path.open("rb")), traces_path) if trace_index else None
        rollout_reader = (
            LineReader(stack.enter_context(options.rollouts.open("rb")), options.rollouts) if rollout_index else None
        )
        counterfactual_reader = (
            LineReader(stack.enter_context(counterfactual_path.open("rb")), counterfactual_path)
            if counterfactual_index
            else None
        )
        writer = jsonl_writer(stack.enter_context(tmp.open("w", encoding="utf-8")))
        for block in _blocks(utterances_path):
            found = [
                (
                    utterance,
                    gather_candidates(
                        utterance,
                        _traces(trace_index, trace_reader, ordinal),
                        _rollouts(rollout_index, rollout_reader, ordinal),
                        sources,
                        options.keep_unparseable,
                        _traces(counterfactual_index, counterfactual_reader, ordinal),
                        min_coherence,
                        style,
                    ),
                )
                for ordinal, utterance in block
            ]
            for (utterance, candidates), scores in zip(found, score_block(found, options.metric)):
                stats.utterances += 1
                _tally(stats, candidates)
                if options.chosen == "gold" and candidates.gold_inconsistent:
                    stats.no_pair["gold_inconsistent"] += 1  # never replaced by a candidate it would have beaten
                    continue
                readable = np.array([c.distribution is not None for c in candidates.candidates], dtype=bool)
                kinds = [source_kind(c.source) for c in candidates.candidates]
                pick = select_pair(
                    scores,
                    readable,
                    [c.text for c in candidates.candidates],
                    options.margin,
                    options.max_chosen,
                    options.rejected,
                    options.per_utterance,
                    _rng(options.seed, utterance.id),
                    _gold_index(candidates) if options.chosen == "gold" else None,
                    kinds,
                    stats.rejected_sources,
                )
                _tally_selection(stats, kinds, pick)
                if pick.reason is not None:
                    stats.no_pair[pick.reason] += 1
                    continue
                stats.utterances_with_pairs += 1
                stats.chosen_sources[source_kind(candidates.candidates[pick.chosen].source)] += 1
                for i in pick.rejected:
                    record = _record(utterance, candidates, scores, pick, options.metric, i, style.order)
                    writer.write(record)
                    stats.pairs += 1
                    stats.rejected_sources[source_kind(record.source_rejected)] += 1
                    stats.count_pair(source_kind(record.source_chosen), source_kind(record.source_rejected))
                    stats.margins.append(record.score_rejected - record.score_chosen)
    tmp.replace(out)
    settings = {
        **options.settings(),
        "sources_used": sorted(sources),
        "min_coherence": min_coherence,
        "output": out.name,
    }
    if taught is not None:
        settings["counterfactual"] = dataclasses.asdict(taught)
        stats.counterfactual = settings["counterfactual"]
    update_run_json(run_dir, "pairs", {**stats.as_json(settings), "traces_fingerprint": fingerprint})
    return stats
