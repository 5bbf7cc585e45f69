"""Feature names and the analysis settings that decide their values.

The settings live in one frozen dataclass because the disk cache keys every result by audio content
*and* these numbers: changing any of them (or :data:`EXTRACTOR_VERSION`) recomputes exactly the
results they affect and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# 1.1: files Praat cannot read are decoded by librosa (1.0 cached them as "unreadable file").
EXTRACTOR_VERSION = "1.1"

FEATURE_COLUMNS: list[str] = [
    "duration_s",
    "voiced_fraction",
    "f0_mean_hz",
    "f0_median_hz",
    "f0_std_hz",
    "f0_min_hz",
    "f0_max_hz",
    "f0_range_st",
    "f0_slope_st_s",
    "f0_final_slope_st_s",
    "intensity_mean_db",
    "intensity_std_db",
    "intensity_max_db",
    "intensity_range_db",
    "speech_rate_syl_s",
    "articulation_rate_syl_s",
    "pause_count",
    "pause_fraction",
    "jitter_local",
    "shimmer_local",
    "hnr_db",
]


@dataclass(frozen=True)
class AnalysisSettings:
    """Every number that changes a feature value (Praat defaults unless a comment says why not)."""

    # Pitch, first pass: a wide, coarse scan whose quartiles place the real floor and ceiling. A 30 ms
    # step costs a third of a 10 ms one and still gives hundreds of frames for the quartiles.
    first_pass_floor_hz: float = 60.0
    first_pass_ceiling_hz: float = 700.0
    first_pass_time_step_s: float = 0.03
    # Second pass: floor = 0.75 x Q1 and ceiling = 1.5 x Q3 of the first pass (De Looze & Hirst 2008), so
    # halved or doubled candidates fall outside the search range instead of into the statistics.
    floor_factor: float = 0.75
    ceiling_factor: float = 1.5
    min_floor_hz: float = 40.0
    max_ceiling_hz: float = 800.0
    time_step_s: float = 0.01
    # Intensity as de Jong & Wempe (2009): 50 Hz minimum pitch (a 64 ms window that merges the pitch
    # periods of a syllable into one hump), here on a 10 ms grid.
    intensity_min_pitch_hz: float = 50.0
    silence_db: float = -25.0  # silence threshold relative to the 0.99 quantile of intensity
    min_pause_s: float = 0.3  # shortest silence that counts as a pause
    min_sounding_s: float = 0.1  # shorter sounding stretches between silences are absorbed into them
    min_dip_db: float = 2.0  # a syllable peak must stand this far above the dip before the next peak
    # The rising/falling ending is read from the last voiced stretch of at least this length, capped to its
    # final ``final_stretch_max_s`` so a long final word does not dilute the boundary tone.
    final_stretch_min_s: float = 0.05
    final_stretch_max_s: float = 0.4
    min_duration_s: float = 0.1  # shorter clips get a row with an error instead of features
    silence_peak_amplitude: float = 1e-4  # a clip whose samples never exceed this is silence
    # Jitter/shimmer: Praat's standard voice-report arguments.
    period_floor_s: float = 0.0001
    period_ceiling_s: float = 0.02
    max_period_factor: float = 1.3
    max_amplitude_factor: float = 1.6

    def fingerprint(self) -> str:
        """A short stable hash of the settings and extractor version, part of every cache key."""
        payload = json.dumps({"version": EXTRACTOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


DEFAULT_SETTINGS = AnalysisSettings()
