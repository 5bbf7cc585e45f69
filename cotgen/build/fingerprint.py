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

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cotgen.build.outcome import Item, Mode
from cotgen.prompts.templates import PromptInputs
from cotgen.records.fingerprint import fingerprint, fingerprint_json, text_fingerprint


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
        mode, so a build hashes the utterance's inputs once and each item's few fields on top. Those
        fields' canonical JSON is the text :func:`~cotgen.records.fingerprint.fingerprint` hashes for
        ``{"mode", "params", "sample", "server", "teacher", "template", "utterance"}`` (keys sorted); all but
        the sample and the utterance's part are the build's, encoded once per mode (:meth:`_mode_json`).
        """
        encoded = self._mode_json.get(item.mode)
        if encoded is None:
            encoded = self._mode_json[item.mode] = self._encode_mode(item.mode)
        before_sample, before_utterance = encoded
        sample, utterance_json = fingerprint_json(item.sample), fingerprint_json(utterance)
        return text_fingerprint(f"{before_sample}{sample}{before_utterance}{utterance_json}}}")

    @functools.cached_property
    def _mode_json(self) -> dict[str, tuple[str, str]]:
        """Mode -> :meth:`_encode_mode`, filled as modes come up."""
        return {}

    def _encode_mode(self, mode: Mode) -> tuple[str, str]:
        """The canonical JSON of an item's fields of ``mode`` before its sample, and between it and its utterance."""
        params = fingerprint_json(dict(self.params[mode]))
        server, teacher = fingerprint_json(self.server), fingerprint_json(self.teacher)
        template = fingerprint_json(self.templates[mode])
        return (
            f'{{"mode":{fingerprint_json(mode)},"params":{params},"sample":',
            f',"server":{server},"teacher":{teacher},"template":{template},"utterance":',
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
            "inputs": inputs,  # a dataclass: encoded field by field (cotgen.records.fingerprint)
            "levels": None if levels is None else dict(levels),
            "features_error": features_error,
        }
    )
