"""The numbers a person checks after loading a corpus, computed from a :class:`CorpusLoad`.

Kept separate from the loaders so that the CLI (rich tables), tests and the dataset card read the same
figures: utterances kept, per-class vote mass and majority counts, annotators per utterance, mean
entropy of the human distributions, and every dropped entry counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cotgen.core.divergence import as_vector, entropy_bits

if TYPE_CHECKING:
    from cotgen.corpora.entries import CorpusLoad

TIE = "(tie)"


@dataclass(frozen=True)
class ClassCount:
    """One class: its summed probability mass over utterances, and how many utterances it is the majority of."""

    code: str
    vote_mass: float
    majority: int


@dataclass(frozen=True)
class CorpusSummary:
    """Summary of one load; ``str()`` gives a plain-text table."""

    corpus: str
    kept: int
    classes: list[ClassCount]
    ties: int
    annotators_min: int
    annotators_mean: float
    annotators_max: int
    mean_entropy_bits: float
    dropped: dict[str, int]
    missing_audio_kept: int

    def __str__(self) -> str:
        lines = [f"{self.corpus}: {self.kept} utterances kept"]
        lines.append(f"{'class':<8}{'vote mass':>12}{'majority':>10}")
        for row in self.classes:
            lines.append(f"{row.code:<8}{row.vote_mass:>12.2f}{row.majority:>10}")
        lines.append(f"{TIE:<8}{'':>12}{self.ties:>10}")
        lines.append(
            f"annotators per utterance: min {self.annotators_min}, mean {self.annotators_mean:.2f},"
            f" max {self.annotators_max}"
        )
        lines.append(f"mean entropy: {self.mean_entropy_bits:.3f} bits")
        if self.missing_audio_kept:
            lines.append(f"kept without audio: {self.missing_audio_kept}")
        lines.append(f"dropped: {sum(self.dropped.values())}")
        for reason, count in self.dropped.items():
            lines.append(f"  {reason}: {count}")
        return "\n".join(lines)


def summarize(load: CorpusLoad) -> CorpusSummary:
    """Compute the summary of a load (pure: reads only the load)."""
    utterances = load.utterances
    mass = dict.fromkeys(load.classes, 0.0)
    majorities: Counter[str] = Counter()
    for utt in utterances:
        for code, p in utt.distribution.items():
            mass[code] = mass.get(code, 0.0) + p
        majorities[utt.majority if utt.majority is not None else TIE] += 1
    matrix = np.array([as_vector(utt.distribution, load.classes) for utt in utterances], dtype=np.float64).reshape(
        len(utterances), len(load.classes)
    )
    entropies = np.atleast_1d(entropy_bits(matrix))
    annotators = [utt.n_annotators for utt in utterances]
    dropped = Counter(item.reason for item in load.dropped)
    return CorpusSummary(
        corpus=load.corpus,
        kept=len(utterances),
        classes=[ClassCount(code, mass[code], majorities.get(code, 0)) for code in load.classes],
        ties=majorities.get(TIE, 0),
        annotators_min=min(annotators, default=0),
        annotators_mean=sum(annotators) / len(annotators) if annotators else 0.0,
        annotators_max=max(annotators, default=0),
        mean_entropy_bits=float(entropies.mean()) if len(utterances) else 0.0,
        dropped=dict(dropped.most_common()),
        missing_audio_kept=len(load.missing_audio),
    )
