"""Each acoustic cue a trace claims, beside what was measured for its speaker.

The measured levels are re-derived exactly as the build derived them (speaker references over every row
of ``features.parquet``, :class:`~cotgen.acoustics.CueReferences`), and agreement is decided by
:func:`~cotgen.records.trace.cue_agrees`, the rule faithfulness counts: the page shows the verdicts and
never re-implements the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from cotgen.acoustics import CUE_FEATURES, FEATURE_COLUMNS, CueProfile, CueReferences
from cotgen.export.record_readers import read_features
from cotgen.records.trace import Trace, cue_agrees
from cotgen.records.utterance import Utterance


class MeasuredCues:
    """The cue profile of every measured utterance of a run, derived one utterance at a time."""

    def __init__(self, features: Any, speakers: dict[str, tuple[str | None, str | None]]) -> None:
        ids = [str(i) for i in features["id"]]
        self._position = {utterance_id: n for n, utterance_id in enumerate(ids)}
        self._values = features[FEATURE_COLUMNS].to_numpy(dtype=float)
        columns = {feature: self._values[:, FEATURE_COLUMNS.index(feature)] for feature in CUE_FEATURES.values()}
        who = [speakers.get(i, (None, None)) for i in ids]
        self._references = CueReferences.of(columns, [s for s, _ in who], [g for _, g in who])

    @classmethod
    def of_run(cls, run_dir: Any, utterances: Iterable[Utterance]) -> MeasuredCues | None:
        """The run's measured cues, or None when it has no ``features.parquet`` (nothing can be checked)."""
        features = read_features(run_dir)
        if features is None:
            return None
        return cls(features, {u.id: (u.speaker, u.gender) for u in utterances})

    def profile(self, utterance: Utterance) -> CueProfile | None:
        """The utterance's measured cues; None when it has no feature row."""
        at = self._position.get(utterance.id)
        if at is None:
            return None
        values = dict(zip(FEATURE_COLUMNS, self._values[at]))
        return self._references.profile(values, utterance.speaker, utterance.gender)


def _number(value: float | None, digits: int) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def cue_rows(trace: Trace, profile: CueProfile | None) -> list[dict[str, Any]]:
    """One row per claimed acoustic cue: claimed and measured level, agreement, the measurement behind it."""
    rows = []
    for cue in trace.acoustic.cues:
        measured = profile.levels.get(cue.cue) if profile else None
        feature = CUE_FEATURES[cue.cue]
        rows.append(
            {
                "cue": cue.cue,
                "claimed": cue.level,
                "measured": measured,
                "agrees": cue_agrees(cue.cue, cue.level, measured),
                "feature": feature,
                "value": _number(profile.values.get(feature), 3) if profile else None,
                "z": _number(profile.z.get(cue.cue), 2) if profile else None,
                "reference": profile.reference.get(cue.cue) if profile else None,
                "observation": cue.observation,
                "suggests": cue.suggests,
            }
        )
    return rows
