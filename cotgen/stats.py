"""Summary statistics of a run: how ambiguous the human labels are and how well the teacher matches them.

``cotgen stats`` prints them, the dataset card quotes them and ``run.json`` keeps them under
``stats``. Everything here is a pure function of the run's records, so it is cheap to test and to
recompute whenever a stage adds records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from cotgen.divergence import as_vector, entropy_bits
from cotgen.records import DPORecord, TraceRecord
from cotgen.utterance import Utterance

FAITHFUL_AT = 0.5


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


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
    faithful_share: float | None
    sft: int
    dpo: int
    grpo: int
    mean_pair_margin: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (for run.json)."""
        return asdict(self)


def class_vote_mass(utterances: Sequence[Utterance], classes: Sequence[str]) -> dict[str, float]:
    """Sum over utterances of each class's probability: how much of the listeners' judgement each class got."""
    if not utterances:
        return {code: 0.0 for code in classes}
    matrix = np.array([as_vector(u.distribution, classes) for u in utterances])
    return {code: float(v) for code, v in zip(classes, matrix.sum(axis=0))}


def pair_margins(pairs: Sequence[DPORecord]) -> list[float]:
    """score_rejected - score_chosen per pair (positive: the chosen trace is closer to the humans)."""
    return [p.score_rejected - p.score_chosen for p in pairs]


def compute_stats(
    utterances: Sequence[Utterance],
    traces: Sequence[TraceRecord],
    pairs: Sequence[DPORecord],
    sft: int = 0,
    grpo: int = 0,
) -> RunStats:
    """All statistics from the records (``sft`` and ``grpo`` are their record counts)."""
    classes = utterances[0].classes if utterances else []
    human = np.array([as_vector(u.distribution, classes) for u in utterances]) if utterances else np.zeros((0, 0))
    majority: dict[str, int] = {code: 0 for code in classes}
    for utt in utterances:
        if utt.majority is not None:
            majority[utt.majority] = majority.get(utt.majority, 0) + 1
    gold = [t for t in traces if t.sample == 0]
    samples = [t for t in traces if t.sample > 0]
    faith = [t.faithfulness for t in traces if t.faithfulness is not None]
    trace_entropy = [float(entropy_bits(as_vector(t.distribution, classes))) for t in traces]
    return RunStats(
        utterances=len(utterances),
        speakers=len({u.speaker for u in utterances if u.speaker is not None}),
        classes=list(classes),
        class_vote_mass=class_vote_mass(utterances, classes),
        majority_counts=majority,
        ties=sum(1 for u in utterances if u.majority is None),
        mean_annotators=_mean([u.n_annotators for u in utterances]),
        mean_human_entropy_bits=_mean(list(entropy_bits(human))) if len(utterances) else None,
        traces=len(traces),
        gold_traces=len(gold),
        mean_trace_entropy_bits=_mean(trace_entropy),
        mean_gold_js_bits=_mean([t.js for t in gold]),
        mean_sample_js_bits=_mean([t.js for t in samples]),
        mean_faithfulness=_mean(faith),
        faithful_share=_mean([1.0 if f >= FAITHFUL_AT else 0.0 for f in faith]),
        sft=sft,
        dpo=len(pairs),
        grpo=grpo,
        mean_pair_margin=_mean(pair_margins(pairs)),
    )
