"""Syllable nuclei and speech rate, after de Jong & Wempe (2009).

The paper's idea: a syllable nucleus is a peak of the intensity contour that (1) rises above the
silence threshold (near-maximum minus 25 dB), (2) stands out from the dip between it and the next
peak by at least 2 dB, so one syllable's wobbles count once, and (3) is voiced and not inside a
silence. Their Praat script finds the peaks on a Sound made from the intensity matrix; here the
same rules run directly on the intensity frames with numpy, and voicing comes from the pitch track
that the pitch features already computed, so no second pitch analysis is needed. One deliberate
difference: the script never tests its last peak (its loop stops one short) and so loses the final
syllable; here the last peak is tested against the dip between it and the end of the contour.
"""

from __future__ import annotations

import numpy as np

from cotgen.acoustics.loudness import Segmentation
from cotgen.acoustics.settings import AnalysisSettings

NAN = float("nan")


def intensity_peaks(intensity_db: np.ndarray) -> np.ndarray:
    """Indices of local maxima (the first frame of a flat top counts once)."""
    x = intensity_db
    if x.size < 3:
        return np.array([], dtype=int)
    rising = x[1:-1] > x[:-2]
    not_falling_after = x[1:-1] >= x[2:]
    candidates = np.flatnonzero(rising & not_falling_after) + 1
    # On a plateau, keep the frame only if the plateau eventually falls (a true top, not a shoulder).
    keep = []
    for i in candidates:
        j = i
        while j + 1 < x.size and x[j + 1] == x[i]:
            j += 1
        if j + 1 == x.size or x[j + 1] < x[i]:
            keep.append(i)
    return np.asarray(keep, dtype=int)


def nuclei_indices(
    intensity_db: np.ndarray, voiced: np.ndarray, segmentation: Segmentation, settings: AnalysisSettings
) -> np.ndarray:
    """Frame indices of syllable nuclei: above threshold, a clear dip before the next peak, voiced, sounding."""
    peaks = intensity_peaks(intensity_db)
    peaks = peaks[intensity_db[peaks] > segmentation.threshold_db]
    nuclei = []
    for k, peak in enumerate(peaks):
        stop = peaks[k + 1] if k + 1 < peaks.size else intensity_db.size - 1
        dip = float(intensity_db[peak : stop + 1].min())
        if intensity_db[peak] - dip > settings.min_dip_db and voiced[peak] and segmentation.sounding[peak]:
            nuclei.append(peak)
    return np.asarray(nuclei, dtype=int)


def rate_features(n_nuclei: int, duration_s: float, sounding_s: float) -> dict[str, float]:
    """Speech rate (nuclei per second of the whole clip) and articulation rate (per second of sounding time)."""
    return {
        "speech_rate_syl_s": n_nuclei / duration_s if duration_s > 0 else NAN,
        "articulation_rate_syl_s": n_nuclei / sounding_s if sounding_s > 0 else NAN,
    }
