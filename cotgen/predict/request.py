"""What one utterance's student request is: the SFT record's prompt with the clip as a real audio part.

The prompt comes from :func:`cotgen.prompts.student.student_prompt`, the function ``sft.jsonl``,
``dpo.jsonl`` and ``grpo.jsonl`` are written with, so train and test prompts cannot drift apart;
the only change is the audio part: the records' ``{"type": "audio", "audio": PATH}`` becomes the
part a server reads (:func:`cotgen.predict.audio.audio_part`), in the same place.

The input fingerprint hashes what decides an answer — model and server, sampling, the audio
settings, the prompt messages and the clip's bytes — so a rerun redoes the predictions whose
inputs changed and keeps the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cotgen.predict.audio import AudioError, AudioSettings, audio_part, file_sha256
from cotgen.prompts.student import student_prompt
from cotgen.records.fingerprint import fingerprint as input_fingerprint
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.utterance import Utterance

RECORD_AUDIO_TYPE = "audio"


@dataclass(frozen=True)
class ModelIdentity:
    """Who answers and how: the model, the server (no credentials) and the sampling parameters."""

    model: str
    server: str
    temperature: float
    max_tokens: int | None
    # top_logprobs of the logprob readout; None for the text readout (whose fingerprints stay as they were).
    top_logprobs: int | None = None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "model": self.model,
            "server": self.server,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.top_logprobs is not None:
            described["top_logprobs"] = self.top_logprobs
        return described


def record_prompt(utt: Utterance, order: Sequence[str] = DEFAULT_ORDER) -> list[dict[str, Any]]:
    """The prompt exactly as the utterance's SFT/DPO/GRPO records hold it (audio as a path part), with the run's
    ``order`` of the reasoning stages."""
    return student_prompt(utt, order)


def with_audio_part(messages: list[dict[str, Any]], part: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``messages`` with every record audio part replaced by ``part``; everything else untouched."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [dict(part) if p.get("type") == RECORD_AUDIO_TYPE else p for p in content]
            message = {**message, "content": content}
        out.append(message)
    return out


def request_messages(
    utt: Utterance, audio: AudioSettings, order: Sequence[str] = DEFAULT_ORDER
) -> list[dict[str, Any]]:
    """The messages sent for ``utt``; raises :class:`~cotgen.predict.audio.AudioError` for an unreadable clip."""
    return with_audio_part(record_prompt(utt, order), audio_part(utt.audio, audio))


def fingerprint(
    utt: Utterance, identity: ModelIdentity, audio: AudioSettings, order: Sequence[str] = DEFAULT_ORDER
) -> str:
    """sha256 of everything that decides ``utt``'s answers (the sample number aside).

    The clip enters by the sha256 of its file, so the fingerprint is computed without decoding it;
    an unreadable clip enters as null (its predictions then record the read error, and a rerun
    after the file is restored sees a new fingerprint and asks again).
    """
    try:
        clip: str | None = file_sha256(utt.audio)
    except AudioError:
        clip = None
    payload = {
        "identity": identity.describe(),
        "audio": audio.describe(),
        "prompt": record_prompt(utt, order),
        "clip_sha256": clip,
    }
    return input_fingerprint(payload)
