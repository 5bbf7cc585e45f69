"""Voice quality: jitter and shimmer from Praat's point process, HNR from the pitch track itself.

Why HNR comes from the pitch track: Praat's ``To Harmonicity (ac)`` *is* an autocorrelation pitch
analysis whose best candidate's normalised strength r becomes ``10 log10(r / (1 - r))``. The pitch
track we already computed holds that r for every frame, so converting it costs nothing, where a
separate Harmonicity analysis would cost more than all other features together (cc: ~5x the pitch
pass). It follows Praat's ``To Harmonicity (cc)`` within about 1.5 dB up to ~15 dB (checked in the
tests) and saturates at about 22-25 dB, a limit of the Hanning-window strengths of the fast pitch pass.
"""

from __future__ import annotations

import numpy as np
import parselmouth
from parselmouth.praat import call

from cotgen.acoustics.settings import AnalysisSettings

NAN = float("nan")
_STRENGTH_EPS = 1e-15


def hnr_from_strength(strength: np.ndarray) -> float:
    """Mean HNR in dB of voiced frames given their autocorrelation strengths r in (0, 1); NaN if none."""
    r = np.clip(strength, _STRENGTH_EPS, 1.0 - _STRENGTH_EPS)
    if r.size == 0:
        return NAN
    return float(np.mean(10.0 * np.log10(r / (1.0 - r))))


def _finite(value: float) -> float:
    """Praat returns undefined (NaN) when too few periods qualify; keep NaN, never a sentinel."""
    return float(value) if np.isfinite(value) else NAN


def perturbation_features(
    sound: parselmouth.Sound, pitch: parselmouth.Pitch, settings: AnalysisSettings
) -> dict[str, float]:
    """Local jitter and shimmer from glottal pulses found by cross-correlation, guided by ``pitch``."""
    pulses = call([sound, pitch], "To PointProcess (cc)")
    args = (0.0, 0.0, settings.period_floor_s, settings.period_ceiling_s, settings.max_period_factor)
    jitter = call(pulses, "Get jitter (local)", *args)
    shimmer = call([sound, pulses], "Get shimmer (local)", *args, settings.max_amplitude_factor)
    return {"jitter_local": _finite(jitter), "shimmer_local": _finite(shimmer)}
