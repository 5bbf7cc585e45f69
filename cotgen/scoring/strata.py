"""Agreement strata: the utterances grouped by how much their annotators agreed, and by how many there were.

The question a distributional model is asked is how it does where humans disagree, so every metric is also
reported per stratum. Agreement is the normalised entropy of the human distribution (its entropy over
log k, :func:`cotgen.corpora.agreement.normalised_entropy`, the figure ``cotgen corpus`` reports), cut at
documented edges:

- ``unanimous``: normalised entropy 0 (every vote on one class);
- ``mild``: above 0 and at most :data:`MILD_MAX` (0.5; e.g. 2 of 3 annotators agree on 4 classes: 0.46);
- ``strong``: above 0.5 (e.g. three annotators, three classes on 4 classes: 0.79).

The annotator strata are the distinct annotator counts (``n_annotators``; 0 for single-label corpora).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cotgen.corpora.agreement import normalised_entropy

AGREEMENT_STRATA: tuple[str, ...] = ("unanimous", "mild", "strong")
MILD_MAX = 0.5
UNANIMOUS_TOLERANCE = 1e-9  # rounding in a distribution read from JSON leaves a hair of entropy
AGREEMENT_EDGES = {
    "unanimous": "normalised entropy = 0",
    "mild": f"0 < normalised entropy <= {MILD_MAX}",
    "strong": f"normalised entropy > {MILD_MAX}",
}


def agreement_stratum(human: ArrayLike) -> NDArray[np.str_]:
    """The agreement stratum of each row of human distributions (see the module docstring)."""
    entropy = normalised_entropy(np.asarray(human, dtype=np.float64))
    return np.where(
        entropy <= UNANIMOUS_TOLERANCE, "unanimous", np.where(entropy <= MILD_MAX, "mild", "strong")
    ).astype(np.str_)


def annotator_strata(counts: Sequence[int]) -> list[str]:
    """The annotator-count stratum of each utterance, named by its count (``"3 annotators"``)."""
    return [f"{n} annotator{'s' if n != 1 else ''}" for n in counts]
