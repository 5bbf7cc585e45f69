"""The structured chain of thought: model, validation against a run's classes, text rendering and parsing.

A trace reasons in four stages (by default acoustic cues -> lexical cues -> ambiguity -> distribution; a run
may declare another order of the first three, :mod:`cotgen.records.stages`). The
pydantic model is class-set agnostic so that one JSON Schema (``schemas/trace.schema.json``)
describes every run; :func:`validate_trace` then checks a trace against the run's class codes and
says precisely why it fails, with the reject reason that ``rejects.jsonl`` records.

The text rendering is what students are trained on. It carries the four tags (docs/architecture.md, "Field
conventions") and inside them a line format that :func:`parse_trace` reads back exactly, so
``parse_trace(render_trace(t)) == t`` for every validated trace. :func:`parse_sections` is the
tolerant reader for what real models emit (code fences, extra whitespace, trailing text); it
needs only the tags and the distribution JSON, which is all that rewards and pair scoring use.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from cotgen.core.divergence import format_distribution, round_distribution
from cotgen.records.answer import label_word_in
from cotgen.records.stages import DEFAULT_ORDER, tagged_order

SCHEMA_VERSION = "1"

# The measured cues, each with a level the acoustics stage computes for every clip.
MeasuredCueName = Literal[
    "pitch",
    "pitch_variation",
    "intonation",
    "loudness",
    "loudness_variation",
    "speech_rate",
    "pauses",
    "voice_quality",
]
# Vocal events a teacher that hears the clip may cite (``--send-audio``): what a listener hears and no measurement
# shows. Cited as acoustic cues at the level "heard", never checked against a measurement (docs/build.md).
VocalEventName = Literal[
    "laughter",
    "sigh",
    "crying",
    "tremor",
    "shouting",
    "whisper",
    "sarcastic_tone",
    "ironic_tone",
    "gasp",
    "voice_break",
]
AcousticCueName = Literal[MeasuredCueName, VocalEventName]
ScaleLevel = Literal["very low", "low", "moderate", "high", "very high"]
IntonationLevel = Literal["rising", "flat", "falling"]
CueLevel = Literal[ScaleLevel, IntonationLevel, "heard"]
AmbiguityLevel = Literal["low", "medium", "high"]
# The same vocabularies as tuples, for the code that iterates over them: one spelling, read off the types.
ACOUSTIC_CUES: tuple[str, ...] = get_args(MeasuredCueName)
VOCAL_EVENTS: tuple[str, ...] = get_args(VocalEventName)
HEARD = "heard"
LEVELS: tuple[str, ...] = get_args(ScaleLevel)
INTONATION_LEVELS: tuple[str, ...] = get_args(IntonationLevel)
AMBIGUITY_LEVELS: tuple[str, ...] = get_args(AmbiguityLevel)
STAGES: tuple[str, ...] = tagged_order(DEFAULT_ORDER)
"""The tagged sections in the default order; a run may declare another (:mod:`cotgen.records.stages`)."""
SUM_TOLERANCE = 0.02

RejectReason = Literal["malformed_json", "schema_invalid", "distribution_invalid"]


_STAGE_TAG_IN_TEXT = re.compile(r"<(\s*(?:/\s*)?(?:acoustic|lexical|ambiguity|distribution)\s*)>", re.I)


def _one_line(text: str) -> str:
    """Normalise free text for the line-based rendering.

    Whitespace collapses to single spaces (one line per cue), and a stage tag quoted inside free
    text (a transcript saying "<distribution>") becomes ‹distribution› so it cannot end a section. A text
    without "<" has no tag to replace (most texts: this runs on every text of every answer).
    """
    collapsed = " ".join(str(text).split())
    return _STAGE_TAG_IN_TEXT.sub(r"‹\1›", collapsed) if "<" in collapsed else collapsed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _text_line(value: str) -> str:
    text = _one_line(value)
    if not text:
        raise ValueError("must contain text, not only whitespace")
    return text


# Free text of a trace: normalised to one line (the rendering is line-based) and never blank.
TextLine = Annotated[str, Field(min_length=1), AfterValidator(_text_line)]
# "→" separates a lexical cue from its observation in the rendering; keep it out of the cue.
LexicalCueText = Annotated[TextLine, AfterValidator(lambda value: value.replace("→", "->"))]


class AcousticCue(_Strict):
    """One acoustic cue the teacher cites, at the level it claims for this speaker."""

    cue: AcousticCueName
    level: CueLevel
    observation: TextLine
    suggests: list[str] = Field(default_factory=list, description="Class codes this cue points to.")


class LexicalCue(_Strict):
    """A phrase or feature of the transcript (a quoted phrase, negation, punctuation...)."""

    cue: LexicalCueText
    observation: TextLine
    suggests: list[str] = Field(default_factory=list, description="Class codes this cue points to.")


class AcousticStage(_Strict):
    cues: list[AcousticCue] = Field(min_length=1)
    summary: TextLine


class LexicalStage(_Strict):
    cues: list[LexicalCue] = Field(default_factory=list)
    summary: TextLine


class AmbiguityStage(_Strict):
    level: AmbiguityLevel
    competing: list[str] = Field(default_factory=list, description="Class codes that compete.")
    explanation: TextLine


class Trace(_Strict):
    """A four-stage chain of thought ending in a distribution over the run's class codes."""

    acoustic: AcousticStage
    lexical: LexicalStage
    ambiguity: AmbiguityStage
    distribution: dict[str, float]


