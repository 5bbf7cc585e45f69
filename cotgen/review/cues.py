"""Each acoustic cue a trace claims, beside what was measured for its speaker.

The measured levels are re-derived exactly as the build derived them (:class:`~cotgen.acoustics.measured.MeasuredCues`:
speaker references over every row of ``features.parquet``), and each verdict comes from the functions
faithfulness is made of (:func:`~cotgen.records.trace.cue_agrees` for within one step,
:func:`~cotgen.records.trace.salient_recalled` for the extreme measurements): the page shows the verdicts and
never re-implements a rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cotgen.acoustics import CUE_FEATURES, CueProfile
from cotgen.records.trace import Trace, cue_agrees, is_vocal_event, salient_recalled


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
        feature = CUE_FEATURES.get(cue)  # None for a vocal event: heard by the teacher, never measured
        return {
            "cue": cue,
            "event": is_vocal_event(cue),
            "claimed": claimed,
            "measured": measured,
            "exact": None if measured is None or claimed is None else claimed == measured,
            "agrees": None if claimed is None else cue_agrees(cue, claimed, measured),
            "salient": salient_recalled(claimed, measured),
            "feature": feature,
            "value": _number(profile.values.get(feature), 3) if profile and feature else None,
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
