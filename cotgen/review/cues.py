"""Each acoustic cue a trace claims, beside what was measured for its speaker.

The measured levels are re-derived exactly as the build derived them (speaker references over every row
of ``features.parquet``, :class:`~cotgen.acoustics.CueReferences`), and each verdict comes from the functions
faithfulness is made of (:func:`~cotgen.records.trace.cue_agrees` for within one step,
:func:`~cotgen.records.trace.salient_recalled` for the extreme measurements): the page shows the verdicts and
never re-implements a rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cotgen.acoustics import CUE_FEATURES, FEATURE_COLUMNS, CueProfile, CueReferences
from cotgen.export.record_readers import read_features
from cotgen.records.trace import Trace, cue_agrees, salient_recalled
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
    def of_run(cls, run_dir: Path, speakers: dict[str, tuple[str | None, str | None]]) -> MeasuredCues | None:
        """The run's measured cues (``speakers``: id -> speaker and gender), or None without ``features.parquet``."""
        features = read_features(run_dir)
        if features is None:
            return None
        return cls(features, speakers)

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
    """One row per cited acoustic cue, then one per salient measured cue the trace does not cite.

    A row holds the cited and measured level, whether they match exactly, whether they agree (within one
    step), whether a salient measurement is cited on its side, and the measurement behind the level.
    """
    levels = profile.levels if profile else {}
    rows = []

    def row(cue: str, claimed: str | None) -> dict[str, Any]:
        measured = levels.get(cue)
        feature = CUE_FEATURES[cue]
        return {
            "cue": cue,
            "claimed": claimed,
            "measured": measured,
            "exact": None if measured is None or claimed is None else claimed == measured,
            "agrees": None if claimed is None else cue_agrees(cue, claimed, measured),
            "salient": salient_recalled(claimed, measured),
            "feature": feature,
            "value": _number(profile.values.get(feature), 3) if profile else None,
            "z": _number(profile.z.get(cue), 2) if profile else None,
            "reference": profile.reference.get(cue) if profile else None,
        }

    for cue in trace.acoustic.cues:
        rows.append({**row(cue.cue, cue.level), "observation": cue.observation, "suggests": cue.suggests})
    cited = {cue.cue for cue in trace.acoustic.cues}
    for name in CUE_FEATURES:
        if name not in cited and salient_recalled(None, levels.get(name)) is not None:
            rows.append({**row(name, None), "observation": None, "suggests": []})
    return rows
