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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from cotgen.acoustics.settings import FEATURE_COLUMNS
from cotgen.records.trace import LEVELS
from cotgen.records.utterance import Utterance

if TYPE_CHECKING:  # only speaker_cues' signature: the build derives profiles without pandas
    import pandas as pd

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


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


# Each row's group as an int code (-1: none), and the name of each code.
Coded = tuple[np.ndarray, Sequence[str]]


def _coded(keys: Sequence[str | None]) -> Coded:
    """Keys as codes numbered in order of first appearance."""
    names: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if key is None else names.setdefault(str(key), len(names)) for key in keys), dtype=np.int64, count=len(keys)
    )
    return codes, list(names)


def _groups(coded: Coded) -> dict[str, np.ndarray]:
    """Name -> positions holding it, in position order (rows coded -1 belong to no group).

    From the codes with one stable sort: no Python int per row (a speaker column of 100,000 rows as lists
    of positions left megabytes of small objects behind).
    """
    codes, names = coded
    order = np.argsort(np.asarray(codes, dtype=np.int64), kind="stable")
    bounds = np.searchsorted(np.asarray(codes, dtype=np.int64)[order], np.arange(len(names) + 1))
    return {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(names) if bounds[i + 1] > bounds[i]}


@dataclass(frozen=True)
class CueReferences:
    """Reference statistics per cited feature: per speaker, per gender and over the whole corpus.

    Computed once over every measured row, they are all a cue profile needs besides the utterance's
    own values, so a build derives each profile when its utterance comes up instead of holding one
    per utterance (a few hundred speakers' statistics instead of 100,000 profiles).
    """

    per_speaker: dict[str, dict[str, ReferenceStats]]  # feature -> speaker -> stats
    per_gender: dict[str, dict[str, ReferenceStats]]  # feature -> gender -> stats
    corpus: dict[str, ReferenceStats]  # feature -> stats

    @classmethod
    def of(
        cls, columns: Mapping[str, np.ndarray], speakers: Sequence[str | None], genders: Sequence[str | None]
    ) -> CueReferences:
        """References from feature columns (NaN = not measured) and the speaker and gender of each row."""
        return cls.of_codes(columns, _coded(speakers), _coded(genders))

    @classmethod
    def of_codes(cls, columns: Mapping[str, np.ndarray], speakers: Coded, genders: Coded) -> CueReferences:
        """:meth:`of` from the speaker and gender of each row as codes and names (a build's corpus columns)."""
        speaker_rows, gender_rows = _groups(speakers), _groups(genders)
        per_speaker: dict[str, dict[str, ReferenceStats]] = {}
        per_gender: dict[str, dict[str, ReferenceStats]] = {}
        corpus: dict[str, ReferenceStats] = {}
        for feature in CUE_FEATURES.values():
            column = np.asarray(columns[feature], dtype=float)
            measured = ~np.isnan(column)

            def stats(rows: np.ndarray, column: np.ndarray = column, measured: np.ndarray = measured) -> ReferenceStats:
                return ReferenceStats.of(column[rows[measured[rows]]])

            per_speaker[feature] = {key: stats(rows) for key, rows in speaker_rows.items() if measured[rows].any()}
            per_gender[feature] = {key: stats(rows) for key, rows in gender_rows.items() if measured[rows].any()}
            corpus[feature] = ReferenceStats.of(column[measured])
        return cls(per_speaker, per_gender, corpus)

    def reference(self, feature: str, speaker: str | None, gender: str | None) -> tuple[Reference, ReferenceStats]:
        """The speaker's own statistics when there are enough, else the gender's, else the corpus's."""
        speaker_ref = self.per_speaker[feature].get(str(speaker)) if speaker is not None else None
        if speaker_ref is not None and speaker_ref.n >= MIN_REFERENCE:
            return "speaker", speaker_ref
        gender_ref = self.per_gender[feature].get(gender) if gender is not None else None
        if gender_ref is not None and gender_ref.n >= MIN_REFERENCE:
            return "gender", gender_ref
        return "corpus", self.corpus[feature]

    def profile(self, values: Mapping[str, float], speaker: str | None, gender: str | None) -> CueProfile:
        """The cue profile of one utterance from its feature values (NaN or absent = not measured)."""
        known = {name: _optional(float(values.get(name, math.nan))) for name in FEATURE_COLUMNS}
        levels: dict[str, str | None] = {}
        zs: dict[str, float | None] = {}
        references: dict[str, Reference] = {}
        for cue, feature in CUE_FEATURES.items():
            references[cue], ref = self.reference(feature, speaker, gender)
            value = known[feature]
            if value is None:
                levels[cue], zs[cue] = None, None
                continue
            zs[cue] = (value - ref.mean) / ref.std if ref.std > 0 else None
            levels[cue] = intonation_level(value) if cue == "intonation" else level_for(value, ref.cuts)
        return CueProfile(levels=levels, z=zs, values=known, reference=references, gender=gender)


def speaker_cues(features: pd.DataFrame, utterances: Sequence[Utterance]) -> dict[str, CueProfile]:
    """Utterance id -> CueProfile, with references computed over every row of ``features``.

    Rows of ``features`` without an utterance count in the corpus reference only. Utterances without
    a feature row get a profile of Nones (their references still say where they would have been
    compared). A build uses :class:`CueReferences` directly, one profile at a time.
    """
    by_id = {u.id: u for u in utterances}
    ids = [str(i) for i in features["id"]]
    rows = [by_id.get(i) for i in ids]
    columns = {feature: features[feature].to_numpy(dtype=float) for feature in CUE_FEATURES.values()}
    references = CueReferences.of(
        columns, [u.speaker if u else None for u in rows], [u.gender if u else None for u in rows]
    )
    position = {i: n for n, i in enumerate(ids)}
    table = features[FEATURE_COLUMNS].to_numpy(dtype=float)
    profiles: dict[str, CueProfile] = {}
    for utt in utterances:
        at = position.get(utt.id)
        values = dict(zip(FEATURE_COLUMNS, table[at])) if at is not None else {}
        profiles[utt.id] = references.profile(values, utt.speaker, utt.gender)
    return profiles
