"""One rule for votes outside the class set, for every corpus reader (``--out-of-set``).

Why: a 4-class IEMOCAP run meets votes for frustration, excitement or surprise; a manifest meets whatever labels
its users wrote. Each reader used to decide alone — IEMOCAP dropped the votes and renormalised (votes neu / fru /
fru+ang became neu 0.667, ang 0.333: half the mass gone), a manifest dropped the whole utterance for one such vote
— so the same votes meant different distributions depending on the file they came from. Now the class set carries
one documented rule (:class:`cotgen.corpora.classes.ClassSet`) and :func:`cotgen.corpora.entries.assemble`
applies it to every reader's entries:

- ``drop-votes`` (the default, the field's convention for fixed class sets): out-of-set votes are left out and
  the in-set ones renormalised; an utterance left with no in-set vote is dropped (``no votes in class set``);
- ``other``: out-of-set votes are kept, as the extra class ``oth`` ("other"), which prompts, metrics and exports
  then treat like any class;
- ``drop-utterance``: an utterance with any out-of-set vote is dropped (``label outside class set``).

Utterances whose corpus records no majority (IEMOCAP's and MSP's ``xxx``, the most ambiguous ones) are outside
every fixed class set by their reference label; ``--include-no-majority`` keeps them, their votes then handled by
the rule like any other.

Whatever the rule, :class:`OutOfSetTally` counts, per corpus, the share of vote mass outside the set and how many
utterances lost more than half of theirs; the corpus summary, run.json and the card report both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

OutOfSetRule = Literal["drop-votes", "other", "drop-utterance"]
OUT_OF_SET_RULES: tuple[OutOfSetRule, ...] = ("drop-votes", "other", "drop-utterance")
DEFAULT_RULE: OutOfSetRule = "drop-votes"
OTHER = "oth"
NO_MAJORITY_REFERENCE = "xxx"  # how every reader writes "the annotators reached no majority"


def outside_share(counts: Mapping[str, float], inside: Mapping[str, Any]) -> float:
    """The share of an utterance's vote mass on codes that ``inside`` (corpus code -> class) does not hold."""
    total = sum(v for v in counts.values() if v > 0)
    if total <= 0:
        return 0.0
    return sum(v for code, v in counts.items() if v > 0 and code not in inside) / total


@dataclass
class OutOfSetTally:
    """Per corpus: vote mass seen and outside the set, utterances that lost more than half of theirs."""

    rule: OutOfSetRule = DEFAULT_RULE
    mass: float = 0.0
    outside: float = 0.0
    utterances: int = 0
    over_half: int = 0

    def add(self, counts: Mapping[str, float], inside: Mapping[str, Any]) -> float:
        """Count one utterance's votes; returns its outside share."""
        total = sum(v for v in counts.values() if v > 0)
        share = outside_share(counts, inside)
        self.mass += total
        self.outside += share * total
        self.utterances += 1
        self.over_half += share > 0.5
        return share

    def as_json(self) -> dict[str, Any]:
        """What the summary, run.json and the card report."""
        return {
            "rule": self.rule,
            "vote_mass_outside_share": round(self.outside / self.mass, 4) if self.mass else 0.0,
            "utterances_over_half_outside": self.over_half,
            "utterances_counted": self.utterances,
        }


def check_rule(rule: str) -> OutOfSetRule:
    """The rule named ``rule``; ValueError naming the choices otherwise."""
    if rule not in OUT_OF_SET_RULES:
        raise ValueError(f"--out-of-set {rule!r}: expected one of {', '.join(OUT_OF_SET_RULES)}")
    return rule  # type: ignore[return-value]
