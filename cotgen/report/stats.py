"""Summary statistics of a run: how ambiguous the human labels are and how well the teacher matches them.

``cotgen stats`` prints them, the dataset card quotes them and ``run.json`` keeps them under
``stats``. They are computed in one streaming pass over each record file (:class:`StatsAccumulator`
keeps running sums and counts, never a record), so the cost in memory is the same for a run of
a hundred utterances and of a hundred thousand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cotgen.core.divergence import as_vector, entropy_bits
from cotgen.records.faithfulness_gate import DEFAULT_MIN_FAITHFULNESS
from cotgen.records.run_records import DPORecord, TemplateRef, TraceRecord
from cotgen.records.utterance import Utterance


class TraceFigures(BaseModel):
    """The fields of a ``traces.jsonl`` line that statistics, plots and the card report.

    Reading a line into this instead of a whole :class:`~cotgen.records.run_records.TraceRecord` skips building
    the structured trace and its text: about 12 µs a line instead of 65 µs, which is most of the
    dataset card's time at the end of a large build. It is a reading view, not an output contract.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    sample: int = Field(ge=0)
    teacher: str
    template: TemplateRef
    distribution: dict[str, float]
    js: float
    faithfulness: float | None
    coherence: float | None = None
    vocal_events: list[str] = Field(default_factory=list)


@dataclass
class RunningMean:
    """The mean of a stream of numbers, kept as a sum and a count (None before the first number)."""

    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        """Take one more number into the mean."""
        self.total += value
        self.count += 1

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


ENTROPY_BATCH = 256


@dataclass
class EntropyMean:
    """The mean entropy (bits) of a stream of distribution vectors, taken a batch at a time.

    :func:`~cotgen.core.divergence.entropy_bits` costs about 16 µs a call on a 4-class vector, nearly all
    of it numpy's per-call overhead; one call per :data:`ENTROPY_BATCH` vectors (rows of one small
    reused array) makes the entropies of a 100,000-utterance run take a fraction of a second instead
    of about three, with the same values.
    """

    running: RunningMean = field(default_factory=RunningMean)
    batch: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    pending: int = 0

    def add(self, vector: np.ndarray) -> None:
        """Take one distribution vector in."""
        if self.batch.shape[1] != len(vector):
            self._flush()
            self.batch = np.zeros((ENTROPY_BATCH, len(vector)))
        self.batch[self.pending] = vector
        self.pending += 1
        if self.pending == len(self.batch):
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            for value in np.atleast_1d(entropy_bits(self.batch[: self.pending])):
                self.running.add(float(value))
            self.pending = 0

    def mean(self) -> float | None:
        """The mean over every vector taken in so far."""
        self._flush()
        return self.running.mean


