"""Speaker-relative cues: each cited feature as a z-score and a level against the right reference.

"High pitch" only means something relative to a voice, so each utterance is compared with the
speaker's own utterances; a speaker with fewer than :data:`MIN_REFERENCE` measured utterances is
compared with all speakers of the same gender, and failing that with the whole corpus. Levels cut the
reference at its 10th/25th/75th/90th percentiles. Intonation is the exception: a rising or falling
ending is a property of the contour, not of the voice, so it is read from the final slope with fixed
thresholds (:data:`INTONATION_THRESHOLD_ST_S`). References are always computed over the whole table
passed in, never over a subset a run happens to process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cotgen.acoustics.settings import FEATURE_COLUMNS
from cotgen.trace import LEVELS
from cotgen.utterance import Utterance

CUE_FEATURES: dict[str, str] = {
    "pitch": "f0_median_hz",
    "pitch_variation": "f0_range_st",
    "intonation": "f0_final_slope_st_s",
    "loudness": "intensity_mean_db",
    "loudness_variation": "intensity_std_db",
    "speech_rate": "speech_rate_syl_s",
    "pauses": "pause_fraction",
    "voice_quality": "hnr_db",
}

MIN_REFERENCE = 10
PERCENTILE_CUTS = (10, 25, 75, 90)
# A final slope beyond +-5 semitones/s (2 semitones over the 0.4 s final stretch, well above the
# declination of a neutral statement, about -2 st/s) is a rising or falling ending.
INTONATION_THRESHOLD_ST_S = 5.0

Reference = Literal["speaker", "gender", "corpus"]


@dataclass(frozen=True)
class CueProfile:
    """An utterance's measured cues: level words, z-scores, raw feature values and which reference was used."""

    levels: dict[str, str | None]
    z: dict[str, float | None]
    values: dict[str, float | None]
    reference: dict[str, Reference]
    gender: str | None = None  # the speaker's gender, so a gender reference can be put in words


@dataclass(frozen=True)
class ReferenceStats:
    """Distribution summary of one feature over one reference group."""

    n: int
    mean: float
    std: float
    cuts: tuple[float, float, float, float]

    @classmethod
    def of(cls, values: np.ndarray) -> ReferenceStats:
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        cuts = tuple(float(c) for c in np.percentile(values, PERCENTILE_CUTS)) if values.size else (np.nan,) * 4
        return cls(n=int(values.size), mean=float(values.mean()) if values.size else np.nan, std=std, cuts=cuts)


def level_for(value: float, cuts: tuple[float, float, float, float]) -> str:
    """The level word of a value given the reference's 10th/25th/75th/90th percentiles."""
    p10, p25, p75, p90 = cuts
    if value < p10:
        return LEVELS[0]
    if value < p25:
        return LEVELS[1]
    if value <= p75:
        return LEVELS[2]
    if value <= p90:
        return LEVELS[3]
    return LEVELS[4]


def intonation_level(final_slope_st_s: float) -> str:
    """rising / flat / falling from the final f0 slope in semitones per second."""
    if final_slope_st_s > INTONATION_THRESHOLD_ST_S:
        return "rising"
    if final_slope_st_s < -INTONATION_THRESHOLD_ST_S:
        return "falling"
    return "flat"


def _group_stats(values: pd.Series, keys: pd.Series) -> dict[str, ReferenceStats]:
    valid = values.notna() & keys.notna()
    return {
        str(key): ReferenceStats.of(group.to_numpy(dtype=float))
        for key, group in values[valid].groupby(keys[valid], sort=False)
    }


def _optional(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def speaker_cues(features: pd.DataFrame, utterances: Sequence[Utterance]) -> dict[str, CueProfile]:
    """Utterance id -> CueProfile, with references computed over every row of ``features``.

    Utterances without a feature row get a profile of Nones (their references still say where they
    would have been compared).
    """
    table = features.set_index("id")
    speakers = pd.Series({u.id: u.speaker for u in utterances}, dtype=object).reindex(table.index)
    genders = pd.Series({u.id: u.gender for u in utterances}, dtype=object).reindex(table.index)
    by_feature = {}
    for feature in CUE_FEATURES.values():
        column = table[feature].astype(float)
        by_feature[feature] = (
            _group_stats(column, speakers),
            _group_stats(column, genders),
            ReferenceStats.of(column.dropna().to_numpy(dtype=float)),
        )

    profiles: dict[str, CueProfile] = {}
    for utt in utterances:
        row = table.loc[utt.id] if utt.id in table.index else None
        values = {name: (_optional(row[name]) if row is not None else None) for name in FEATURE_COLUMNS}
        levels: dict[str, str | None] = {}
        zs: dict[str, float | None] = {}
        references: dict[str, Reference] = {}
        for cue, feature in CUE_FEATURES.items():
            per_speaker, per_gender, corpus = by_feature[feature]
            speaker_ref = per_speaker.get(str(utt.speaker)) if utt.speaker is not None else None
            gender_ref = per_gender.get(utt.gender) if utt.gender is not None else None
            if speaker_ref is not None and speaker_ref.n >= MIN_REFERENCE:
                references[cue], ref = "speaker", speaker_ref
            elif gender_ref is not None and gender_ref.n >= MIN_REFERENCE:
                references[cue], ref = "gender", gender_ref
            else:
                references[cue], ref = "corpus", corpus
            value = values[feature]
            if value is None:
                levels[cue], zs[cue] = None, None
                continue
            zs[cue] = (value - ref.mean) / ref.std if ref.std > 0 else None
            levels[cue] = intonation_level(value) if cue == "intonation" else level_for(value, ref.cuts)
        profiles[utt.id] = CueProfile(levels=levels, z=zs, values=values, reference=references, gender=utt.gender)
    return profiles
