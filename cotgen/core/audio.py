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
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from cotgen.core.errors import CotgenError
from cotgen.core.limits import MAX_AUDIO_SECONDS

# The rate speech models take (Whisper-style encoders, Qwen2-Audio); what `cotgen predict` sends.
MODEL_SAMPLE_RATE = 16_000
# A WAV data size that means "until the end of the file" (written by a pipe that could not seek back).
_STREAMING_SIZES = (0, 0xFFFFFFFF)
_MAX_CHUNKS = 64


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


def audio_header_problem(path: str | Path, max_seconds: float = MAX_AUDIO_SECONDS) -> str | None:
    """Why a file must not be decoded, judged from its header alone, or None.

    A WAV header is taken at its word by Praat: 1 KB whose header promises 2 GB of samples makes it allocate
    2 GB (and fill them with zeros). So a WAV whose data chunk promises more bytes than the file holds, and any
    file whose header gives a duration over ``max_seconds``, is refused before a sample is read. A file no
    header reader knows is left to the decoders (their errors say why).
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(12)
            if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                return _wav_problem(handle, size, max_seconds)
    except OSError:
        return None  # missing or unreadable: the reader says so
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError):
        return None
    if info.duration > max_seconds:
        return f"{info.duration:.0f} s of audio by its header, over the {max_seconds:g} s cap (--max-audio-seconds)"
    return None


def _wav_problem(handle: BinaryIO, size: int, max_seconds: float) -> str | None:
    """The RIFF chunks up to ``data``: its declared size against the bytes that follow it, and its duration."""
    position, byte_rate = 12, 0
    for _ in range(_MAX_CHUNKS):
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return None
        name, length = header[:4], struct.unpack("<I", header[4:])[0]
        if name == b"fmt ":
            fmt = handle.read(16)
            byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) == 16 else 0
        elif name == b"data":
            available = size - position - 8
            declared = available if length in _STREAMING_SIZES else length
            if declared > available:
                return f"WAV header promises {declared:,} bytes of samples, the file holds {available:,}"
            seconds = declared / byte_rate if byte_rate else 0.0
            if seconds > max_seconds:
                return f"{seconds:.0f} s of audio, over the {max_seconds:g} s cap (--max-audio-seconds)"
            return None
        position += 8 + length + (length & 1)
    return None  # no data chunk within reach: the decoders say what is wrong with the file


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
