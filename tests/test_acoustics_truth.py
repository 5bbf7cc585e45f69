"""Features on signals whose truth is known (generated with numpy), and the edge cases of real files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import parselmouth
import pytest
import soundfile as sf

from cotgen.acoustics import FEATURE_COLUMNS
from cotgen.acoustics.extract import extract_one

SR = 16000
RNG_SEED = 7


def harmonic(f0: float | np.ndarray, duration_s: float, sr: int = SR, amplitude: float = 0.3) -> np.ndarray:
    """A voiced-like tone: ten harmonics with 1/k amplitudes, following a constant or per-sample f0."""
    n = int(duration_s * sr)
    f0_per_sample = np.broadcast_to(np.asarray(f0, dtype=float), (n,))
    phase = 2 * np.pi * np.cumsum(f0_per_sample) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 11))
    return amplitude * x / np.max(np.abs(x))


def noise(duration_s: float, level: float = 1e-3, seed: int = RNG_SEED) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(int(duration_s * SR))


def syllable_bursts(duration_s: float, rate_hz: float = 4.0, f0: float = 150.0) -> np.ndarray:
    """Voiced bursts with a 160 ms raised-cosine envelope, ``rate_hz`` per second, over a -60 dB noise floor."""
    n = int(duration_s * SR)
    period, length = int(SR / rate_hz), int(0.16 * SR)
    envelope = np.zeros(n)
    for start in range(0, n - period + 1, period):
        onset = start + period // 2 - length // 2
        envelope[onset : onset + length] = np.hanning(length)
    return harmonic(f0, duration_s) * envelope + noise(duration_s)


def write(tmp_path: Path, name: str, signal: np.ndarray, sr: int = SR) -> str:
    path = tmp_path / f"{name}.wav"
    sf.write(path, signal, sr)
    return str(path)


def features(tmp_path: Path, name: str, signal: np.ndarray, sr: int = SR) -> dict:
    row = extract_one(name, write(tmp_path, name, signal, sr))
    assert row["error"] is None, row["error"]
    return row


def test_steady_200_hz_tone_gives_f0_within_2_percent(tmp_path: Path) -> None:
    row = features(tmp_path, "tone", harmonic(200.0, 2.0))
    for column in ("f0_mean_hz", "f0_median_hz", "f0_min_hz", "f0_max_hz"):
        assert row[column] == pytest.approx(200.0, rel=0.02)
    assert row["voiced_fraction"] > 0.9
    assert row["f0_range_st"] < 0.5
    assert row["jitter_local"] < 0.005 and row["shimmer_local"] < 0.02


@pytest.mark.parametrize("semitones_per_s", [8.0, -8.0])
def test_glides_give_slopes_of_their_sign_and_size(tmp_path: Path, semitones_per_s: float) -> None:
    t = np.arange(int(1.5 * SR)) / SR
    start = 150.0 if semitones_per_s > 0 else 250.0
    row = features(tmp_path, "glide", harmonic(start * 2 ** (semitones_per_s * t / 12), 1.5))
    assert math.copysign(1, row["f0_slope_st_s"]) == math.copysign(1, semitones_per_s)
    assert row["f0_slope_st_s"] == pytest.approx(semitones_per_s, rel=0.1)
    assert row["f0_final_slope_st_s"] == pytest.approx(semitones_per_s, rel=0.1)
    assert row["f0_range_st"] == pytest.approx(abs(semitones_per_s) * 1.5 * 0.9, rel=0.1)  # 5th-95th percentile


def test_four_syllable_pulses_per_second_give_a_rate_within_15_percent(tmp_path: Path) -> None:
    row = features(tmp_path, "bursts", syllable_bursts(3.0))
    assert row["speech_rate_syl_s"] == pytest.approx(4.0, rel=0.15)
    assert row["articulation_rate_syl_s"] >= row["speech_rate_syl_s"]
    assert row["pause_count"] == 0  # the ~0.1 s gaps between syllables are not pauses


def test_an_inserted_half_second_silence_is_one_pause(tmp_path: Path) -> None:
    signal = np.concatenate([syllable_bursts(1.5), noise(0.5, seed=1), syllable_bursts(1.5)])
    row = features(tmp_path, "paused", signal)
    assert row["pause_count"] == 1
    # the pause plus the quiet flanks of its neighbouring bursts, over a 3.5 s speech span
    assert 0.5 / 3.5 <= row["pause_fraction"] <= 0.75 / 3.5
    assert row["speech_rate_syl_s"] == pytest.approx(12 / 3.5, rel=0.15)


def test_a_louder_copy_has_higher_intensity_by_the_gain(tmp_path: Path) -> None:
    quiet = syllable_bursts(2.0) * 0.25
    gain_db = 20 * math.log10(3.0)
    base = features(tmp_path, "quiet", quiet)
    loud = features(tmp_path, "loud", quiet * 3.0)
    assert loud["intensity_mean_db"] - base["intensity_mean_db"] == pytest.approx(gain_db, abs=0.1)
    assert loud["intensity_max_db"] - base["intensity_max_db"] == pytest.approx(gain_db, abs=0.1)
    assert loud["intensity_std_db"] == pytest.approx(base["intensity_std_db"], abs=0.1)
    assert loud["f0_median_hz"] == pytest.approx(base["f0_median_hz"], rel=0.01)


def perturbed_voice(jitter: float, shimmer: float, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """Cycles of random length and amplitude; returns the signal and its true local jitter and shimmer."""
    rng = np.random.default_rng(seed)
    cycles, periods, amplitudes = [], [], []
    while sum(periods) < 1.5 * SR:
        n = int(round(SR / 180.0 * (1 + jitter * rng.standard_normal())))
        a = 1 + shimmer * rng.standard_normal()
        phase = np.arange(n) / n * 2 * np.pi
        cycles.append(a * sum(np.sin(k * phase) / k for k in range(1, 8)))
        periods.append(n)
        amplitudes.append(a)
    p, a = np.array(periods, float), np.array(amplitudes)
    signal = np.concatenate(cycles)
    true_jitter = np.mean(np.abs(np.diff(p))) / p.mean()
    true_shimmer = np.mean(np.abs(np.diff(a))) / a.mean()
    return 0.3 * signal / np.abs(signal).max(), true_jitter, true_shimmer


@pytest.mark.parametrize(("jitter", "shimmer"), [(0.02, 0.0), (0.0, 0.08)])
def test_jitter_and_shimmer_match_the_perturbation_put_in(tmp_path: Path, jitter: float, shimmer: float) -> None:
    signal, true_jitter, true_shimmer = perturbed_voice(jitter, shimmer)
    row = features(tmp_path, "perturbed", signal)
    if jitter:
        assert row["jitter_local"] == pytest.approx(true_jitter, rel=0.15)
        assert row["shimmer_local"] < 0.2 * true_jitter + 0.01
    else:
        assert row["shimmer_local"] == pytest.approx(true_shimmer, rel=0.15)
        assert row["jitter_local"] < 0.002


def test_hnr_follows_the_noise_added_and_agrees_with_praat_harmonicity(tmp_path: Path) -> None:
    tone = harmonic(200.0, 1.0)
    rng = np.random.default_rng(3)
    measured = []
    for snr_db in (0.0, 5.0, 10.0):
        hiss = rng.standard_normal(tone.size)
        hiss *= np.sqrt(np.mean(tone**2) / np.mean(hiss**2)) / 10 ** (snr_db / 20)
        path = write(tmp_path, f"snr{snr_db:.0f}", tone + hiss)
        hnr = extract_one("x", path)["hnr_db"]
        harmonicity = parselmouth.Sound(path).to_harmonicity_cc().values
        praat = float(harmonicity[harmonicity > -200].mean())
        assert hnr == pytest.approx(praat, abs=1.5)
        measured.append(hnr)
    assert measured == sorted(measured)


def test_stereo_and_any_sample_rate_are_handled(tmp_path: Path) -> None:
    tone = harmonic(200.0, 1.0, sr=44100)
    row = features(tmp_path, "stereo", np.stack([tone, 0.5 * tone], axis=1), sr=44100)
    assert row["f0_median_hz"] == pytest.approx(200.0, rel=0.02)
    assert row["pause_fraction"] == 0.0 and row["speech_rate_syl_s"] == 0.0  # one steady sound, no syllable peaks


def assert_unmeasured(row: dict, error: str) -> None:
    assert row["error"].startswith(error)
    assert all(math.isnan(row[c]) for c in FEATURE_COLUMNS if c != "duration_s")


def test_missing_file_gives_a_row_with_the_reason(tmp_path: Path) -> None:
    row = extract_one("gone", str(tmp_path / "absent.wav"))
    assert row["id"] == "gone"
    assert_unmeasured(row, "missing file")
    assert math.isnan(row["duration_s"])


def test_unreadable_file_gives_a_row_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "text.wav"
    path.write_text("this is not audio\n")
    assert_unmeasured(extract_one("bad", str(path)), "unreadable file")


def test_clip_shorter_than_a_tenth_of_a_second_is_refused(tmp_path: Path) -> None:
    row = extract_one("short", write(tmp_path, "short", harmonic(200.0, 0.05)))
    assert_unmeasured(row, "clip too short")
    assert row["duration_s"] == pytest.approx(0.05)


def test_silence_and_unvoiced_noise_are_reported_not_measured(tmp_path: Path) -> None:
    assert_unmeasured(extract_one("zeros", write(tmp_path, "zeros", np.zeros(SR))), "silence")
    assert_unmeasured(extract_one("hiss", write(tmp_path, "hiss", noise(1.0, level=0.1))), "no voiced frame")


def test_adapted_pitch_range_keeps_octave_errors_out_of_the_statistics(tmp_path: Path) -> None:
    """A 200 Hz voice that period-doubles for 0.4 s: a wide-range track halves there, the adapted one does not."""
    t = np.arange(2 * SR) / SR
    alternate_cycles = ((t > 0.8) & (t < 1.2)) & (np.floor(t * 200).astype(int) % 2 == 1)
    signal = harmonic(200.0, 2.0) * np.where(alternate_cycles, 0.5, 1.0)
    path = write(tmp_path, "doubling", signal)
    wide = parselmouth.Sound(path).to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=700)
    wide_f0 = wide.selected_array["frequency"]
    assert (wide_f0[wide_f0 > 0] < 150).mean() > 0.1  # the octave error is there to be avoided
    row = features(tmp_path, "doubling", signal)
    assert row["f0_min_hz"] == pytest.approx(200.0, rel=0.02)
    assert row["f0_range_st"] < 0.5
