"""What an answer text claims, read tolerantly: its ambiguity judgement, cue levels, evidence and quoted shares.

Why: the reasoning rewards and the pair check judge a text on what it *says*, and a student's rollout does not
always follow the rendering :func:`cotgen.records.trace.parse_trace` reads back exactly. This reader takes the
rendered line format where it is there and falls back to plain words where it is not:

- ``level``: the word after ``Level:`` in the ambiguity stage, else a level word next to "ambiguity"
  ("high ambiguity", "ambiguity is low"); None when the stage states none.
- ``competing``: the codes after ``Competing:``, else None (not stated).
- ``cue_levels``: for each acoustic cue the stage names (``pitch``, ``speech rate``, ``voice_quality`` …), the
  level words between that name and the next cue name on the line. One level is a claim; several different
  levels for one cue ("pitch very high, very low, moderate") is a contradiction and recorded as such.
- ``suggests``: per cue line of the acoustic and lexical stages, the codes after ``Suggests:``, else the classes
  the line names in words (codes, names such as "angry", nouns such as "anger").
- ``shares``: every share the reasoning stages quote — ``0.40``, ``40%``, ``3 of 5`` — with the class named right
  next to it, if any.

Every pattern is a single pass over its stage (no nested quantifiers), so a hostile megabyte costs what its
length costs (tests/test_parser_linear.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cotgen.core.labels import emotion_name
from cotgen.records.consistency import (
    MIN_COHERENCE,
    Violation,
    coherence_violation,
    competing_violation,
    level_violation,
    shares_violation,
)
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import (
    INTONATION_LEVELS,
    LEVELS,
    Sections,
    TraceParseError,
    parse_sections,
    read_acoustic_line,
)

# Noun and adjective forms a text may name a class by, beyond its code and its name (core.labels).
CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "neu": ("neutral", "neutrality", "calm"),
    "hap": ("happy", "happiness", "joy", "joyful"),
    "exc": ("excited", "excitement"),
    "sad": ("sad", "sadness"),
    "ang": ("angry", "anger"),
    "fru": ("frustrated", "frustration"),
    "sur": ("surprised", "surprise"),
    "fea": ("fearful", "fear", "afraid"),
    "dis": ("disgusted", "disgust"),
    "con": ("contempt", "contemptuous"),
    "oth": ("other",),
}
_CUE_NAME = re.compile(
    r"\b(pitch[ _]variation|pitch|intonation|loudness[ _]variation|loudness|speech[ _]rate|pauses|voice[ _]quality)\b",
    re.I,
)
_LEVEL_WORD = re.compile(r"\b(very low|very high|low|moderate|high|rising|flat|falling)\b", re.I)
_AMBIGUITY_LEVEL = re.compile(r"\b(low|medium|high)\b", re.I)
_STATED_LEVEL = re.compile(r"Level:[ \t]*(low|medium|high)\b", re.I)
_LEVEL_NEAR_AMBIGUITY = re.compile(
    r"\b(low|medium|high)[ \t]+ambiguity\b|\bambiguity[ \t]+(?:is[ \t]+|level[ \t]+)?(low|medium|high)\b", re.I
)
_COMPETING = re.compile(r"Competing:[ \t]*([A-Za-z0-9_+, -]*)", re.I)
_SUGGESTS = re.compile(r"Suggests:[ \t]*([A-Za-z0-9_+, -]*)", re.I)
# A share: "0.40" / "1.00" / ".4", "40%" / "40.5 %", or "3 of 5" / "3 out of 5".
_SHARE = re.compile(
    r"(?<![\w.])(?:(?P<dec>[01]?\.\d{1,3})(?![\w%])"
    r"|(?P<pct>\d{1,3}(?:\.\d)?)[ \t]?%"
    r"|(?P<num>\d{1,4})[ \t]+(?:out[ \t]+)?of[ \t]+(?P<den>\d{1,4})\b)"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z+_-]*")
_CUE_SPAN_END = re.compile(r"[.;]")
_CLAUSE_END = re.compile(r"[,;.!?\n]")
# What may stand between a share and the class it belongs to: "anger (0.40)", "anger: 0.40", "0.40 anger".
_GLUE_BEFORE = re.compile(r"[ \t(:=]*")
_GLUE_AFTER = re.compile(r"[ \t):]*")
_WINDOW = 60


@dataclass(frozen=True)
class QuotedShare:
    """A share a text quotes: its value in [0, 1], the class named next to it (None: none), and the quoted text."""

    value: float
    code: str | None
    text: str


@dataclass
class Claims:
    """What one answer text claims (see the module docstring); None fields were not stated."""

    distribution: dict[str, float]
    level: str | None = None
    competing: list[str] | None = None
    cue_levels: dict[str, str] = field(default_factory=dict)
    contradictory_cues: list[str] = field(default_factory=list)
    suggests: list[list[str]] = field(default_factory=list)
    shares: list[QuotedShare] = field(default_factory=list)
    label: str | None = None


def class_words(classes: Sequence[str]) -> dict[str, str]:
    """Lower-case word -> class code for every way a text may name one of ``classes``."""
    words: dict[str, str] = {}
    for code in classes:
        for word in (code, emotion_name(code), *CLASS_WORDS.get(code, ())):
            words.setdefault(word.lower(), code)
    return words


def _named_classes(text: str, words: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(words[w.lower()] for w in _WORD.findall(text) if w.lower() in words))


def _cue_key(name: str) -> str:
    return name.lower().replace(" ", "_")


def _valid_level(cue: str, level: str) -> bool:
    return level in (INTONATION_LEVELS if cue == "intonation" else LEVELS)


def read_cue_levels(acoustic: str) -> tuple[dict[str, str], list[str]]:
    """The level each named cue is claimed at, and the cues claimed at several different levels.

    Per line, a cue's span runs from its name to the next cue name; the valid level words in it are the claim.
    """
    claimed: dict[str, set[str]] = {}
    for line in acoustic.splitlines():
        rendered = read_acoustic_line(" ".join(line.split()))
        if rendered is not None:  # the rendering states the level in its own field; the observation is prose
            claimed.setdefault(rendered["cue"], set()).add(rendered["level"])
            continue
        names = list(_CUE_NAME.finditer(line))
        for i, match in enumerate(names):
            cue = _cue_key(match.group(1))
            end = names[i + 1].start() if i + 1 < len(names) else len(line)
            stop = _CUE_SPAN_END.search(line, match.end(), end)
            end = stop.start() if stop is not None else end
            levels = {m.group(1).lower() for m in _LEVEL_WORD.finditer(line, match.end(), end)}
            levels = {level for level in levels if _valid_level(cue, level)}
            if levels:
                claimed.setdefault(cue, set()).update(levels)
    single = {cue: next(iter(levels)) for cue, levels in claimed.items() if len(levels) == 1}
    several = sorted(cue for cue, levels in claimed.items() if len(levels) > 1)
    return single, several


def _line_suggests(body: str, words: Mapping[str, str], codes: set[str]) -> list[list[str]]:
    out = []
    for line in body.splitlines():
        if not line.strip() or line.strip().lower().startswith("summary:"):
            continue
        stated = _SUGGESTS.search(line)
        if stated is not None:
            out.append([c.strip() for c in stated.group(1).split(",") if c.strip() in codes])
        else:
            out.append(_named_classes(line, words))
    return out


def _level(ambiguity: str) -> str | None:
    stated = _STATED_LEVEL.search(ambiguity)
    if stated is not None:
        return stated.group(1).lower()
    near = _LEVEL_NEAR_AMBIGUITY.search(ambiguity)
    if near is not None:
        return (near.group(1) or near.group(2)).lower()
    return None


def _share_value(match: re.Match[str]) -> float | None:
    if match.group("dec") is not None:
        return float(match.group("dec"))
    if match.group("pct") is not None:
        value = float(match.group("pct")) / 100
        return value if value <= 1 else None
    num, den = int(match.group("num")), int(match.group("den"))
    return num / den if 0 < den and num <= den else None


def _attached(text: str, match: re.Match[str], words: Mapping[str, str]) -> str | None:
    """The class a quoted share belongs to: the class word right next to it, else one close after or before it.

    Only within its clause (a comma or full stop ends the search): "0.60 neutral, 0.40 angry" and
    "neutral 0.60, angry 0.40" pair each number with its class; "3 of 5 annotators (60%) heard neutral" with neu.
    """
    after = text[match.end() : match.end() + _WINDOW]
    end = _CLAUSE_END.search(after)
    after = after[: end.start()] if end else after
    before = text[max(0, match.start() - _WINDOW) : match.start()]
    starts = [m.end() for m in _CLAUSE_END.finditer(before)]
    before = before[starts[-1] :] if starts else before
    after_words, before_words = list(_WORD.finditer(after)), list(_WORD.finditer(before))

    def code(word: re.Match[str]) -> str | None:
        return words.get(word.group(0).lower())

    if before_words and code(before_words[-1]) and _GLUE_BEFORE.fullmatch(before[before_words[-1].end() :]):
        return code(before_words[-1])
    if after_words and code(after_words[0]) and _GLUE_AFTER.fullmatch(after[: after_words[0].start()]):
        return code(after_words[0])
    near = [code(w) for w in after_words[:3]] + [code(w) for w in reversed(before_words[-2:])]
    return next((c for c in near if c), None)


def read_shares(text: str, words: Mapping[str, str]) -> list[QuotedShare]:
    """Every share quoted in ``text`` (a value in [0, 1]), with the class it is quoted for (see :func:`_attached`)."""
    found = []
    for match in _SHARE.finditer(text):
        value = _share_value(match)
        if value is None or value > 1:
            continue
        found.append(QuotedShare(value=value, code=_attached(text, match, words), text=match.group(0)))
    return found


def read_claims(
    text: str, classes: Sequence[str], order: Sequence[str] = DEFAULT_ORDER, sections: Sections | None = None
) -> Claims | None:
    """The claims of an answer text over ``classes``; None when its sections or distribution cannot be read."""
    if sections is None:
        try:
            sections = parse_sections(text, classes, order)
        except TraceParseError:
            return None
    words = class_words(classes)
    codes = set(classes)
    competing = _COMPETING.search(sections.ambiguity)
    cue_levels, contradictory = read_cue_levels(sections.acoustic)
    reasoning = "\n".join((sections.acoustic, sections.lexical, sections.ambiguity))
    return Claims(
        distribution=sections.distribution,
        level=_level(sections.ambiguity),
        competing=None
        if competing is None
        else [c.strip() for c in competing.group(1).split(",") if c.strip() and c.strip() != "none"],
        cue_levels=cue_levels,
        contradictory_cues=contradictory,
        suggests=_line_suggests(sections.acoustic, words, codes) + _line_suggests(sections.lexical, words, codes),
        shares=read_shares(reasoning, words),
        label=sections.label,
    )


def claim_violations(claims: Claims, min_coherence: float | None = MIN_COHERENCE) -> list[Violation]:
    """Every consistency rule (:mod:`cotgen.records.consistency`) the claims of a text break, in rule order.

    A level or competing list the text does not state is not a contradiction (rules 1 and 2 need it stated);
    ``min_coherence`` None leaves rule 3 out, as for gold validation.
    """
    distribution = claims.distribution
    found = [
        level_violation(claims.level, distribution) if claims.level is not None else None,
        competing_violation(claims.competing, distribution) if claims.competing is not None else None,
        coherence_violation(claims.suggests, distribution, min_coherence) if min_coherence is not None else None,
        shares_violation([(share.value, share.code) for share in claims.shares], distribution),
    ]
    return [v for v in found if v is not None]
