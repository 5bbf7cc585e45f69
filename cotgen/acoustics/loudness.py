"""Loudness and pauses from one intensity contour (dB per frame), as pure numpy functions.

Silence is decided as de Jong & Wempe (2009) decide it: frames more than 25 dB below the 0.99
quantile of the utterance's intensity (the near-maximum, robust to a stray click), with sounding
stretches shorter than 0.1 s absorbed into the silence around them and silences shorter than
0.3 s not counted. Only silences *inside* the speech are pauses; lead-in and trailing silence are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotgen.acoustics.frames import runs
from cotgen.acoustics.settings import AnalysisSettings

NAN = float("nan")


def silence_threshold_db(intensity_db: np.ndarray, settings: AnalysisSettings) -> float:
    """The 0.99 quantile plus ``silence_db`` (negative), never below the quietest frame."""
    threshold = float(np.quantile(intensity_db, 0.99)) + settings.silence_db
    return max(threshold, float(intensity_db.min()))


@dataclass(frozen=True)
class Segmentation:
    """Which intensity frames are sounding, and the internal silences that count as pauses."""

    sounding: np.ndarray  # bool per frame
    pauses: list[tuple[int, int]]  # frame ranges
    threshold_db: float


def segment(intensity_db: np.ndarray, step_s: float, settings: AnalysisSettings) -> Segmentation:
    """Split a contour into sounding frames and pauses (see the module docstring for the rules)."""
    threshold = silence_threshold_db(intensity_db, settings)
    sounding = intensity_db >= threshold
    min_sounding = settings.min_sounding_s / step_s
    for start, end in runs(sounding):
        if end - start < min_sounding:
            sounding[start:end] = False
    min_pause = settings.min_pause_s / step_s
    pauses: list[tuple[int, int]] = []
    for start, end in runs(~sounding):
        internal = start > 0 and end < sounding.size
        if end - start < min_pause:
            if internal:
                sounding[start:end] = True  # a short gap inside speech is part of the speech
        elif internal:
            pauses.append((start, end))
    return Segmentation(sounding=sounding, pauses=pauses, threshold_db=threshold)


def energy_mean_db(values_db: np.ndarray) -> float:
    """Mean intensity averaged in energy, as Praat's ``Get mean ... energy`` does."""
    return float(10.0 * np.log10(np.mean(10.0 ** (values_db / 10.0))))


def loudness_features(intensity_db: np.ndarray, segmentation: Segmentation) -> dict[str, float]:
    """Intensity statistics over frames above the silence threshold.

    Silent frames (pauses, gaps between words, digital zeros) would otherwise dominate the mean and the
    spread, and those say how much the speaker paused, which the pause features already measure.
    """
    loud = intensity_db[intensity_db >= segmentation.threshold_db]
    if loud.size == 0:
        loud = intensity_db
    p5, p95 = np.percentile(loud, [5, 95])
    return {
        "intensity_mean_db": energy_mean_db(loud),
        "intensity_std_db": float(loud.std()),
        "intensity_max_db": float(intensity_db.max()),
        "intensity_range_db": float(p95 - p5),
    }


def pause_features(segmentation: Segmentation, step_s: float) -> dict[str, float]:
    """Pause count and the share of the speech span (first to last sounding frame) spent in pauses."""
    sounding_idx = np.flatnonzero(segmentation.sounding)
    if sounding_idx.size == 0:
        return {"pause_count": 0.0, "pause_fraction": NAN}
    span = (sounding_idx[-1] - sounding_idx[0] + 1) * step_s
    paused = sum(end - start for start, end in segmentation.pauses) * step_s
    return {"pause_count": float(len(segmentation.pauses)), "pause_fraction": float(paused / span)}
