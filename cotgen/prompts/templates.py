"""Teacher prompts: the Jinja2 templates of ``prompts/`` (or ``--prompts DIR``) rendered into chat messages.

Templates are files so that researchers can read, diff and replace them without touching code;
undefined variables are errors (StrictUndefined), so a template that asks for something the
build does not provide fails loudly instead of sending a prompt with a hole in it. In particular
the predict template is rendered *without* the human distribution, so it cannot leak the answer.

Every trace records which templates made it (:meth:`PromptSet.ref`): the mode template's name and
a sha256 over the system, mode and repair templates, so a change to any of them changes the hash.

The transcript enters as JSON-quoted data (``json.dumps``), so quotes, newlines or tags inside it
cannot end the quoted string, and the system message says that it is data, never instructions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2

from cotgen.core.divergence import format_distribution
from cotgen.core.errors import CotgenError
from cotgen.core.labels import emotion_name
from cotgen.core.paths import PROMPTS_DIR
from cotgen.prompts.context import CONTEXT_HEADER, NO_PREVIOUS_TURN, with_context
from cotgen.records.consistency import HIGH_MAX_TOP, LOW_MIN_TOP
from cotgen.records.run_records import TemplateRef
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import ACOUSTIC_CUES, HEARD, INTONATION_LEVELS, LEVELS, VOCAL_EVENTS, response_schema
from cotgen.records.utterance import ContextTurn

Mode = Literal["rationalize", "predict"]
TEMPLATE_FILES: tuple[str, ...] = ("system.j2", "rationalize.j2", "predict.j2", "repair.j2")


@dataclass(frozen=True)
class FeatureLine:
    """One measured acoustic feature as the prompt shows it: raw value and z-score within the speaker."""

    name: str
    value: float | None
    z: float | None


@dataclass(frozen=True)
class PromptInputs:
    """What a prompt says about one utterance; built from the utterance and its speaker-relative cues."""

    transcript: str | None
    gender: str | None
    cues_text: str
    classes: Sequence[str]
    features: Sequence[FeatureLine] = field(default_factory=tuple)
    human_distribution: Mapping[str, float] | None = None
    context: Sequence[ContextTurn] | None = None  # previous turns (build --context K); None = not asked for
    # Each measured cue's level in the answer's vocabulary: what the faithfulness check compares a cited level with.
    levels: Mapping[str, str] = field(default_factory=dict)

    def levels_text(self) -> str:
        """The measured levels as the prompt states them ("pitch: high; intonation: rising; ...")."""
        return "; ".join(f"{cue}: {level}" for cue, level in self.levels.items()) or "none measured"

    def evidence_text(self) -> str:
        """What the prompt shows besides the target (the measurements in words and numbers): a trace may quote
        these numbers without leaking the target (:mod:`cotgen.records.leakage`)."""
        numbers = "\n".join(f"{f.name}: {f.value} (z = {f.z})" for f in self.features)
        return f"{self.cues_text}\n{numbers}"


def sha256_text(text: str) -> str:
    """Hex sha256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def quote_transcript(transcript: str | None) -> str:
    """The transcript as a JSON string literal (``null`` when absent): data that cannot break out of its quotes."""
    return json.dumps(transcript, ensure_ascii=False)


def output_format(classes: Sequence[str], order: Sequence[str] = DEFAULT_ORDER) -> str:
    """An example answer in the trace JSON format over the run's classes, its keys in the run's ``order``."""
    first = classes[0]
    second = classes[1] if len(classes) > 1 else classes[0]
    share = round(1.0 / len(classes), 2)
    stages = {
        "acoustic": {
            "cues": [{"cue": "pitch", "level": "high", "observation": "...", "suggests": [first]}],
            "summary": "...",
        },
        "lexical": {
            "cues": [{"cue": '"a quoted phrase"', "observation": "...", "suggests": [second]}],
            "summary": "...",
        },
        "ambiguity": {"level": "medium", "competing": [first, second], "explanation": "..."},
    }
    example = {**{name: stages[name] for name in order}, "distribution": {code: share for code in classes}}
    return json.dumps(example, ensure_ascii=False)


