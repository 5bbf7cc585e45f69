"""The pieces every trainer format is built from: prompt parts, answers, audio paths.

The run's records hold the student prompt in the conversational form of
:func:`cotgen.prompts.student.student_messages` (a system message, a user message with one audio part and
one text part) and the answers as assistant messages. Each exporter rearranges these pieces into
its trainer's layout; doing the extraction, escaping and path rewriting here keeps the three
formats saying exactly the same thing to the model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cotgen.core.errors import CotgenError
from cotgen.export.audio_sources import MeasuredAudio
from cotgen.records.answer import TEXT, AnswerContract, AnswerContractError, AnswerMode, contract_for
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import TraceParseError, parse_sections

AudioMode = Literal["absolute", "relative", "copy"]
Message = dict[str, Any]

AUDIO_TAG = "<audio>"
AUDIO_DIR = "audio"
_AUDIO_TAG_IN_TEXT = re.compile(r"<(\s*/?\s*audio\s*)>", re.I)
# Characters no common file system takes in a name (Windows' reserved set, path separators, controls).
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_NAME_HASH_CHARS = 10
# Longest copied clip name kept from an id, in UTF-8 bytes (a hash and a suffix still fit in 255).
_NAME_BYTES = 100


def escape_audio_tags(text: str) -> str:
    """Replace a literal ``<audio>`` (any case or spacing) with ``‹audio›``.

    LLaMA-Factory and ms-swift count ``<audio>`` tags in the text to place the clips, so one quoted
    in a transcript or a trace would ask for an audio file that is not there.
    """
    return _AUDIO_TAG_IN_TEXT.sub(r"‹\1›", text)


@dataclass(frozen=True)
class StudentPrompt:
    """The student prompt taken apart: system text, user text and the audio paths in order."""

    system: str
    user: str
    audios: list[str]


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if part.get("type") == "text")
    raise CotgenError(f"{where}: message content is {type(content).__name__}, expected text or a list of parts")


def split_prompt(prompt: list[Message], where: str) -> StudentPrompt:
    """Take a record's prompt apart; ``where`` (record id and file) names it in errors."""
    system = "".join(_text_of(m.get("content"), where) for m in prompt if m.get("role") == "system")
    users = [m for m in prompt if m.get("role") == "user"]
    if len(users) != 1:
        raise CotgenError(f"{where}: expected one user message in the prompt, found {len(users)}")
    content = users[0].get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": _text_of(content, where)}]
    audios = [str(part["audio"]) for part in parts if part.get("type") == "audio" and part.get("audio")]
    if not audios:
        raise CotgenError(f"{where}: the user message has no audio part")
    return StudentPrompt(
        system=escape_audio_tags(system),
        user=escape_audio_tags(_text_of(content, where)),
        audios=audios,
    )


def assistant_text(messages: list[Message], where: str) -> str:
    """The text of the single assistant message a completion/chosen/rejected list holds."""
    if len(messages) != 1 or messages[0].get("role") != "assistant":
        raise CotgenError(f"{where}: expected exactly one assistant message")
    return _text_of(messages[0].get("content"), where)


def answer(text: str, mode: AnswerContract | AnswerMode, where: str, order: Sequence[str] = DEFAULT_ORDER) -> str:
    """The assistant text as exported: the trace, plus in ``label`` mode its label line (the answer contract),
    read with the run's ``order`` of the reasoning stages."""
    contract = contract_for(mode)
    escaped = escape_audio_tags(text)
    if not contract.requires_label:
        return escaped
    try:
        return contract.render(escaped, parse_sections(text, order=order).distribution)
    except TraceParseError as exc:
        raise CotgenError(f"{where}: cannot read the trace's distribution ({exc})") from None
    except AnswerContractError as exc:
        raise CotgenError(f"{where}: {exc}") from None


class MissingAudioError(CotgenError):
    """A record's clip is not on disk: the exporter skips that record and counts it, the export goes on."""

    reason = "missing_audio"


class UncopiedAudioError(MissingAudioError):
    """``--audio copy`` of a clip outside the corpus root or not measured as audio: skipped and counted too."""

    reason = "audio_not_copied"


