"""Decoding audio that Praat cannot read itself (MELD's mp4 clips) through librosa and its ffmpeg backend.

Praat reads WAV, FLAC, MP3 and a few others; video containers such as mp4 need ffmpeg. librosa tries
libsndfile first and falls back to audioread, which runs ffmpeg; its notices about that fallback are
silenced here because the fallback is the point.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


class DecodeError(Exception):
    """librosa could not decode the file; the message says why in one line."""


def decode_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples in [-1, 1] as float64, sample rate) of any file librosa + ffmpeg decode, mixed to mono."""
    import librosa  # imported on first use: most corpora are WAV and never need it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples, rate = librosa.load(str(path), sr=None, mono=True)
    except Exception as exc:  # noqa: BLE001  # audioread and soundfile raise many unrelated types
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DecodeError(detail) from None
    if samples.size == 0:
        raise DecodeError("no audio stream")
    return samples.astype(np.float64), int(rate)