class PromptSet:
    """The four templates of one prompt folder, loaded and checked once."""

    def __init__(self, directory: Path, sources: Mapping[str, str], order: Sequence[str] = DEFAULT_ORDER) -> None:
        self.directory = directory
        self.sources = dict(sources)
        self.order = tuple(order)  # the run's order of the reasoning stages: the prompt and the JSON keys follow it
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(self.sources),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._templates: dict[str, jinja2.Template] = {}
        # The system message depends only on the class set and where the schema goes: rendered once per
        # pair, not per request (at 50 requests in flight on two cores, the client's CPU sets the pace).
        self._system_texts: dict[tuple[tuple[str, ...], bool, bool], str] = {}
        self._refs: dict[tuple[str, bool], TemplateRef] = {}
        for name in TEMPLATE_FILES:
            try:
                self._templates[name] = self._env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise CotgenError(f"{directory / name}:{exc.lineno}: template syntax error: {exc.message}") from None

    def hashes(self) -> dict[str, str]:
        """File name -> sha256 of its content (recorded in run.json)."""
        return {name: sha256_text(self.sources[name]) for name in TEMPLATE_FILES}

    def ref(self, mode: Mode, with_context: bool = False) -> TemplateRef:
        """The template reference of a trace: mode template name, sha256 over system + mode + repair templates.

        A prompt that shows dialogue context also hashes the context block's wording, so traces made
        without context keep the hash they always had. Hashed once per (mode, context) pair.
        """
        key = (mode, with_context)
        if key not in self._refs:
            digest = hashlib.sha256()
            for name in ("system.j2", f"{mode}.j2", "repair.j2"):
                digest.update(name.encode("utf-8") + b"\0" + self.sources[name].encode("utf-8") + b"\0")
            if with_context:
                digest.update(b"context\0" + f"{CONTEXT_HEADER}\n{NO_PREVIOUS_TURN}".encode() + b"\0")
            self._refs[key] = TemplateRef(name=f"{mode}.j2", sha256=digest.hexdigest())
        return self._refs[key]

    def _render(self, name: str, variables: Mapping[str, Any]) -> str:
        try:
            return self._templates[name].render(**variables).strip()
        except jinja2.UndefinedError as exc:
            raise CotgenError(
                f"{self.directory / name}: {exc.message} (available: {', '.join(sorted(variables))})"
            ) from None

    def system_text(self, classes: Sequence[str], schema_in_prompt: bool, audio: bool = False) -> str:
        """The system message; it carries the JSON Schema when the server does not enforce it, and with ``audio``
        (the clip is attached) the vocal events the teacher may cite."""
        key = (tuple(classes), schema_in_prompt, audio)
        if key not in self._system_texts:
            self._system_texts[key] = self._render_system(classes, schema_in_prompt, audio)
        return self._system_texts[key]

    def _render_system(self, classes: Sequence[str], schema_in_prompt: bool, audio: bool) -> str:
        schema = json.dumps(response_schema(classes, audio, self.order), indent=1) if schema_in_prompt else None
        return self._render(
            "system.j2",
            {
                "classes": [{"code": code, "name": emotion_name(code)} for code in classes],
                "class_codes": list(classes),
                "acoustic_cues": list(ACOUSTIC_CUES),
                "levels": list(LEVELS),
                "intonation_levels": list(INTONATION_LEVELS),
                "output_format": output_format(classes, self.order),
                "stages": list(self.order),
                "schema": schema,
                "audio_attached": audio,
                "vocal_events": list(VOCAL_EVENTS),
                "heard": HEARD,
                "low_min_top": LOW_MIN_TOP,
                "high_max_top": HIGH_MAX_TOP,
            },
        )

    def user_text(self, inputs: PromptInputs, mode: Mode, audio: bool = False) -> str:
        """The user message of one utterance; only rationalize sees ``human_distribution``."""
        variables: dict[str, Any] = {
            "mode": mode,
            "audio_attached": audio,
            "transcript": quote_transcript(inputs.transcript),
            "has_transcript": bool(inputs.transcript),
            "gender": {"F": "female", "M": "male"}.get(inputs.gender or "", "unknown"),
            "cues_text": inputs.cues_text,
            "levels_text": inputs.levels_text(),
            "features": list(inputs.features),
            "classes": [{"code": code, "name": emotion_name(code)} for code in inputs.classes],
            "class_codes": list(inputs.classes),
        }
        if mode == "rationalize":
            if inputs.human_distribution is None:
                raise ValueError("rationalize prompts need the human distribution")
            variables["human_distribution"] = format_distribution(inputs.human_distribution)
        return with_context(self._render(f"{mode}.j2", variables), inputs.context)

    def messages(
        self, inputs: PromptInputs, mode: Mode, schema_in_prompt: bool, audio: bool = False
    ) -> list[dict[str, Any]]:
        """System + user chat messages for one utterance (text only; with ``audio`` the build adds the clip as an
        audio part, and the text says so)."""
        return [
            {"role": "system", "content": self.system_text(inputs.classes, schema_in_prompt, audio)},
            {"role": "user", "content": self.user_text(inputs, mode, audio)},
        ]

    def repair_message(self, error: str, classes: Sequence[str]) -> dict[str, Any]:
        """The user turn that follows an invalid answer, carrying the validation error."""
        text = self._render("repair.j2", {"error": error, "class_codes": list(classes)})
        return {"role": "user", "content": text}


def load_prompts(directory: Path | None = None, order: Sequence[str] = DEFAULT_ORDER) -> PromptSet:
    """Load the templates of ``directory`` (default: the bundled ``prompts/``); all four must exist."""
    folder = directory if directory is not None else PROMPTS_DIR
    if not folder.is_dir():
        raise CotgenError(f"{folder}: no such prompt folder (expected {', '.join(TEMPLATE_FILES)})")
    sources: dict[str, str] = {}
    for name in TEMPLATE_FILES:
        path = folder / name
        if not path.is_file():
            raise CotgenError(f"{path}: missing prompt template (a prompt folder holds {', '.join(TEMPLATE_FILES)})")
        sources[name] = path.read_text(encoding="utf-8")
    return PromptSet(folder, sources, order)
