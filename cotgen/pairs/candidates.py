"""The candidate answers for one utterance, each with its source and the distribution printed in its text.

Candidates come from five sources: the gold (rationalize) trace, the teacher's predict-mode
samples, the user's own on-policy rollouts, corruptions of the gold trace, and the teacher's own
rationalisations of those corrupted distributions (``counterfactual``). Every candidate
is read back from its text with the trace parser, because the text is what a student is trained
on: a pair must be scored on what it shows, not on a structured field beside it.

Every candidate must also be consistent with itself by the rules gold traces pass
(:func:`cotgen.records.claims.claim_violations`: ambiguity level, competing classes, evidence and every quoted
share against its own distribution). A candidate that breaks one is dropped and counted by source and rule, so
no pair can be won by "the text that contradicts itself is the rejected one". Corruptions are made only of
golds the template teacher wrote: its rule rewrites the whole judgement, while a model's words around the
quoted numbers would stay; a model teacher's golds get their negatives from the ``counterfactual`` source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cotgen.pairs.corrupt import CORRUPTIONS, CorruptionKind, corruption_texts
from cotgen.records.claims import claim_violations, read_claims
from cotgen.records.consistency import MIN_COHERENCE
from cotgen.records.measurements import DEFAULT_STYLE, TextStyle
from cotgen.records.run_records import TraceRecord
from cotgen.records.utterance import Utterance
from cotgen.teachers.template import TEACHER_NAME as TEMPLATE_TEACHER

Source = Literal["gold", "samples", "rollouts", "corrupt", "counterfactual"]
SOURCES: tuple[Source, ...] = ("gold", "samples", "rollouts", "corrupt", "counterfactual")
COUNTERFACTUAL_DIR = "counterfactual"
# Counterfactuals are asked of the teacher (requests that may cost money): on request, or as the corrupt source of a
# model teacher's run (cotgen.pairs.build).
DEFAULT_SOURCES: tuple[Source, ...] = ("gold", "samples", "rollouts", "corrupt")


@dataclass(frozen=True)
class Candidate:
    """One answer text; ``distribution`` is None when the text does not parse (a format failure)."""

    source: str
    text: str
    distribution: dict[str, float] | None


@dataclass
class CandidateSet:
    """An utterance's candidates in a fixed order (gold, samples, rollouts, corruptions), texts unique."""

    candidates: list[Candidate] = field(default_factory=list)
    unreadable: Counter[str] = field(default_factory=Counter)
    inconsistent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (source kind, broken rule)
    gold_inconsistent: bool = False  # the gold broke a rule: it can be neither chosen nor replaced
    model_gold_not_corrupted: int = 0  # a model teacher's gold: its negatives are the counterfactual source

    def add(self, candidate: Candidate) -> None:
        """Keep the first candidate of each text: a duplicate could end up as both chosen and rejected."""
        if all(candidate.text != c.text for c in self.candidates):
            self.candidates.append(candidate)


def counterfactual_dir(run_dir: Path) -> Path:
    """Where a run's counterfactual traces and rejects live (``RUN/counterfactual/``)."""
    return run_dir / COUNTERFACTUAL_DIR


def kind_of_sample(sample: int) -> CorruptionKind:
    """The corruption kind a counterfactual record's ``sample`` number stands for (1 overconfident … 4 shifted)."""
    if not 1 <= sample <= len(CORRUPTIONS):
        raise ValueError(f"counterfactual sample {sample} is not 1..{len(CORRUPTIONS)}")
    return CORRUPTIONS[sample - 1]


def source_kind(source: str) -> str:
    """The label without its number: 'sample:3' -> 'sample', 'rollout:1' -> 'rollout', others unchanged."""
    head, _, tail = source.partition(":")
    return head if head in ("sample", "rollout") and tail.isdigit() else source


def gather_candidates(
    utterance: Utterance,
    traces: Sequence[TraceRecord],
    rollouts: Sequence[tuple[int, str]],
    sources: Collection[Source],
    keep_unparseable: bool,
    counterfactuals: Sequence[TraceRecord] = (),
    min_coherence: float | None = MIN_COHERENCE,
    style: TextStyle = DEFAULT_STYLE,
) -> CandidateSet:
    """All candidates of one utterance from the selected sources.

    Unreadable texts are counted by source kind; they become candidates (format failures, never
    chosen) only with ``keep_unparseable``. Readable texts that contradict themselves are counted by
    source kind and rule and never become candidates. Corruptions are written, and every text read, in the run's
    ``style`` (its stage order; no measured numbers unless the build kept them).
    """
    classes = utterance.classes
    found = CandidateSet()

    def offer(source: str, text: str) -> None:
        claims = read_claims(text, classes, style.order)
        if claims is None:
            found.unreadable[source_kind(source)] += 1
            if keep_unparseable:
                found.add(Candidate(source, text, None))
            return
        broken = claim_violations(claims, min_coherence)
        if broken:
            found.inconsistent[(source_kind(source), broken[0].rule)] += 1
            found.gold_inconsistent |= source == "gold"
            return
        found.add(Candidate(source, text, claims.distribution))

    ordered = sorted(traces, key=lambda r: r.sample)
    gold = next((r for r in ordered if r.sample == 0), None)
    if "gold" in sources and gold is not None:
        offer("gold", gold.text)
    if "samples" in sources:
        for record in ordered:
            if record.sample != 0:
                offer(f"sample:{record.sample}", record.text)
    if "rollouts" in sources:
        for number, text in rollouts:
            offer(f"rollout:{number}", text)
    if "corrupt" in sources and gold is not None:
        if gold.teacher == TEMPLATE_TEACHER:
            has_transcript = bool(utterance.transcript)
            for kind, text in corruption_texts(
                gold.trace, utterance.distribution, utterance.majority, classes, has_transcript, style=style
            ):
                offer(f"corrupt:{kind}", text)
        else:
            found.model_gold_not_corrupted += 1
    if "counterfactual" in sources:
        for record in sorted(counterfactuals, key=lambda r: r.sample):
            offer(f"counterfactual:{kind_of_sample(record.sample)}", record.text)
    return found
