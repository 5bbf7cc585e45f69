"""One utterance in, one feature row out: the Praat analyses run once and feed every feature.

Analysis order and reuse: one adaptive pitch track gives the f0 statistics, the voicing that
syllable nuclei must have, the strengths that HNR is made of, and the guide for the glottal pulses
of jitter and shimmer; one intensity contour gives loudness, silences/pauses and the syllable peaks.
Anything that prevents measuring (missing or unreadable file, a clip under 0.1 s, silence, no voiced
frame) yields a row of NaN features with the reason in ``error``; it never raises.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import parselmouth

from cotgen.acoustics.loudness import loudness_features, pause_features, segment
from cotgen.acoustics.pitch import adaptive_pitch, pitch_features
from cotgen.acoustics.rows import NAN, Row, empty_row
from cotgen.acoustics.settings import DEFAULT_SETTINGS, FEATURE_COLUMNS, AnalysisSettings
from cotgen.acoustics.syllables import nuclei_indices, rate_features
from cotgen.acoustics.voice import hnr_from_strength, perturbation_features
from cotgen.core.audio import AudioDecodeError, load_audio


class UnmeasurableAudio(Exception):
    """The audio cannot give features; the message is the row's ``error``."""


def load_sound(path: str | Path) -> parselmouth.Sound:
    """Read any format Praat or librosa reads, at any sample rate; stereo is mixed down to mono.

    Praat reads WAV, FLAC and MP3 itself (its own reader, bit for bit what Praat users get); anything else
    (Ogg, Opus, M4A/MP4, WebM...) is decoded by librosa at the file's own rate and handed to Praat as samples.
    """
    path = Path(path)
    if not path.is_file():
        raise UnmeasurableAudio("missing file")
    try:
        sound = parselmouth.Sound(str(path))
    except parselmouth.PraatError as exc:
        praat = str(exc).strip().splitlines()[0] if str(exc).strip() else "not audio"
        try:
            samples, rate = load_audio(path)
        except AudioDecodeError as decode_error:
            why = str(decode_error).removeprefix(f"{path}: ")
            raise UnmeasurableAudio(f"unreadable file (Praat: {praat}; librosa: {why})") from None
        return parselmouth.Sound(samples.astype(np.float64), sampling_frequency=float(rate))
    return sound.convert_to_mono() if sound.n_channels > 1 else sound


def _frame_lookup(times: np.ndarray, x1: float, dx: float, n: int) -> np.ndarray:
    """Index of the frame nearest to each time in a regular grid starting at ``x1``."""
    return np.clip(np.rint((times - x1) / dx).astype(int), 0, n - 1)


def analyse_sound(sound: parselmouth.Sound, settings: AnalysisSettings = DEFAULT_SETTINGS) -> dict[str, float]:
    """Every feature of :data:`FEATURE_COLUMNS` for a mono sound; raises UnmeasurableAudio with the reason."""
    duration = float(sound.duration)
    if duration < settings.min_duration_s:
        raise UnmeasurableAudio(f"clip too short ({duration:.3f} s < {settings.min_duration_s} s)")
    if float(np.max(np.abs(sound.values))) < settings.silence_peak_amplitude:
        raise UnmeasurableAudio("silence")

    pitch = adaptive_pitch(sound, settings)
    track = pitch.selected_array
    f0, strength = track["frequency"], track["strength"]
    if not np.any(f0 > 0):
        raise UnmeasurableAudio("no voiced frame")
    pitch_times = pitch.xs()

    intensity = sound.to_intensity(minimum_pitch=settings.intensity_min_pitch_hz, time_step=settings.time_step_s)
    level_db = intensity.values[0]
    finite = np.isfinite(level_db)
    level_db = np.where(finite, level_db, level_db[finite].min() if finite.any() else 0.0)
    step = float(intensity.dx)
    segmentation = segment(level_db, step, settings)

    voiced_at_frame = f0[_frame_lookup(intensity.xs(), pitch.x1, pitch.dx, pitch.n_frames)] > 0
    nuclei = nuclei_indices(level_db, voiced_at_frame, segmentation, settings)
    sounding_s = float(segmentation.sounding.sum()) * step

    features: dict[str, float] = {"duration_s": duration}
    features.update(pitch_features(pitch_times, f0, settings))
    features.update(loudness_features(level_db, segmentation))
    features.update(rate_features(int(nuclei.size), duration, sounding_s))
    features.update(pause_features(segmentation, step))
    features.update(perturbation_features(sound, pitch, settings))
    features["hnr_db"] = hnr_from_strength(strength[f0 > 0])
    return {name: features[name] for name in FEATURE_COLUMNS}


def extract_one(item_id: str, path: str | Path, settings: AnalysisSettings = DEFAULT_SETTINGS) -> Row:
    """The feature row of one audio file; per-item failures become a row with ``error`` set."""
    duration = NAN
    try:
        sound = load_sound(path)
        duration = float(sound.duration)
        features = analyse_sound(sound, settings)
    except UnmeasurableAudio as exc:
        return empty_row(item_id, str(exc), duration)
    except parselmouth.PraatError as exc:
        detail = " ".join(str(exc).split())[:200]
        return empty_row(item_id, f"praat analysis failed ({detail})", duration)
    return {"id": item_id, **features, "error": None}


def extract_batch(items: list[tuple[str, str]], settings: AnalysisSettings = DEFAULT_SETTINGS) -> list[Row]:
    """Rows for a batch of (id, path) pairs: the unit of work sent to a process or a Dask worker.

    Batching amortises the per-task overhead of the executor; this module imports no pandas so a
    spawned worker starts quickly.
    """
    return [extract_one(item_id, path, settings) for item_id, path in items]
