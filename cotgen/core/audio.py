"""Audio files in, samples or model-ready WAV out: the one place cotgen decodes and resamples audio.

Praat reads WAV, FLAC and MP3 but not the formats corpora and users also ship (Ogg, Opus, M4A/MP4, WebM...),
and models want their own rate (Qwen2-Audio and most speech encoders: 16 kHz mono). librosa decodes all of them
(libsndfile first, then audioread with ffmpeg for containers libsndfile does not know) and resamples, so the
acoustic features, the audio a teacher is sent and what a student model is asked about go through the same code.

librosa is imported on first use: it takes about a second to import (numba), which no command that never
touches audio should pay.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import soundfile

from cotgen.core.errors import CotgenError

# The rate speech models take (Whisper-style encoders, Qwen2-Audio); what `cotgen predict` sends.
MODEL_SAMPLE_RATE = 16_000


class AudioDecodeError(CotgenError):
    """A file that no decoder could read; the message says which file and why."""


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate, from any format librosa decodes, resampled to ``sample_rate`` if given.

    ``sample_rate=None`` keeps the file's own rate (what Praat wants: it measures at any rate).
    """
    import audioread  # librosa's fallback decoder (ffmpeg), whose errors it lets through
    import librosa  # slow to import: see the module docstring

    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"{path}: no such audio file")
    try:
        with warnings.catch_warnings():
            # librosa warns when it falls back from libsndfile to audioread; the fallback is the point here.
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            samples, rate = librosa.load(str(path), sr=sample_rate, mono=True)
    except (RuntimeError, ValueError, EOFError, OSError, audioread.exceptions.DecodeError) as exc:
        # libsndfile's errors are RuntimeErrors; audioread's (no backend, ffmpeg failing) are DecodeErrors.
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise AudioDecodeError(f"{path}: cannot decode audio ({detail})") from None
    if samples.size == 0:
        raise AudioDecodeError(f"{path}: the audio holds no samples")
    return samples.astype(np.float32, copy=False), int(rate)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Samples as a 16-bit PCM WAV file in memory."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _is_wav_as_wanted(path: Path, sample_rate: int | None) -> bool:
    """A 16-bit PCM mono WAV at ``sample_rate`` (any rate when None): nothing to convert."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError):
        return False
    return (
        info.format == "WAV"
        and info.subtype == "PCM_16"
        and info.channels == 1
        and (sample_rate is None or info.samplerate == sample_rate)
    )


def audio_as_wav(path: str | Path, sample_rate: int | None = None) -> bytes:
    """The clip as mono 16-bit WAV bytes for a model, at ``sample_rate`` (None: the file's own rate).

    A file that already is such a WAV is sent byte for byte (the bytes a response cache keys on stay the same);
    anything else is decoded, mixed down to mono and resampled by :func:`load_audio`.
    """
    path = Path(path)
    if _is_wav_as_wanted(path, sample_rate):
        return path.read_bytes()
    samples, rate = load_audio(path, sample_rate)
    return wav_bytes(samples, rate)
