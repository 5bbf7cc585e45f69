"""Property tests for the pure maths of the acoustic features (no audio, no Praat)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cotgen.acoustics.cues import intonation_level, level_for
from cotgen.acoustics.frames import runs
from cotgen.acoustics.loudness import segment
from cotgen.acoustics.pitch import adaptive_range, pitch_features, slope_st_per_s
from cotgen.acoustics.settings import DEFAULT_SETTINGS
from cotgen.acoustics.syllables import intensity_peaks, nuclei_indices
from cotgen.acoustics.voice import hnr_from_strength
from cotgen.records.trace import LEVELS

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
step = 0.01


@given(
    start=st.floats(min_value=60, max_value=400),
    rate=st.floats(min_value=-30, max_value=30),
    n=st.integers(min_value=3, max_value=200),
)
def test_slope_of_an_exponential_glide_is_its_rate_in_semitones(start: float, rate: float, n: int) -> None:
    times = np.arange(n) * step
    f0 = start * 2 ** (rate * times / 12)
    assert math.isclose(slope_st_per_s(times, f0), rate, abs_tol=1e-6)


@given(
    f0=arrays(np.float64, st.integers(5, 300), elements=st.floats(min_value=50, max_value=500)),
    factor=st.floats(min_value=0.5, max_value=2.0),
)
def test_semitone_features_do_not_depend_on_the_voice_register(f0: np.ndarray, factor: float) -> None:
    times = np.arange(f0.size) * step
    base, scaled = pitch_features(times, f0, DEFAULT_SETTINGS), pitch_features(times, f0 * factor, DEFAULT_SETTINGS)
    for name in ("f0_range_st", "f0_slope_st_s", "f0_final_slope_st_s"):
        assert math.isclose(base[name], scaled[name], abs_tol=1e-6)
    assert math.isclose(scaled["f0_median_hz"], base["f0_median_hz"] * factor, rel_tol=1e-9)


@given(arrays(np.float64, st.integers(1, 200), elements=st.floats(min_value=0, max_value=500)))
def test_pitch_statistics_use_voiced_frames_only(f0: np.ndarray) -> None:
    f0 = np.where(f0 < 40, 0.0, f0)  # zero = unvoiced
    result = pitch_features(np.arange(f0.size) * step, f0, DEFAULT_SETTINGS)
    voiced = f0[f0 > 0]
    assert result["voiced_fraction"] == voiced.size / f0.size
    if voiced.size:
        assert result["f0_min_hz"] == voiced.min() and result["f0_max_hz"] == voiced.max()
        assert voiced.min() <= result["f0_median_hz"] <= voiced.max()
    else:
        assert math.isnan(result["f0_mean_hz"])


@given(arrays(np.float64, st.integers(1, 100), elements=st.floats(min_value=60, max_value=600)))
def test_adaptive_range_brackets_the_middle_half_of_the_voice(f0: np.ndarray) -> None:
    floor, ceiling = adaptive_range(f0, DEFAULT_SETTINGS)
    q1, q3 = np.percentile(f0, [25, 75])
    assert floor <= q1 and ceiling >= min(q3, DEFAULT_SETTINGS.max_ceiling_hz)
    assert ceiling >= 2 * floor


@given(arrays(np.bool_, st.integers(0, 100)))
def test_runs_rebuild_the_mask(mask: np.ndarray) -> None:
    rebuilt = np.zeros(mask.size, dtype=bool)
    for start, end in runs(mask):
        assert start < end and mask[start:end].all()
        rebuilt[start:end] = True
    assert (rebuilt == mask).all()


@given(arrays(np.float64, st.integers(3, 400), elements=st.floats(min_value=20, max_value=90)))
def test_pauses_are_internal_long_silences(level_db: np.ndarray) -> None:
    seg = segment(level_db.copy(), step, DEFAULT_SETTINGS)
    for start, end in seg.pauses:
        assert start > 0 and end < level_db.size
        assert (end - start) * step >= DEFAULT_SETTINGS.min_pause_s - 1e-9
        assert not seg.sounding[start:end].any()
        assert (level_db[start:end] < seg.threshold_db).any()


@given(arrays(np.float64, st.integers(0, 200), elements=finite))
def test_peaks_are_local_maxima(x: np.ndarray) -> None:
    for i in intensity_peaks(x):
        assert 0 < i < x.size - 1
        assert x[i] > x[i - 1] and x[i] >= x[i + 1]


@given(arrays(np.float64, st.integers(3, 300), elements=st.floats(min_value=30, max_value=90)))
def test_every_nucleus_is_voiced_sounding_and_above_threshold(level_db: np.ndarray) -> None:
    seg = segment(level_db.copy(), step, DEFAULT_SETTINGS)
    voiced = np.arange(level_db.size) % 3 != 0
    for i in nuclei_indices(level_db, voiced, seg, DEFAULT_SETTINGS):
        assert voiced[i] and seg.sounding[i] and level_db[i] > seg.threshold_db


@given(st.floats(min_value=0.01, max_value=0.98), st.floats(min_value=0.001, max_value=0.01))
def test_hnr_grows_with_periodicity(r: float, delta: float) -> None:
    assert hnr_from_strength(np.array([r + delta])) > hnr_from_strength(np.array([r]))
    assert math.isclose(hnr_from_strength(np.array([0.5])), 0.0, abs_tol=1e-9)


@given(
    reference=arrays(np.float64, st.integers(1, 50), elements=finite),
    a=finite,
    b=finite,
)
def test_levels_are_ordered_like_the_values(reference: np.ndarray, a: float, b: float) -> None:
    assume(a <= b)
    cuts = tuple(np.percentile(reference, [10, 25, 75, 90]))
    assert LEVELS.index(level_for(a, cuts)) <= LEVELS.index(level_for(b, cuts))


@given(st.floats(min_value=-100, max_value=100))
def test_intonation_is_symmetric(slope: float) -> None:
    mirrored = {"rising": "falling", "falling": "rising", "flat": "flat"}
    assert intonation_level(-slope) == mirrored[intonation_level(slope)]