@dataclass(frozen=True)
class RunStats:
    """The numbers the table, the card and run.json report (None where the inputs are absent)."""

    utterances: int
    speakers: int
    classes: list[str]
    class_vote_mass: dict[str, float]
    majority_counts: dict[str, int]
    ties: int
    mean_annotators: float | None
    mean_human_entropy_bits: float | None
    traces: int
    gold_traces: int
    mean_trace_entropy_bits: float | None
    mean_gold_js_bits: float | None
    mean_sample_js_bits: float | None
    mean_faithfulness: float | None
    faithful_share: float | None  # the share of traces whose faithfulness is at least faithful_at
    faithful_at: float
    mean_coherence: float | None
    traces_with_vocal_events: int
    vocal_events: dict[str, int]
    sft: int
    dpo: int
    grpo: int
    mean_pair_margin: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (for run.json)."""
        return asdict(self)


def pair_margin(pair: DPORecord) -> float:
    """score_rejected - score_chosen (positive: the chosen trace is closer to the humans)."""
    return pair.score_rejected - pair.score_chosen


@dataclass
class StatsAccumulator:
    """Running sums and counts over utterances, traces and pairs, fed one record at a time.

    The class set is the first utterance's; every utterance of a run shares it. Speakers are kept
    as a set of names (a corpus has tens to thousands, not one per utterance).
    """

    classes: list[str] = field(default_factory=list)
    utterances: int = 0
    speaker_names: set[str] = field(default_factory=set)
    vote_mass: np.ndarray = field(default_factory=lambda: np.zeros(0))
    majority_counts: dict[str, int] = field(default_factory=dict)
    ties: int = 0
    annotators: RunningMean = field(default_factory=RunningMean)
    human_entropy: EntropyMean = field(default_factory=EntropyMean)
    traces: int = 0
    gold_traces: int = 0
    trace_entropy: EntropyMean = field(default_factory=EntropyMean)
    gold_js: RunningMean = field(default_factory=RunningMean)
    sample_js: RunningMean = field(default_factory=RunningMean)
    faithfulness: RunningMean = field(default_factory=RunningMean)
    faithful: RunningMean = field(default_factory=RunningMean)
    coherence: RunningMean = field(default_factory=RunningMean)
    with_events: int = 0
    events: Counter[str] = field(default_factory=Counter)
    pairs: int = 0
    margin: RunningMean = field(default_factory=RunningMean)
    faithful_at: float = DEFAULT_MIN_FAITHFULNESS  # the run's gate (records.faithfulness_gate.run_gate)

    def add_utterance(self, utt: Utterance) -> None:
        """Count one utterance: its speaker, vote mass, majority, annotators and entropy."""
        if not self.utterances:
            self.classes = utt.classes
            self.vote_mass = np.zeros(len(self.classes))
            self.majority_counts = {code: 0 for code in self.classes}
        self.utterances += 1
        if utt.speaker is not None:
            self.speaker_names.add(utt.speaker)
        human = as_vector(utt.distribution, self.classes)
        self.vote_mass += human
        if utt.majority is None:
            self.ties += 1
        else:
            self.majority_counts[utt.majority] = self.majority_counts.get(utt.majority, 0) + 1
        self.annotators.add(utt.n_annotators)
        self.human_entropy.add(human)

    def add_trace(self, trace: TraceRecord | TraceFigures) -> None:
        """Count one trace: gold or sample, its entropy, its JS to the humans and its faithfulness."""
        self.traces += 1
        self.trace_entropy.add(as_vector(trace.distribution, self.classes))
        if trace.sample == 0:
            self.gold_traces += 1
            self.gold_js.add(trace.js)
        else:
            self.sample_js.add(trace.js)
        if trace.faithfulness is not None:
            self.faithfulness.add(trace.faithfulness)
            self.faithful.add(1.0 if trace.faithfulness >= self.faithful_at else 0.0)
        if trace.coherence is not None:
            self.coherence.add(trace.coherence)
        if trace.vocal_events:
            self.with_events += 1
            self.events.update(trace.vocal_events)

    def add_pair(self, pair: DPORecord) -> None:
        """Count one DPO pair and its score margin."""
        self.pairs += 1
        self.margin.add(pair_margin(pair))

    def result(self, sft: int = 0, grpo: int = 0) -> RunStats:
        """The statistics so far (``sft`` and ``grpo`` are those files' record counts)."""
        return RunStats(
            utterances=self.utterances,
            speakers=len(self.speaker_names),
            classes=list(self.classes),
            class_vote_mass={code: float(v) for code, v in zip(self.classes, self.vote_mass)},
            majority_counts=dict(self.majority_counts),
            ties=self.ties,
            mean_annotators=self.annotators.mean,
            mean_human_entropy_bits=self.human_entropy.mean(),
            traces=self.traces,
            gold_traces=self.gold_traces,
            mean_trace_entropy_bits=self.trace_entropy.mean(),
            mean_gold_js_bits=self.gold_js.mean,
            mean_sample_js_bits=self.sample_js.mean,
            mean_faithfulness=self.faithfulness.mean,
            faithful_share=self.faithful.mean,
            faithful_at=self.faithful_at,
            mean_coherence=self.coherence.mean,
            traces_with_vocal_events=self.with_events,
            vocal_events=dict(self.events.most_common()),
            sft=sft,
            dpo=self.pairs,
            grpo=grpo,
            mean_pair_margin=self.margin.mean,
        )


def compute_stats(
    utterances: Iterable[Utterance],
    traces: Iterable[TraceRecord | TraceFigures],
    pairs: Iterable[DPORecord],
    sft: int = 0,
    grpo: int = 0,
    faithful_at: float = DEFAULT_MIN_FAITHFULNESS,
) -> RunStats:
    """All statistics from one pass over each stream of records (``sft`` and ``grpo`` are record counts).

    ``faithful_share`` counts traces at ``faithful_at``, the run's faithfulness gate.
    """
    acc = StatsAccumulator(faithful_at=faithful_at)
    for utt in utterances:
        acc.add_utterance(utt)
    for trace in traces:
        acc.add_trace(trace)
    for pair in pairs:
        acc.add_pair(pair)
    return acc.result(sft=sft, grpo=grpo)
