"""The input fingerprint of a build item: what decides its trace or reject, hashed (cotgen.records.fingerprint).

A rerun compares each done item's recorded fingerprint with the one its inputs give now and redoes
the item when they differ, so a trace never outlives the votes, classes, cues, prompts, teacher,
server or parameters it was made from. What goes in is what the prompt shows (the
:class:`~cotgen.prompts.templates.PromptInputs`: transcript, gender, cues in words and numbers, class
set, human distribution, the dialogue context it quotes, and whatever a later prompt adds to them),
what the record is scored against (the measured cue levels, the human distribution), and who answered how: the
server's identity, the hash of the templates that made the record, and the parameters of asking and
validating. Nothing else (not the time, not the run folder), so the same inputs always give the same
fingerprint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from cotgen.build.outcome import Item, Mode
from cotgen.prompts.templates import PromptInputs
from cotgen.records.fingerprint import fingerprint


@dataclass(frozen=True)
class FingerprintContext:
    """What every item of one build shares: teacher and server, template hashes per mode, parameters.

    ``params`` holds the parameters that decide a record of the given mode (temperature, token limit,
    structured outputs, audio, repairs, the faithfulness bar, the gold tolerance); for the template
    teacher only those it reads.
    """

    teacher: str
    server: str | None
    templates: Mapping[Mode, str]
    params: Mapping[Mode, Mapping[str, Any]]

    def of(
        self,
        item: Item,
        inputs: PromptInputs | None,
        levels: Mapping[str, str | None] | None,
        features_error: str | None = None,
    ) -> str:
        """The fingerprint of ``item``; ``inputs`` None when its features could not be measured."""
        return self.of_sample(item, utterance_fingerprint(item, inputs, levels, features_error))

    def of_sample(self, item: Item, utterance: str) -> str:
        """The fingerprint of ``item`` from its utterance's part (:func:`utterance_fingerprint`), computed once.

        An utterance's K + 1 items share everything but the sample, the mode and what depends on the
        mode, so a build hashes the utterance's inputs once and each item's few fields on top.
        """
        return fingerprint(
            {
                "utterance": utterance,
                "sample": item.sample,
                "mode": item.mode,
                "teacher": self.teacher,
                "server": self.server,
                "template": self.templates[item.mode],
                "params": dict(self.params[item.mode]),
            }
        )


def utterance_fingerprint(
    item: Item,
    inputs: PromptInputs | None,
    levels: Mapping[str, str | None] | None,
    features_error: str | None = None,
) -> str:
    """The part of an item's fingerprint its utterance decides: what the prompt shows and what it is scored on."""
    utt = item.utterance
    return fingerprint(
        {
            "id": utt.id,
            "audio": utt.audio,
            "classes": list(utt.classes),
            "human": dict(utt.distribution),
            "inputs": None if inputs is None else _plain(inputs),
            "levels": None if levels is None else dict(levels),
            "features_error": features_error,
        }
    )


def _plain(inputs: PromptInputs) -> dict[str, Any]:
    """The prompt inputs as JSON-ready values, every field of them (a field added later is hashed too).

    A shallow walk rather than :func:`dataclasses.asdict`, whose deep copies were most of the cost
    of fingerprinting a resumed build.
    """
    return {f.name: _json_ready(getattr(inputs, f.name)) for f in dataclasses.fields(inputs)}


def _json_ready(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value  # anything else is left to the JSON encoder, which refuses what it cannot encode