class TraceError(ValueError):
    """Why a response is not a valid trace; ``reason`` is the reject reason recorded for it."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectReason = reason
        self.detail = detail


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "trace"
    return f"{where}: {err['msg']}"


def is_vocal_event(cue: str) -> bool:
    """Whether a cited cue is a vocal event (heard, not measured) rather than a measured acoustic cue."""
    return cue in VOCAL_EVENTS


def validate_trace(data: Any, classes: Sequence[str], has_transcript: bool, events: bool = False) -> Trace:
    """Check a trace (dict, JSON text or Trace) against the run's classes; renormalise its distribution.

    ``events``: the teacher heard the clip (``--send-audio``), so it may cite vocal events (:data:`VOCAL_EVENTS`,
    level "heard"); without the clip such a cue is a claim about audio it never had, and invalid.

    Raises :class:`TraceError` with reason ``malformed_json`` (not JSON), ``schema_invalid`` (wrong
    structure, unknown codes, cue/level mismatch, missing cues, too few competing classes) or
    ``distribution_invalid`` (keys not the class codes, values outside [0, 1], sum off by > 0.02).
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise TraceError(
                "malformed_json", f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        except ValueError:  # an integer longer than Python converts: hostile or broken, never a trace
            digits = sys.get_int_max_str_digits()
            raise TraceError("malformed_json", f"not readable JSON (a number of more than {digits} digits)") from None
        except RecursionError:  # nested deeper than the decoder recurses
            raise TraceError("malformed_json", "not readable JSON (nested too deeply)") from None
    if isinstance(data, Trace):
        data = data.model_dump()
    if isinstance(data, Mapping) and isinstance(data.get("distribution"), Mapping):
        _check_distribution(data["distribution"], classes)
    try:
        trace = Trace.model_validate(data)
    except ValidationError as exc:
        raise TraceError("schema_invalid", _first_error(exc)) from None
    codes = set(classes)
    for i, cue in enumerate(trace.acoustic.cues):
        if is_vocal_event(cue.cue) and not events:
            raise TraceError(
                "schema_invalid",
                f"acoustic.cues.{i}: {cue.cue} is a vocal event, and this teacher was not given the audio; "
                f"cite only the measured cues ({', '.join(ACOUSTIC_CUES)})",
            )
        allowed = (HEARD,) if is_vocal_event(cue.cue) else INTONATION_LEVELS if cue.cue == "intonation" else LEVELS
        if cue.level not in allowed:
            raise TraceError(
                "schema_invalid", f"acoustic.cues.{i}: level {cue.level!r} for {cue.cue}; expected one of {allowed}"
            )
        _check_codes(cue.suggests, codes, "acoustic.cues.{}.suggests", i)
    cited = [cue.cue for cue in trace.acoustic.cues]
    if len(set(cited)) < len(cited):
        repeated = sorted({name for name in cited if cited.count(name) > 1}, key=cited.index)
        # Citing a cue twice would let a trace pad its faithfulness with copies of one agreeing claim.
        raise TraceError(
            "schema_invalid", f"acoustic.cues: {', '.join(repeated)} cited more than once; cite each cue once"
        )
    for i, lex in enumerate(trace.lexical.cues):
        _check_codes(lex.suggests, codes, "lexical.cues.{}.suggests", i)
    if has_transcript and not trace.lexical.cues:
        raise TraceError(
            "schema_invalid", "lexical.cues: at least one lexical cue is required when there is a transcript"
        )
    _check_codes(trace.ambiguity.competing, codes, "ambiguity.competing")
    if trace.ambiguity.level in ("medium", "high") and len(set(trace.ambiguity.competing)) < 2:
        raise TraceError(
            "schema_invalid", f"ambiguity.competing: {trace.ambiguity.level} ambiguity must name at least two classes"
        )
    ordered = _normalised({code: trace.distribution[code] for code in classes})
    if _same_floats(ordered, trace.distribution):
        return trace  # in class order and normalised already: a copy would be equal, float for float
    return trace.model_copy(update={"distribution": ordered})


def _check_codes(values: Sequence[str], codes: set[str], where: str, index: int | None = None) -> None:
    """Every value a class code; ``where`` names the field (with ``index`` filled in), written only for an error."""
    unknown = [v for v in values if v not in codes]
    if unknown:
        field = where if index is None else where.format(index)
        raise TraceError("schema_invalid", f"{field}: unknown class code(s) {unknown}; expected {sorted(codes)}")


def _check_distribution(distribution: Mapping[str, Any], classes: Sequence[str]) -> None:
    keys, expected = set(distribution), set(classes)
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        raise TraceError(
            "distribution_invalid", f"keys must be exactly {list(classes)} (missing {missing}, extra {extra})"
        )
    for code, value in distribution.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise TraceError("distribution_invalid", f"distribution[{code!r}] = {value!r} is not a number")
        if not 0.0 <= value <= 1.0:
            raise TraceError("distribution_invalid", f"distribution[{code!r}] = {value} is outside [0, 1]")
    total = float(sum(distribution.values()))
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise TraceError("distribution_invalid", f"distribution sums to {total:.4f}, not 1 (tolerance {SUM_TOLERANCE})")


def _normalised(distribution: dict[str, float]) -> dict[str, float]:
    """Renormalise to sum 1, leaving a distribution that already sums to 1 (to float precision) as it is."""
    total = float(sum(distribution.values()))
    if abs(total - 1.0) <= 1e-9:
        return distribution
    return {code: value / total for code, value in distribution.items()}


def printed(trace: Trace) -> Trace:
    """The trace with its distribution as printed in the text (two decimals, summing to exactly 1).

    A trace whose distribution is printed already (a teacher writing two decimals, a trace read back) is returned
    as it is instead of copied: the copy would be equal, float for float.
    """
    rounded = round_distribution(trace.distribution)
    if _same_floats(rounded, trace.distribution):
        return trace
    return trace.model_copy(update={"distribution": rounded})


def _same_floats(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Same keys in the same order and the same floats, a zero's sign included (-0.0 == 0.0, but prints "-0.0")."""
    return list(a.items()) == list(b.items()) and all(math.copysign(1.0, a[k]) == math.copysign(1.0, b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# Rendering


def _codes(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"


def render_trace(trace: Trace, order: Sequence[str] = DEFAULT_ORDER) -> str:
    """The training text: the tagged reasoning stages in the run's ``order``, one cue per line, then the
    distribution as printed JSON."""
    acoustic = [f"- {c.cue}: {c.level}. {c.observation} Suggests: {_codes(c.suggests)}." for c in trace.acoustic.cues]
    lexical = [f"- {c.cue} → {c.observation} Suggests: {_codes(c.suggests)}." for c in trace.lexical.cues]
    amb = trace.ambiguity
    bodies = {
        "acoustic": [*acoustic, f"Summary: {trace.acoustic.summary}"],
        "lexical": [*lexical, f"Summary: {trace.lexical.summary}"],
        "ambiguity": [f"Level: {amb.level}. Competing: {_codes(amb.competing)}. {amb.explanation}"],
    }
    lines = [line for name in order for line in (f"<{name}>", *bodies[name], f"</{name}>")]
    return "\n".join([*lines, f"<distribution>{format_distribution(trace.distribution)}</distribution>"])


# ---------------------------------------------------------------------------------------------
# Parsing


class TraceParseError(ValueError):
    """Text that is not a four-stage trace; the message says what is wrong and where."""


@dataclass(frozen=True)
class Sections:
    """The four tagged parts of a generated text, with the distribution JSON decoded.

    ``label`` is the word of the label line after ``</distribution>`` (:mod:`cotgen.records.answer`), or
    None when the text has none.
    """

    acoustic: str
    lexical: str
    ambiguity: str
    distribution: dict[str, float]
    label: str | None = None


@dataclass(frozen=True)
class Tag:
    """One stage tag found in a text: ``closing`` for ``</name>``, and where it starts and ends."""

    name: str
    closing: bool
    start: int
    end: int


_FENCE_LINE = re.compile(r"^[ \t]*```[A-Za-z0-9_-]*[ \t]*$", re.M)
_FENCE_EDGES = re.compile(r"^```[A-Za-z0-9_-]*|```$")
# Every stage tag, opening or closing, any case and spacing. The optional slash is one unambiguous group, so
# a '<' before a long run of spaces is tried once (``<\s*/?\s*`` would try every split of the run).
_STAGE_TAG = re.compile(r"<\s*(?:(/)\s*)?(acoustic|lexical|ambiguity|distribution)\s*>", re.I)


def strip_fences(text: str) -> str:
    """The text without code-fence lines (models wrap answers in ```json ... ``` or ``` ... ```)."""
    return _FENCE_LINE.sub("", text)


def scan_tags(text: str) -> Iterator[Tag]:
    """Every stage tag of ``text`` in order, lazily, in one linear pass (the readers of model text share it)."""
    for m in _STAGE_TAG.finditer(text):
        yield Tag(name=m.group(2).lower(), closing=m.group(1) is not None, start=m.start(), end=m.end())


def _first_spans(tags: Iterable[Tag]) -> dict[str, tuple[Tag, Tag]]:
    """For each stage: its first opening tag and the first closing tag after it (the tolerant reading)."""
    spans: dict[str, tuple[Tag, Tag]] = {}
    opened: dict[str, Tag] = {}
    for tag in tags:
        if tag.name in spans:
            continue
        if not tag.closing:
            opened.setdefault(tag.name, tag)
        elif tag.name in opened:
            spans[tag.name] = (opened[tag.name], tag)
            if len(spans) == len(STAGES):
                break  # what follows cannot change the reading
    return spans


def decode_distribution(body: str) -> dict[str, Any]:
    """The JSON object of a ``<distribution>`` body (fences allowed); raises TraceParseError saying why not."""
    raw = _FENCE_EDGES.sub("", body.strip()).strip()
    if raw.count("{") + raw.count("[") > 1:  # deeper JSON would only cost the decoder (and its recursion)
        raise TraceParseError(f"<distribution> must be one flat JSON object of numbers: {raw[:80]!r}")
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TraceParseError(f"<distribution> is not a JSON object ({exc.msg}): {raw[:80]!r}") from None
    if not isinstance(decoded, dict):
        raise TraceParseError(f"<distribution> is a JSON {type(decoded).__name__}, not an object")
    return decoded


def read_distribution_object(decoded: Mapping[str, Any], classes: Sequence[str] | None) -> dict[str, float]:
    """A decoded distribution checked against ``classes`` (then renormalised), or just numeric without them."""
    if classes is not None:
        try:
            _check_distribution(decoded, classes)
        except TraceError as exc:
            raise TraceParseError(f"<distribution>: {exc.detail}") from None
        return _normalised({code: float(decoded[code]) for code in classes})
    bad = [k for k, v in decoded.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise TraceParseError(f"<distribution>: non-numeric values for {bad}")
    return {k: float(v) for k, v in decoded.items()}


def parse_sections(text: str, classes: Sequence[str] | None = None, order: Sequence[str] = DEFAULT_ORDER) -> Sections:
    """Find the four tagged stages in the run's ``order`` and decode the distribution; tolerant of fences and
    extra text.

    With ``classes`` the distribution must be keyed by exactly those codes, with values in [0, 1]
    summing to 1 within 0.02 (then renormalised). Raises :class:`TraceParseError` saying why.
    Linear in the length of the text: one scan finds every tag, whatever a model repeats or leaves open.
    """
    if not isinstance(text, str):
        raise TraceParseError(f"expected text, got {type(text).__name__}")
    cleaned = strip_fences(text)
    expected = tagged_order(order)
    spans = _first_spans(scan_tags(cleaned))
    for name in expected:
        if name not in spans:
            raise TraceParseError(f"missing <{name}>…</{name}> section")
    starts = [spans[name][0].start for name in expected]
    if starts != sorted(starts):
        seen = sorted(expected, key=lambda n: spans[n][0].start)
        raise TraceParseError(f"sections out of order: {', '.join(seen)} (expected {', '.join(expected)})")

    def body(name: str) -> str:
        opening, closing = spans[name]
        return cleaned[opening.end : closing.start]

    decoded = read_distribution_object(decode_distribution(body("distribution")), classes)
    return Sections(
        acoustic=body("acoustic").strip(),
        lexical=body("lexical").strip(),
        ambiguity=body("ambiguity").strip(),
        distribution=decoded,
        label=label_word_in(cleaned[spans["distribution"][1].end :]),
    )


_AMBIGUITY = re.compile(
    r"^Level:\s*(?P<level>low|medium|high)\.\s+Competing:\s*(?P<codes>[A-Za-z0-9_+, -]*?)\.\s+(?P<exp>.+)$", re.S
)
_CODES_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+, -")
_CUE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
_SUGGESTS = " Suggests:"
# Longest first, so "very low" is not read as a cue at level "low".
_LINE_LEVELS: tuple[str, ...] = tuple(sorted((*LEVELS, *INTONATION_LEVELS, HEARD), key=len, reverse=True))


def _observation_and_codes(text: str) -> tuple[str, str] | None:
    """``observation Suggests: codes.`` split at its last ``Suggests:``; None when the line does not end so.

    String operations only (one-line text, single spaces after :func:`_one_line`), so a hostile line is
    read in one pass where a backtracking pattern would retry every split.
    """
    cut = text.rfind(_SUGGESTS)
    if cut <= 0 or not text.endswith("."):
        return None
    observation, codes = text[:cut].strip(), text[cut + len(_SUGGESTS) : -1].strip()
    if not observation or not set(codes) <= _CODES_CHARS:
        return None
    return observation, codes


def read_acoustic_line(line: str) -> dict[str, Any] | None:
    """``- cue: level. observation Suggests: codes.`` as a cue dict, or None."""
    if not line.startswith("-"):
        return None
    cue, colon, rest = line[1:].strip().partition(":")
    if not colon or not cue or not set(cue) <= _CUE_NAME_CHARS:
        return None
    rest = rest.strip()
    level = next((lv for lv in _LINE_LEVELS if rest.startswith(lv + ". ")), None)
    parts = _observation_and_codes(" " + rest[len(level) + 2 :]) if level else None
    if level is None or parts is None:
        return None
    return {"cue": cue, "level": level, "observation": parts[0], "suggests": _split_codes(parts[1])}


def _lexical_line(line: str) -> dict[str, Any] | None:
    """``- cue → observation Suggests: codes.`` as a cue dict, or None."""
    if not line.startswith("-"):
        return None
    cue, arrow, rest = line[1:].strip().partition(" → ")
    parts = _observation_and_codes(" " + rest.strip()) if arrow and cue.strip() else None
    if parts is None:
        return None
    return {"cue": cue.strip(), "observation": parts[0], "suggests": _split_codes(parts[1])}


def _split_codes(text: str) -> list[str]:
    text = text.strip()
    if text in ("", "none"):
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def _stage_lines(body: str, stage: str) -> tuple[list[str], str]:
    lines = [_one_line(line) for line in body.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("Summary:"):
        raise TraceParseError(f"<{stage}> must end with a 'Summary:' line")
    return lines[:-1], lines[-1][len("Summary:") :].strip()


def parse_trace(
    text: str, classes: Sequence[str], has_transcript: bool = True, order: Sequence[str] = DEFAULT_ORDER
) -> Trace:
    """Read a rendered trace back into its structure (the inverse of :func:`render_trace` with the same ``order``).

    Raises :class:`TraceParseError` when the text does not follow the rendering, naming the
    stage and line; a structurally fine text that breaks the trace rules raises :class:`TraceError`.
    """
    sections = parse_sections(text, classes, order)
    cue_lines, acoustic_summary = _stage_lines(sections.acoustic, "acoustic")
    acoustic = []
    for n, line in enumerate(cue_lines, start=1):
        cue = read_acoustic_line(line)
        if cue is None:
            raise TraceParseError(
                f"<acoustic> line {n} is not '- cue: level. observation Suggests: codes.': {line[:80]!r}"
            )
        acoustic.append(cue)
    lex_lines, lexical_summary = _stage_lines(sections.lexical, "lexical")
    lexical = []
    for n, line in enumerate(lex_lines, start=1):
        lex = _lexical_line(line)
        if lex is None:
            raise TraceParseError(f"<lexical> line {n} is not '- cue → observation Suggests: codes.': {line[:80]!r}")
        lexical.append(lex)
    m = _AMBIGUITY.match(_one_line(sections.ambiguity))
    if m is None:
        raise TraceParseError("<ambiguity> is not 'Level: low|medium|high. Competing: codes. explanation'")
    data = {
        "acoustic": {"cues": acoustic, "summary": acoustic_summary},
        "lexical": {"cues": lexical, "summary": lexical_summary},
        "ambiguity": {"level": m["level"], "competing": _split_codes(m["codes"]), "explanation": m["exp"]},
        "distribution": round_distribution(sections.distribution),
    }
    return validate_trace(data, classes, has_transcript, events=True)  # the build checked who could hear


# ---------------------------------------------------------------------------------------------
# Faithfulness


# Measured levels that make a cue salient, and the cited levels on the same side of the scale.
SALIENT_SIDES: dict[str, tuple[str, ...]] = {
    "very low": ("very low", "low"),
    "very high": ("very high", "high"),
    "rising": ("rising",),
    "falling": ("falling",),
}


def cue_agrees(cue: str, claimed: str, measured: str | None) -> bool | None:
    """Whether a cited level is within one step of the measured one (intonation: exactly); None when unmeasured.

    The within-one rule :func:`faithfulness_parts` counts, and the rule the review page marks mismatches by,
    so the page and the score cannot disagree.
    """
    if measured is None:
        return None
    if cue == "intonation":
        return claimed == measured
    return claimed in LEVELS and measured in LEVELS and abs(LEVELS.index(claimed) - LEVELS.index(measured)) <= 1


def salient_recalled(cited: str | None, measured: str | None) -> bool | None:
    """For a salient measurement (very low/high, rising/falling): whether the trace cites it on that side.

    None when the measurement is not salient; ``cited`` is None when the trace does not cite the cue.
    """
    if measured not in SALIENT_SIDES:
        return None
    return cited in SALIENT_SIDES[measured]


class FaithfulnessParts(_Strict):
    """How a trace's cited cue levels agree with the measured ones, three ways (None: nothing to check).

    ``score`` is the gate ``--min-faithfulness`` compares with: the mean of the parts that are
    defined. A trace that says "moderate" for every cue keeps within one step of most measurements
    but seldom matches exactly and misses every extreme, so it scores low; a trace citing what was
    measured scores 1.
    """

    exact: float | None = Field(description="Share of checked cues cited at exactly the measured level.")
    within_one: float | None = Field(description="Share within one level of the measurement (intonation: exact).")
    salient_recall: float | None = Field(
        description="Share of the extreme measured cues (very low/high, rising/falling) cited on the right side."
    )

    @property
    def score(self) -> float | None:
        parts = [p for p in (self.exact, self.within_one, self.salient_recall) if p is not None]
        return sum(parts) / len(parts) if parts else None


def faithfulness_parts(trace: Trace, measured: Mapping[str, str | None]) -> FaithfulnessParts:
    """Exact and within-one-step agreement of the cited cues, and recall of the salient measured cues.

    ``measured`` maps cue name -> the level measured for this speaker (None when the feature could
    not be measured). Cues without a measurement are not counted. A salient cue counts as recalled
    when the trace cites it on the measured side (very high as high or very high, rising as rising).
    """
    return cited_faithfulness({cue.cue: cue.level for cue in trace.acoustic.cues}, measured)


def cited_faithfulness(cited: Mapping[str, str], measured: Mapping[str, str | None]) -> FaithfulnessParts:
    """:func:`faithfulness_parts` of cue -> cited level (a trace's, or what a rollout's text claims).

    A level outside the scale (the claims reader marks a cue claimed at several levels so) agrees with nothing.
    """
    checked = exact = near = 0
    for cue, level in cited.items():
        actual = measured.get(cue)
        if actual is None:
            continue
        checked += 1
        exact += level == actual
        near += bool(cue_agrees(cue, level, actual))
    salient = [cue for cue, actual in measured.items() if actual in SALIENT_SIDES]
    recalled = sum(bool(salient_recalled(cited.get(cue), measured[cue])) for cue in salient)
    return FaithfulnessParts(
        exact=exact / checked if checked else None,
        within_one=near / checked if checked else None,
        salient_recall=recalled / len(salient) if salient else None,
    )


def faithfulness(trace: Trace, measured: Mapping[str, str | None]) -> float | None:
    """The faithfulness score the gate uses: see :class:`FaithfulnessParts` (None when no cue can be checked)."""
    return faithfulness_parts(trace, measured).score


# ---------------------------------------------------------------------------------------------
# Structured-output schema for OpenAI-compatible servers


def response_schema(
    classes: Sequence[str], events: bool = False, order: Sequence[str] = DEFAULT_ORDER
) -> dict[str, Any]:
    """A strict JSON Schema (OpenAI structured outputs subset) for a trace over ``classes``.

    Strict mode needs every property required and ``additionalProperties: false``; enums carry
    the run's class codes so a conforming server cannot invent a class. ``events``: the teacher hears the clip
    and may cite vocal events at the level "heard". The stages' properties come in the run's ``order``, so a
    server that writes keys in schema order writes the reasoning in it.
    """
    cue_names = [*ACOUSTIC_CUES, *(VOCAL_EVENTS if events else ())]
    cue_levels = [*LEVELS, *INTONATION_LEVELS, *((HEARD,) if events else ())]
    codes = {"type": "array", "items": {"type": "string", "enum": list(classes)}}

    def obj(props: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    acoustic_cue = obj(
        {
            "cue": {"type": "string", "enum": cue_names},
            "level": {"type": "string", "enum": cue_levels},
            "observation": {"type": "string"},
            "suggests": codes,
        }
    )
    lexical_cue = obj({"cue": {"type": "string"}, "observation": {"type": "string"}, "suggests": codes})
    stages = {
        "acoustic": obj({"cues": {"type": "array", "items": acoustic_cue}, "summary": {"type": "string"}}),
        "lexical": obj({"cues": {"type": "array", "items": lexical_cue}, "summary": {"type": "string"}}),
        "ambiguity": obj(
            {
                "level": {"type": "string", "enum": list(AMBIGUITY_LEVELS)},
                "competing": codes,
                "explanation": {"type": "string"},
            }
        ),
    }
    return obj(
        {**{name: stages[name] for name in order}, "distribution": obj({code: {"type": "number"} for code in classes})}
    )
