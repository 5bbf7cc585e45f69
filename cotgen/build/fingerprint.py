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
        utt = item.utterance
        return fingerprint(
            {
                "id": utt.id,
                "sample": item.sample,
                "mode": item.mode,
                "audio": utt.audio,
                "classes": list(utt.classes),
                "human": dict(utt.distribution),
                "inputs": None if inputs is None else _plain(inputs),
                "levels": None if levels is None else dict(levels),
                "features_error": features_error,
                "teacher": self.teacher,
                "server": self.server,
                "template": self.templates[item.mode],
                "params": dict(self.params[item.mode]),
            }
        )


def _plain(inputs: PromptInputs) -> dict[str, Any]:
    """The prompt inputs as JSON-ready values (sequences as lists, mappings as dicts)."""
    value = dataclasses.asdict(inputs)
    value["classes"] = list(inputs.classes)
    value["human_distribution"] = None if inputs.human_distribution is None else dict(inputs.human_distribution)
    return value
