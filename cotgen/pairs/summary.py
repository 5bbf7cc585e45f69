"""What a pairing run produced: counts by reason and source, margin quartiles, and their table.

The same numbers go to the terminal and to ``run.json`` so that a dataset card or a later reader
can say how many utterances yielded no pair and why, and how wide the preference margins are.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cotgen.pairs.select import NO_PAIR_REASONS


@dataclass
class PairStats:
    """Running totals of a pairing run; margins are kept compactly (8 bytes a pair)."""

    utterances: int = 0
    utterances_with_pairs: int = 0
    pairs: int = 0
    no_pair: Counter[str] = field(default_factory=Counter)
    candidates: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)
    inconsistent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, rule): dropped, never paired
    model_golds_not_corrupted: int = 0  # golds of a model teacher: negatives from its counterfactuals instead
    eligible: Counter[str] = field(default_factory=Counter)  # could be rejected against the chosen, by kind
    within_margin: Counter[str] = field(default_factory=Counter)  # eligible but less than the margin worse
    chosen_sources: Counter[str] = field(default_factory=Counter)
    rejected_sources: Counter[str] = field(default_factory=Counter)
    pair_sources: Counter[tuple[str, str]] = field(default_factory=Counter)
    margins: array = field(default_factory=lambda: array("d"))
    unknown_trace_lines: int = 0
    unknown_rollout_lines: int = 0
    counterfactual: dict[str, Any] | None = None  # what asking the teacher for counterfactuals did and cost

    def count_pair(self, chosen: str, rejected: str) -> None:
        """One more pair of a chosen source kind against a rejected one."""
        self.pair_sources[(chosen, rejected)] += 1

    def pairs_by_source(self) -> dict[str, dict[str, int]]:
        """Pairs counted by chosen source, then rejected source: ``{"gold": {"corrupt:flat": 3, ...}}``."""
        out: dict[str, dict[str, int]] = {}
        for (chosen, rejected), n in sorted(self.pair_sources.items()):
            out.setdefault(chosen, {})[rejected] = n
        return out

    def inconsistent_by_kind(self) -> dict[str, dict[str, int]]:
        """Candidates dropped as self-contradictory, by kind and rule broken: ``{"corrupt:flat": {"shares": 2}}``."""
        out: dict[str, dict[str, int]] = {}
        for (kind, rule), n in sorted(self.inconsistent.items()):
            out.setdefault(kind, {})[rule] = n
        return out

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Per kind of candidate (source, and corruption kind): what happened to it on the way to a pair.

        ``candidates`` offered and consistent, ``inconsistent`` dropped by a consistency rule, ``eligible`` to be
        rejected against a chosen one, ``within_margin`` of those too close to the chosen, ``chosen`` as rejected.
        """
        inconsistent: Counter[str] = Counter()
        for (kind, _), n in self.inconsistent.items():
            inconsistent[kind] += n
        kinds = set(self.candidates) | set(inconsistent) | set(self.eligible) | set(self.rejected_sources)
        return {
            kind: {
                "candidates": self.candidates.get(kind, 0),
                "inconsistent": inconsistent.get(kind, 0),
                "eligible": self.eligible.get(kind, 0),
                "within_margin": self.within_margin.get(kind, 0),
                "chosen": self.rejected_sources.get(kind, 0),
            }
            for kind in sorted(kinds)
        }

    def margin_quantiles(self) -> dict[str, float | None]:
        """Median and quartiles of score_rejected - score_chosen over all pairs (None without pairs)."""
        if not self.margins:
            return {"q1": None, "median": None, "q3": None}
        values = np.frombuffer(self.margins, dtype=np.float64)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return {"q1": float(q1), "median": float(median), "q3": float(q3)}

    def as_json(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The block recorded under ``run.json["pairs"]``: settings, counts and margins."""
        return {
            **settings,
            "utterances": self.utterances,
            "utterances_with_pairs": self.utterances_with_pairs,
            "pairs": self.pairs,
            "no_pair": {reason: self.no_pair.get(reason, 0) for reason in NO_PAIR_REASONS},
            "candidates": dict(sorted(self.candidates.items())),
            "unreadable": dict(sorted(self.unreadable.items())),
            "inconsistent": self.inconsistent_by_kind(),
            "model_golds_not_corrupted": self.model_golds_not_corrupted,
            "by_kind": self.by_kind(),
            "chosen_sources": dict(sorted(self.chosen_sources.items())),
            "rejected_sources": dict(sorted(self.rejected_sources.items())),
            "pairs_by_source": self.pairs_by_source(),
            "margins": self.margin_quantiles(),
            "unknown_trace_lines": self.unknown_trace_lines,
            "unknown_rollout_lines": self.unknown_rollout_lines,
        }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render_summary(stats: PairStats, metric: str, console: Console) -> None:
    """Pair counts, margins (median, quartiles) and the source mix as rich tables."""
    counts = Table(title="DPO pairs", show_header=False)
    counts.add_row("utterances", str(stats.utterances))
    counts.add_row("utterances with pairs", str(stats.utterances_with_pairs))
    counts.add_row("pairs", str(stats.pairs))
    for reason in NO_PAIR_REASONS:
        counts.add_row(f"no pair: {reason}", str(stats.no_pair.get(reason, 0)))
    for kind, n in sorted(stats.unreadable.items()):
        counts.add_row(f"unreadable {kind}", str(n))
    for kind, rules in stats.inconsistent_by_kind().items():
        counts.add_row(f"inconsistent {kind} (dropped)", ", ".join(f"{rule} {n}" for rule, n in rules.items()))
    if stats.model_golds_not_corrupted:
        counts.add_row("model golds not corrupted (counterfactuals instead)", str(stats.model_golds_not_corrupted))
    if stats.unknown_trace_lines or stats.unknown_rollout_lines:
        counts.add_row(
            "lines with unknown ids", f"{stats.unknown_trace_lines} traces, {stats.unknown_rollout_lines} rollouts"
        )
    quantiles = stats.margin_quantiles()
    counts.add_row(
        f"margin ({metric}) q1 / median / q3",
        f"{_fmt(quantiles['q1'])} / {_fmt(quantiles['median'])} / {_fmt(quantiles['q3'])}",
    )
    if stats.counterfactual is not None:
        cf = stats.counterfactual
        cost = "-" if cf["cost_usd"] is None else f"${cf['cost_usd']:.4f}"
        counts.add_row(
            "counterfactual traces asked",
            f"{cf['items']} ({cf['skipped']} done before; {cf['traces']} new traces, {cf['rejects']} rejects, {cost})",
        )
    console.print(counts)
    mix = Table(
        title="Negatives by kind",
        caption="dropped: inconsistent with itself; in margin: eligible but less than --margin worse than the chosen",
    )
    mix.add_column("kind", no_wrap=True)
    for column in ("offered", "dropped", "eligible", "in margin", "chosen"):
        mix.add_column(column, justify="right")
    for kind, row in stats.by_kind().items():
        mix.add_row(kind, *(str(n) for n in row.values()))
    console.print(mix)
    chosen = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.chosen_sources.items())) or "none"
    console.print(f"chosen: {chosen}")
    by_source = Table(title="Pairs by source")
    by_source.add_column("chosen")
    by_source.add_column("rejected")
    by_source.add_column("pairs", justify="right")
    for chosen, rejected_counts in stats.pairs_by_source().items():
        for rejected, n in rejected_counts.items():
            by_source.add_row(chosen, rejected, str(n))
    console.print(by_source)
