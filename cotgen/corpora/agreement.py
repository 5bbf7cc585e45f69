"""How much the annotators agreed: Krippendorff's alpha (nominal) and the normalised entropy of the votes.

A model trained to reproduce the annotators' disagreement is only as meaningful as that disagreement: a
corpus whose raters agree little at the class level (alpha near 0) gives distributions that are mostly
noise, one whose raters agree well gives distributions whose spread is informative. Both figures are
reported per corpus and per class in ``cotgen corpus``'s summary, ``run.json`` and the dataset card.

- Alpha is computed by the ``krippendorff`` package from the vote counts (units = utterances, values =
  classes), with votes folded into the run's class set the same way as the distributions and votes outside
  the set kept as one extra value, so no rater's choice is lost. Only utterances whose vote counts are rater
  counts (two or more raters, counts summing to the number of raters) are units; distributions without
  counts (EMO-SUPERB) and single-label corpora have no alpha, and the summary says why. A class's alpha is
  the alpha of the binary question "this class or another".
- The normalised entropy of an utterance is the entropy of its human distribution divided by log(k) for k
  classes: 0 when everyone agreed, 1 for a uniform split. A class's value is the mean over the utterances
  whose majority it is.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import krippendorff
import numpy as np

from cotgen.records.utterance import Utterance

OUTSIDE = "(outside class set)"
COUNT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ClassAgreement:
    """One class: binary alpha (this class or another) and the mean normalised entropy of its majorities."""

    code: str
    alpha: float | None
    mean_normalised_entropy: float | None
    majorities: int


@dataclass(frozen=True)
class Agreement:
    """Agreement over a corpus; ``alpha_note`` says why alpha is None when it is."""

    alpha: float | None
    units: int
    mean_normalised_entropy: float | None
    per_class: list[ClassAgreement] = field(default_factory=list)
    alpha_note: str | None = None

    def as_json(self) -> dict[str, object]:
        """The figures as run.json records them (rounded to 4 decimals)."""
        return {
            "krippendorff_alpha_nominal": _round(self.alpha),
            "alpha_units": self.units,
            "alpha_note": self.alpha_note,
            "mean_normalised_entropy": _round(self.mean_normalised_entropy),
            "per_class": {
                row.code: {
                    "alpha": _round(row.alpha),
                    "mean_normalised_entropy": _round(row.mean_normalised_entropy),
                    "majorities": row.majorities,
                }
                for row in self.per_class
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def alpha_nominal(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) of a units x values count matrix; None when it is undefined.

    Undefined means fewer than two values were ever chosen (no expected disagreement) or no unit has two
    votes (nothing is pairable).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return None
    counts = counts[counts.sum(axis=1) >= 2]
    counts = counts[:, counts.sum(axis=0) > 0]
    if counts.shape[0] == 0 or counts.shape[1] < 2:
        return None
    value = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def normalised_entropy(distributions: np.ndarray) -> np.ndarray:
    """Entropy of each row divided by log(k) for k columns: 0 for one class, 1 for a uniform row."""
    rows = np.asarray(distributions, dtype=np.float64)
    k = rows.shape[1] if rows.ndim == 2 else 0
    if k < 2:
        return np.zeros(rows.shape[0] if rows.ndim == 2 else 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rows > 0, -rows * np.log(rows), 0.0)
    return terms.sum(axis=1) / math.log(k)


def is_rater_count(utt: Utterance) -> bool:
    """True when ``vote_counts`` are rater counts (two or more raters, summing to ``n_annotators``)."""
    return utt.n_annotators >= 2 and abs(sum(utt.vote_counts.values()) - utt.n_annotators) <= COUNT_TOLERANCE


class AgreementRows:
    """What the agreement figures need of each utterance, as flat numeric columns, never the records.

    A corpus is measured as it is read, one utterance at a time (:func:`cotgen.corpora.entries.assemble`
    holds no records): about 10 numbers per utterance instead of a 2.6 KB record.
    """

    def __init__(self, classes: Sequence[str], folds: Mapping[str, str]) -> None:
        self.classes = list(classes)
        self.folds = dict(folds)
        self._column = {code: i for i, code in enumerate(self.classes)}
        self._votes = array("d")  # rater-count utterances only: classes + outside per row
        self._distributions = array("d")  # every utterance: one probability per class
        self._majorities = array("i")  # index into classes, -1 for a tie
        self._units = 0

    def add(self, utt: Utterance) -> None:
        """Count one utterance."""
        k = len(self.classes)
        self._distributions.extend(utt.distribution.get(c, 0.0) for c in self.classes)
        self._majorities.append(self._column.get(utt.majority, -1) if utt.majority is not None else -1)
        if not is_rater_count(utt):
            return
        row = np.zeros(k + 1)
        for code, count in utt.vote_counts.items():
            target = self.folds.get(code)
            row[self._column[target] if target in self._column else k] += count
        self._votes.extend(row.tolist())
        self._units += 1

    def vote_matrix(self) -> np.ndarray:
        """Units x (classes + outside) vote counts of the utterances whose counts are rater counts."""
        return np.frombuffer(self._votes, dtype=np.float64).reshape(self._units, len(self.classes) + 1).copy()

    def distributions(self) -> np.ndarray:
        """Utterances x classes: every utterance's human distribution."""
        n = len(self._majorities)
        return np.frombuffer(self._distributions, dtype=np.float64).reshape(n, len(self.classes)).copy()

    def majorities(self) -> np.ndarray:
        """Every utterance's majority as an index into the classes (-1 for a tie)."""
        return np.frombuffer(self._majorities, dtype=np.int32).copy()


def rows_of(utterances: Iterable[Utterance], classes: Sequence[str], folds: Mapping[str, str]) -> AgreementRows:
    """The agreement rows of some utterances."""
    rows = AgreementRows(classes, folds)
    for utt in utterances:
        rows.add(utt)
    return rows


def measure(utterances: Iterable[Utterance], classes: Sequence[str], folds: Mapping[str, str]) -> Agreement:
    """Alpha and normalised entropy over a corpus and per class (see the module docstring)."""
    return measure_rows(rows_of(utterances, classes, folds))


def measure_rows(rows: AgreementRows) -> Agreement:
    """:func:`measure` from the rows a corpus load accumulated."""
    classes = rows.classes
    matrix = rows.vote_matrix()
    alpha = alpha_nominal(matrix)
    note = None
    if matrix.shape[0] == 0:
        note = "no utterance has vote counts from two or more raters (single labels or distributions only)"
    elif alpha is None:
        note = "undefined: the raters used only one class"
    entropy = normalised_entropy(rows.distributions())
    majorities = rows.majorities()
    per_class = []
    for i, code in enumerate(classes):
        binary = np.stack([matrix[:, i], matrix.sum(axis=1) - matrix[:, i]], axis=1) if matrix.size else matrix
        mine = entropy[majorities == i]
        per_class.append(
            ClassAgreement(
                code=code,
                alpha=alpha_nominal(binary),
                mean_normalised_entropy=float(mine.mean()) if mine.size else None,
                majorities=int(mine.size),
            )
        )
    return Agreement(
        alpha=alpha,
        units=int(matrix.shape[0]),
        mean_normalised_entropy=float(entropy.mean()) if entropy.size else None,
        per_class=per_class,
        alpha_note=note,
    )
