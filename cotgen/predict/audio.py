"""The clip as the audio content part of a student request, in the shapes audio-language servers read.

Two part types exist in the wild. OpenAI's ``input_audio`` carries base64 bytes and a format name;
vLLM also reads it, and its own ``audio_url`` part takes a URL: a ``data:`` URL holding the same
bytes, or a ``file://`` URL that the server opens itself when it was started with
``--allowed-local-media-path`` (nothing is uploaded then, and the server decodes the file).

What is uploaded is 16 kHz mono 16-bit WAV by default, the input rate of the Whisper-style audio
encoders of Qwen2-Audio, Qwen2.5-Omni and Ultravox: a clip at another rate or with more channels
is mixed down and resampled here (librosa), so what the model hears does not depend on a server's
own resampler, and the bytes — hence the cache key — are the same on every rerun.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cotgen.core.audio import MODEL_SAMPLE_RATE, AudioDecodeError, audio_as_wav
from cotgen.core.errors import CotgenError

AudioPart = Literal["input_audio", "audio_url"]
AUDIO_PARTS: tuple[str, ...] = ("input_audio", "audio_url")
DEFAULT_SAMPLE_RATE = MODEL_SAMPLE_RATE


@dataclass(frozen=True)
class AudioSettings:
    """How the clip is sent: the part type, ``file://`` URLs instead of data, and the upload's sample rate."""

    part: AudioPart = "input_audio"
    file_urls: bool = False
    sample_rate: int = DEFAULT_SAMPLE_RATE

    def __post_init__(self) -> None:
        if self.part not in AUDIO_PARTS:
            raise CotgenError(f"--audio-part {self.part!r}: expected one of {', '.join(AUDIO_PARTS)}")
        if self.file_urls and self.part != "audio_url":
            raise CotgenError("--file-urls needs --audio-part audio_url (input_audio parts carry the bytes)")
        if self.sample_rate < 1000:
            raise CotgenError(f"--sample-rate must be at least 1000 Hz, got {self.sample_rate}")

    def describe(self) -> dict[str, Any]:
        """What the fingerprint and run.json record of the audio settings."""
        return {
            "part": self.part,
            "file_urls": self.file_urls,
            "sample_rate": None if self.file_urls else self.sample_rate,
        }


class AudioError(CotgenError):
    """A clip that cannot be read or decoded; its utterance's predictions record the error."""


def file_sha256(path: str) -> str:
    """sha256 of the clip's file as it is on disk (what the input fingerprint records)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read the clip ({exc.strerror or exc})") from None
    return digest.hexdigest()


def wav_bytes(path: str, sample_rate: int = DEFAULT_SAMPLE_RATE) -> bytes:
    """The clip as mono 16-bit PCM WAV at ``sample_rate``, through the one decoder of :mod:`cotgen.core.audio`.

    Any container librosa decodes (MELD's mp4 included) works; a clip that already is such a WAV goes byte for byte.
    """
    try:
        return audio_as_wav(path, sample_rate)
    except AudioDecodeError as exc:
        raise AudioError(str(exc)) from None


def audio_part(path: str, settings: AudioSettings) -> dict[str, Any]:
    """The content part that carries the clip at ``path``; raises :class:`AudioError` for an unreadable clip."""
    if settings.file_urls:
        if not Path(path).is_file():
            raise AudioError(f"{path}: no such clip")
        return {"type": "audio_url", "audio_url": {"url": Path(path).resolve().as_uri()}}
    data = base64.b64encode(wav_bytes(path, settings.sample_rate)).decode("ascii")
    if settings.part == "input_audio":
        return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    return {"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{data}"}}
