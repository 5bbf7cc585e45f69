"""The numbers a person checks after loading a corpus, computed from a :class:`CorpusLoad`.

Kept separate from the loaders so that the CLI (rich tables), tests and the dataset card read the same
figures: utterances kept, per-class vote mass and majority counts, annotators per utterance, mean
entropy of the human distributions, annotator agreement (:mod:`cotgen.corpora.agreement`), how many
utterances carry a single label, corpus-level notes (EMO-SUPERB's smoothing floor), and every dropped
entry counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cotgen.core.divergence import entropy_bits
from cotgen.corpora.agreement import Agreement, AgreementRows, measure_rows
from cotgen.records.utterance import Utterance

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
    agreement: Agreement | None = None
    single_label: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    out_of_set: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """What run.json's corpus section adds to its counts: agreement, single-label count, corpus notes, and
        the votes outside the class set."""
        facts: dict[str, Any] = {"single_label": self.single_label}
        if self.out_of_set:
            facts["out_of_set"] = dict(self.out_of_set)
        if self.agreement is not None:
            facts["agreement"] = self.agreement.as_json()
        if self.notes:
            facts["notes"] = dict(self.notes)
        return facts

    def agreement_lines(self) -> list[str]:
        """Agreement, single-label and note lines, shared by the plain-text table and the CLI."""
        lines = []
        agreement = self.agreement
        if agreement is not None:
            alpha = "n/a" if agreement.alpha is None else f"{agreement.alpha:.3f}"
            why = f" ({agreement.alpha_note})" if agreement.alpha_note else f" over {agreement.units} utterances"
            entropy = agreement.mean_normalised_entropy
            lines.append(f"Krippendorff's alpha (nominal): {alpha}{why}")
            lines.append(f"mean normalised entropy: {'n/a' if entropy is None else f'{entropy:.3f}'}")
        if self.single_label:
            lines.append(
                f"single-label utterances: {self.single_label} of {self.kept} (one label each: not ambiguity data)"
            )
        for key, value in self.notes.items():
            lines.append(f"{key.replace('_', ' ')}: {value}")
        if self.out_of_set:
            o = self.out_of_set
            lines.append(
                f"votes outside the class set (--out-of-set {o['rule']}): {o['vote_mass_outside_share']:.1%} of the "
                f"vote mass; {o['utterances_over_half_outside']} utterances lost more than half of theirs"
            )
        return lines

    def __str__(self) -> str:
        lines = [f"{self.corpus}: {self.kept} utterances kept"]
        per_class = {row.code: row for row in self.agreement.per_class} if self.agreement else {}
        lines.append(f"{'class':<8}{'vote mass':>12}{'majority':>10}{'alpha':>8}{'norm. H':>9}")
        for row in self.classes:
            agreement = per_class.get(row.code)
            alpha = _fmt(agreement.alpha if agreement else None)
            entropy = _fmt(agreement.mean_normalised_entropy if agreement else None)
            lines.append(f"{row.code:<8}{row.vote_mass:>12.2f}{row.majority:>10}{alpha:>8}{entropy:>9}")
        lines.append(f"{TIE:<8}{'':>12}{self.ties:>10}")
        lines.append(
            f"annotators per utterance: min {self.annotators_min}, mean {self.annotators_mean:.2f},"
            f" max {self.annotators_max}"
        )
        lines.append(f"mean entropy: {self.mean_entropy_bits:.3f} bits")
        lines.extend(self.agreement_lines())
        if self.missing_audio_kept:
            lines.append(f"kept without audio: {self.missing_audio_kept}")
        lines.append(f"dropped: {sum(self.dropped.values())}")
        for reason, count in self.dropped.items():
            lines.append(f"  {reason}: {count}")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class SummaryTally:
    """The summary's figures, counted one utterance at a time as a corpus is assembled.

    Holds a few numbers per utterance (:class:`~cotgen.corpora.agreement.AgreementRows`), never a record, so
    a corpus of any size can be summarised while its records go to disk one by one. The per-class vote mass
    is summed in corpus order, utterance after utterance, as it always was: the same figures to the last bit.
    """

    def __init__(self, classes: Sequence[str], folds: Mapping[str, str]) -> None:
        self.classes = list(classes)
        self.mass = dict.fromkeys(self.classes, 0.0)
        self.majorities: Counter[str] = Counter()
        self.kept = 0
        self.annotators_min: int | None = None
        self.annotators_max = 0
        self.annotators_sum = 0
        self.single_label = 0
        self.rows = AgreementRows(self.classes, folds or {code: code for code in self.classes})

    def add(self, utt: Utterance) -> None:
        """Count one kept utterance."""
        for code, p in utt.distribution.items():
            self.mass[code] = self.mass.get(code, 0.0) + p
        self.majorities[utt.majority if utt.majority is not None else TIE] += 1
        self.kept += 1
        n = utt.n_annotators
        self.annotators_min = n if self.annotators_min is None else min(self.annotators_min, n)
        self.annotators_max = max(self.annotators_max, n)
        self.annotators_sum += n
        self.single_label += utt.single_label
        self.rows.add(utt)


def tally(utterances: Iterable[Utterance], classes: Sequence[str], folds: Mapping[str, str]) -> SummaryTally:
    """The tally of some utterances (for a caller holding them)."""
    counted = SummaryTally(classes, folds)
    for utt in utterances:
        counted.add(utt)
    return counted


def summarize(load: CorpusLoad) -> CorpusSummary:
    """Compute the summary of a load from its tally, drops and notes (pure: reads only the load)."""
    counted = load.tally
    entropies = np.atleast_1d(entropy_bits(counted.rows.distributions()))
    dropped = Counter(item.reason for item in load.dropped)
    return CorpusSummary(
        corpus=load.corpus,
        kept=counted.kept,
        classes=[ClassCount(code, counted.mass[code], counted.majorities.get(code, 0)) for code in load.classes],
        ties=counted.majorities.get(TIE, 0),
        annotators_min=counted.annotators_min or 0,
        annotators_mean=counted.annotators_sum / counted.kept if counted.kept else 0.0,
        annotators_max=counted.annotators_max,
        mean_entropy_bits=float(entropies.mean()) if counted.kept else 0.0,
        dropped=dict(dropped.most_common()),
        missing_audio_kept=len(load.missing_audio),
        agreement=measure_rows(counted.rows),
        single_label=counted.single_label,
        notes=dict(load.notes),
        out_of_set=dict(load.out_of_set),
    )
