"""Counting annotator votes: the pure arithmetic behind every human distribution.

Each annotator has weight 1, split equally over the labels they chose (an annotator who picked
Frustration and Sadness gives 0.5 to each); an annotator with no label gives nothing. Sums are
done exactly (integers over a common denominator) so that the result does not depend on the order
annotators are listed in, not even in the last bit of a float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from cotgen.corpora.classes import canonical_sort


def annotator_labels(labels: Iterable[str]) -> list[str]:
    """One annotator's distinct labels in first-seen order (a label chosen twice still counts once)."""
    return list(dict.fromkeys(label for label in labels if label))


def weighted_vote_counts(votes: Sequence[Sequence[str]]) -> dict[str, float]:
    """Code -> weighted count over annotators (weight 1 each, split over their labels), canonical order."""
    chosen = [labels for labels in map(annotator_labels, votes) if labels]
    # Exact integer arithmetic over a common denominator; int / int is correctly rounded, so the
    # result equals the exact rational sum rounded once, whatever the annotator order.
    denominator = math.lcm(*(len(labels) for labels in chosen)) if chosen else 1
    totals: dict[str, int] = {}
    for labels in chosen:
        share = denominator // len(labels)
        for code in labels:
            totals[code] = totals.get(code, 0) + share
    return {code: totals[code] / denominator for code in canonical_sort(totals)}


def counted_annotators(votes: Sequence[Sequence[str]]) -> int:
    """How many annotators gave at least one label."""
    return sum(1 for labels in votes if annotator_labels(labels))


def tally_counts(counts: Mapping[str, float]) -> dict[str, float]:
    """Count columns (code -> count, e.g. CREMA-D's A..S) without zero entries, canonical order."""
    return {code: float(counts[code]) for code in canonical_sort(counts) if counts[code] > 0}
