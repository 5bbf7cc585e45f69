"""Audio Praat cannot read is decoded by librosa, and audio for models is mono 16-bit WAV at the rate asked for.

The signal is a synthetic voice (a harmonic series at a known, gliding f0 with a syllable-like envelope), written
once as WAV, which Praat reads itself, and once in formats it does not read (Ogg Vorbis; M4A/AAC when ffmpeg is
there). The features of the decoded copies must match those of the WAV: the fallback changes what can be read,
not what is measured.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import parselmouth
import pytest
import soundfile

from cotgen.acoustics.extract import extract_one
from cotgen.core.audio import MODEL_SAMPLE_RATE, AudioDecodeError, audio_as_wav, load_audio
from cotgen.core.errors import CotgenError
from cotgen.teachers.openai_teacher import build_audio_part

RATE = 22_050
F0 = 140.0


def voice(seconds: float = 1.6, rate: int = RATE) -> np.ndarray:
    """Ten harmonics of an f0 gliding ±5 % around :data:`F0`, in three syllable-like bursts."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = F0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 11))
    envelope = np.clip(np.sin(2 * np.pi * 1.9 * t), 0, None) ** 0.5
    return (0.3 * wave * envelope / np.max(np.abs(wave))).astype(np.float32)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    samples = voice()
    paths = {"wav": folder / "v.wav", "ogg": folder / "v.ogg"}
    soundfile.write(paths["wav"], samples, RATE, subtype="PCM_16")
    soundfile.write(paths["ogg"], samples, RATE, format="OGG", subtype="VORBIS")
    if shutil.which("ffmpeg"):
        paths["m4a"] = folder / "v.m4a"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(paths["wav"]), "-c:a", "aac", str(paths["m4a"])],
            check=True,
        )
    return paths


@pytest.mark.parametrize("fmt", ["ogg", "m4a"])
def test_features_of_audio_praat_cannot_read_match_the_wav(clips: dict[str, Path], fmt: str) -> None:
    if fmt not in clips:
        pytest.skip("ffmpeg is not installed (.ci/run installs it)")
    with pytest.raises(parselmouth.PraatError):
        parselmouth.Sound(str(clips[fmt]))  # the reason for the fallback: Praat alone cannot read it
    reference = extract_one("wav", clips["wav"])
    decoded = extract_one(fmt, clips[fmt])
    assert reference["error"] is None and decoded["error"] is None, decoded["error"]
    assert decoded["f0_median_hz"] == pytest.approx(reference["f0_median_hz"], rel=0.02)
    assert decoded["f0_median_hz"] == pytest.approx(F0, rel=0.05)
    # AAC pads the start with encoder delay; the duration may grow by a frame or two, not more.
    assert decoded["duration_s"] == pytest.approx(reference["duration_s"], abs=0.05)
    assert decoded["intensity_mean_db"] == pytest.approx(reference["intensity_mean_db"], abs=1.5)


def test_a_file_no_decoder_reads_names_both_reasons(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"OggS but not really" * 50)
    row = extract_one("junk", junk)
    assert row["error"].startswith("unreadable file (Praat: ") and "; librosa: cannot decode audio" in row["error"]
    with pytest.raises(AudioDecodeError, match=r"junk\.ogg: cannot decode audio"):
        load_audio(junk)


def test_load_audio_resamples_and_mixes_down(tmp_path: Path) -> None:
    stereo = np.stack([voice(), 0.5 * voice()], axis=1)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, stereo, 44_100, subtype="FLOAT")
    samples, rate = load_audio(path, MODEL_SAMPLE_RATE)
    assert rate == MODEL_SAMPLE_RATE and samples.ndim == 1 and samples.dtype == np.float32
    assert len(samples) == pytest.approx(len(stereo) * MODEL_SAMPLE_RATE / 44_100, abs=2)
    native, native_rate = load_audio(path)
    assert native_rate == 44_100 and len(native) == len(stereo)
    assert np.allclose(native, stereo.mean(axis=1), atol=1e-6)


def test_model_audio_is_mono_16_bit_wav_at_the_rate_asked_for(tmp_path: Path, clips: dict[str, Path]) -> None:
    ready = tmp_path / "ready.wav"
    soundfile.write(ready, voice(rate=MODEL_SAMPLE_RATE), MODEL_SAMPLE_RATE, subtype="PCM_16")
    assert audio_as_wav(ready, MODEL_SAMPLE_RATE) == ready.read_bytes()  # nothing to do: the same bytes
    for source in (clips["wav"], clips["ogg"]):
        data = audio_as_wav(source, MODEL_SAMPLE_RATE)
        info = soundfile.info(io.BytesIO(data))
        assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, MODEL_SAMPLE_RATE)
        assert info.duration == pytest.approx(1.6, abs=0.02)


def test_the_teacher_gets_any_readable_format_as_wav(clips: dict[str, Path], tmp_path: Path) -> None:
    sent = base64.b64decode(build_audio_part(str(clips["ogg"]))["input_audio"]["data"])
    info = soundfile.info(io.BytesIO(sent))
    assert (info.format, info.channels, info.samplerate) == ("WAV", 1, RATE)
    assert base64.b64decode(build_audio_part(str(clips["wav"]))["input_audio"]["data"]) == clips["wav"].read_bytes()
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CotgenError, match=r"--send-audio: .*junk\.mp3: cannot decode audio"):
        build_audio_part(str(junk))
