"""Pitch: a two-pass Praat track with a floor and ceiling adapted to the voice, and its statistics.

The statistics are pure numpy functions of the frame times and f0 values (0 = unvoiced), so the
maths is tested without audio; only :func:`adaptive_pitch` touches Praat.
"""

from __future__ import annotations

import math

import numpy as np
import parselmouth

from cotgen.acoustics.frames import runs
from cotgen.acoustics.settings import FEATURE_COLUMNS, AnalysisSettings

NAN = float("nan")
F0_COLUMNS = [name for name in FEATURE_COLUMNS if name.startswith("f0_")]


def adaptive_range(first_pass_f0: np.ndarray, settings: AnalysisSettings) -> tuple[float, float] | None:
    """Floor and ceiling from the quartiles of a first pass's voiced f0; None when nothing was voiced."""
    voiced = first_pass_f0[first_pass_f0 > 0]
    if voiced.size == 0:
        return None
    q1, q3 = np.percentile(voiced, [25, 75])
    floor = max(settings.min_floor_hz, settings.floor_factor * q1)
    ceiling = min(settings.max_ceiling_hz, settings.ceiling_factor * q3)
    # A very steady voice gives Q1 ~ Q3; keep at least an octave of room so real movement is not clipped.
    ceiling = max(ceiling, 2.0 * floor)
    return float(floor), float(ceiling)


def adaptive_pitch(sound: parselmouth.Sound, settings: AnalysisSettings) -> parselmouth.Pitch:
    """The pitch track used by every pitch-dependent feature (and reused for jitter, shimmer, HNR, nuclei).

    A coarse first pass over a wide range finds where this voice lives; the second, fine pass searches
    only there. When the first pass finds no voicing the second pass keeps the wide range, so the caller
    sees the same "no voiced frame" outcome rather than a guess.
    """
    first = sound.to_pitch_ac(
        time_step=settings.first_pass_time_step_s,
        pitch_floor=settings.first_pass_floor_hz,
        pitch_ceiling=settings.first_pass_ceiling_hz,
    )
    bounds = adaptive_range(first.selected_array["frequency"], settings)
    floor, ceiling = bounds if bounds else (settings.first_pass_floor_hz, settings.first_pass_ceiling_hz)
    return sound.to_pitch_ac(time_step=settings.time_step_s, pitch_floor=floor, pitch_ceiling=ceiling)


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """Semitones re 1 Hz; only differences and slopes are used, so the reference cancels out."""
    return 12.0 * np.log2(f0_hz)


def slope_st_per_s(times: np.ndarray, f0_hz: np.ndarray) -> float:
    """Least-squares slope of f0 in semitones per second; NaN with fewer than 3 points."""
    if times.size < 3 or np.ptp(times) == 0:
        return NAN
    return float(np.polyfit(times, semitones(f0_hz), 1)[0])


def final_slope_st_per_s(times: np.ndarray, f0_hz: np.ndarray, settings: AnalysisSettings) -> float:
    """Slope over the last voiced stretch long enough to carry an ending (rising > 0, falling < 0)."""
    voiced = f0_hz > 0
    step = float(times[1] - times[0]) if times.size > 1 else settings.time_step_s
    min_frames = max(3, math.ceil(settings.final_stretch_min_s / step))
    max_frames = max(min_frames, round(settings.final_stretch_max_s / step))
    for start, end in reversed(runs(voiced)):
        if end - start >= min_frames:
            start = max(start, end - max_frames)
            return slope_st_per_s(times[start:end], f0_hz[start:end])
    return NAN


def pitch_features(times: np.ndarray, f0_hz: np.ndarray, settings: AnalysisSettings) -> dict[str, float]:
    """f0 statistics of a track (``f0_hz`` 0 where unvoiced); NaN for everything when no frame is voiced."""
    voiced_mask = f0_hz > 0
    voiced = f0_hz[voiced_mask]
    fraction = float(voiced_mask.mean()) if f0_hz.size else 0.0
    if voiced.size == 0:
        return {"voiced_fraction": fraction, **dict.fromkeys(F0_COLUMNS, NAN)}
    p5, p95 = np.percentile(voiced, [5, 95])
    return {
        "voiced_fraction": fraction,
        "f0_mean_hz": float(voiced.mean()),
        "f0_median_hz": float(np.median(voiced)),
        "f0_std_hz": float(voiced.std()),
        "f0_min_hz": float(voiced.min()),
        "f0_max_hz": float(voiced.max()),
        "f0_range_st": float(12.0 * np.log2(p95 / p5)),
        "f0_slope_st_s": slope_st_per_s(times[voiced_mask], voiced),
        "f0_final_slope_st_s": final_slope_st_per_s(times, f0_hz, settings),
    }