@dataclass
class AudioPaths:
    """Rewrites audio paths for an export: absolute, relative to where the trainer resolves them, or copied.

    ``relative_to`` is the folder the trainer resolves relative paths against (LLaMA-Factory: the
    export folder holding ``dataset_info.json``; ms-swift and TRL: the working directory). Copied
    clips land in ``<out>/audio/`` and are referred to relative to the export folder.
    """

    mode: AudioMode
    out_dir: Path
    relative_to: Path
    # What may be copied (:mod:`cotgen.export.audio_sources`); None copies any clip (a caller without a run).
    measured: MeasuredAudio | None = None
    copied: dict[str, str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    def __call__(self, utterance_id: str, path: str) -> str:
        source = Path(path)
        if not source.is_file():
            raise MissingAudioError(f"{path}: audio of {utterance_id} not found")
        if self.mode == "absolute":
            return str(source.resolve())
        if self.mode == "relative":
            return os.path.relpath(source.resolve(), self.relative_to.resolve())
        return self._copy(utterance_id, source)

    def _copy(self, utterance_id: str, source: Path) -> str:
        problem = self.measured.problem(source) if self.measured is not None else None
        if problem is not None:
            raise UncopiedAudioError(f"{source}: audio of {utterance_id} {problem}")
        key = str(source.resolve())
        if key not in self.copied:
            name = copy_name(utterance_id) + source.suffix.lower()
            if name_key(name) in self._taken:
                # Another clip already has this name (a case-insensitive file system would merge them too):
                # the source path's hash keeps the two apart, the same on every export of the same run.
                name = f"{Path(name).stem}-{_short_hash(key)}{source.suffix.lower()}"
            self._taken.add(name_key(name))
            target = self.out_dir / AUDIO_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            self.copied[key] = f"{AUDIO_DIR}/{name}"
        return self.copied[key]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_NAME_HASH_CHARS]


def copy_name(utterance_id: str) -> str:
    """The file name (without suffix) of an utterance's copied clip: unique, stable and bounded for any id.

    The id is kept as it is where file systems allow it (non-ASCII included); whenever it has to be
    changed (a separator, a reserved character, a leading dot, an empty id, more than
    ``_NAME_BYTES`` bytes of UTF-8, which most file systems cap at 255) the sanitised name, cut to fit,
    gets a short hash of the original id, so two ids that sanitise alike (``a/b`` and ``a:b``) never share a file.
    """
    safe = _UNSAFE_NAME.sub("_", utterance_id).strip(" ")
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if safe == utterance_id and safe and len(safe.encode("utf-8")) <= _NAME_BYTES:
        return safe
    cut = safe.encode("utf-8")[:_NAME_BYTES].decode("utf-8", "ignore")
    return f"{cut}-{_short_hash(utterance_id)}"


def name_key(name: str) -> str:
    """What a case-insensitive, normalising file system sees of a name: two names with one key are one file."""
    return unicodedata.normalize("NFKC", name).casefold()


@dataclass
class RowContext:
    """What every row builder needs besides the record: the audio rewriting and the answer mode."""

    audio: AudioPaths
    contract: AnswerContract = TEXT
    order: tuple[str, ...] = DEFAULT_ORDER  # the run's order of the reasoning stages

    def label_columns(self, human: dict[str, float]) -> dict[str, Any]:
        """In ``label`` mode, what a label-reading loop and the format reward need beside the text, else nothing.

        ``target_distribution`` (the human distribution) and ``label_words`` (code -> the word on the label
        line; ``cotgen.rewards.format_reward`` then requires the line in that vocabulary).
        """
        if not self.contract.requires_label:
            return {}
        return {"target_distribution": human, "label_words": self.contract.words(list(human))}

    def gold(self, text: str | None, where: str) -> str | None:
        """A GRPO record's gold trace as the policy should write it (the label line in ``label`` mode)."""
        return None if text is None else answer(text, self.contract, where, self.order)

    def prompt(self, record_id: str, prompt: list[Message], where: str) -> StudentPrompt:
        """The record's prompt taken apart, with its audio paths rewritten for this export."""
        parts = split_prompt(prompt, where)
        return StudentPrompt(parts.system, parts.user, [self.audio(record_id, path) for path in parts.audios])

    def answer(self, messages: list[Message], where: str) -> str:
        """The assistant text of a completion/chosen/rejected list, as exported."""
        return answer(assistant_text(messages, where), self.contract, where, self.order)

    def pair(self, chosen: list[Message], rejected: list[Message], where: str) -> tuple[str, str] | None:
        """The chosen and rejected texts as exported; None when they read the same (nothing to prefer)."""
        texts = (self.answer(chosen, where), self.answer(rejected, where))
        return None if texts[0] == texts[1] else texts
