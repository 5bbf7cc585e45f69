"""The offline template teacher: a deterministic, rule-based trace writer that needs no model.

Why it exists: ``cotgen build`` must run end to end on a fresh checkout with no server and no
key, and tests need a teacher whose output is known. It writes traces only from what was
measured, so its acoustic cues are faithful by construction (faithfulness 1.0): every cue it
cites carries exactly the level measured for this speaker. Lexical cues come from a small
built-in list (emotion words, negation, exclamation and question marks). In rationalize mode the
distribution is the human one; in predict mode it is drawn deterministically per (id, sample)
from the cues, so predict samples differ from the gold and preference pairs have something to
choose between.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from cotgen.core.divergence import round_distribution
from cotgen.core.labels import emotion_name
from cotgen.records.consistency import expected_level
from cotgen.records.run_records import TemplateRef
from cotgen.records.trace import (
    ACOUSTIC_CUES,
    AcousticCue,
    AcousticStage,
    AmbiguityStage,
    LexicalCue,
    LexicalStage,
    Trace,
)

TEACHER_NAME = "template"
Mode = Literal["rationalize", "predict"]

_HIGH_AROUSAL = ("ang", "hap", "exc", "sur", "fea", "fru")
_LOW_AROUSAL = ("sad", "neu")
_AROUSAL_CUES = ("pitch", "pitch_variation", "loudness", "loudness_variation", "speech_rate")

# What a cue at a level points to. Arousal cues: high levels point to high-arousal emotions, low
# levels to sadness; many pauses slow speech down (sad, neutral); voice quality is the harmonics-to-
# noise ratio, so a low level is a breathy or hoarse voice (sad, fearful) and a high one a clear voice.
CUE_SUGGESTS: dict[str, dict[str, tuple[str, ...]]] = {
    **{
        cue: {
            "very high": _HIGH_AROUSAL,
            "high": _HIGH_AROUSAL,
            "moderate": ("neu",),
            "low": _LOW_AROUSAL,
            "very low": ("sad",),
        }
        for cue in _AROUSAL_CUES
    },
    "pauses": {
        "very high": ("sad",),
        "high": _LOW_AROUSAL,
        "moderate": ("neu",),
        "low": ("ang", "hap", "exc", "fru"),
        "very low": ("ang", "exc"),
    },
    "voice_quality": {
        "very high": ("hap", "exc", "neu"),
        "high": ("hap", "neu"),
        "moderate": ("neu",),
        "low": ("sad", "fea"),
        "very low": ("sad", "fea"),
    },
    "intonation": {"rising": ("sur", "hap", "fea"), "flat": ("neu", "sad"), "falling": ("ang", "sad", "neu")},
}

# Built-in lexical cues: lowercase words or phrases -> the emotions they point to.
LEXICON: dict[str, tuple[str, ...]] = {
    "happy": ("hap", "exc"),
    "glad": ("hap",),
    "great": ("hap", "exc"),
    "best": ("hap", "exc"),
    "love": ("hap",),
    "wonderful": ("hap", "exc"),
    "amazing": ("hap", "exc", "sur"),
    "awesome": ("hap", "exc"),
    "finally": ("hap", "exc"),
    "can't wait": ("exc", "hap"),
    "excited": ("exc", "hap"),
    "thank": ("hap",),
    "thanks": ("hap",),
    "congratulations": ("hap", "exc"),
    "sad": ("sad",),
    "sorry": ("sad",),
    "miss": ("sad",),
    "lost": ("sad",),
    "alone": ("sad",),
    "cry": ("sad",),
    "died": ("sad",),
    "anymore": ("sad",),
    "used to": ("sad",),
    "nobody": ("sad", "ang"),
    "hate": ("ang", "dis", "fru"),
    "angry": ("ang",),
    "stupid": ("ang", "fru"),
    "ridiculous": ("ang", "fru"),
    "again": ("fru", "ang"),
    "enough": ("ang", "fru"),
    "dare": ("ang",),
    "get out": ("ang",),
    "whatever": ("ang", "fru"),
    "can't believe": ("ang", "sur"),
    "scared": ("fea",),
    "afraid": ("fea",),
    "worried": ("fea", "sad"),
    "nervous": ("fea",),
    "wow": ("sur", "exc"),
    "really": ("sur",),
    "surprise": ("sur",),
    "disgusting": ("dis",),
    "gross": ("dis",),
    "fine": ("neu", "ang"),
    "okay": ("neu",),
    "suppose": ("neu",),
    "guess": ("neu", "sad"),
}
NEGATIONS: frozenset[str] = frozenset({"not", "no", "never", "nothing", "nobody", "none", "neither", "nor"})

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _normalised_text(transcript: str) -> str:
    return " ".join(_WORD.findall(transcript.lower().replace("\u2019", "'")))


def _in_classes(codes: Sequence[str], classes: Sequence[str]) -> list[str]:
    return [code for code in classes if code in codes]


def _names(codes: Sequence[str]) -> str:
    return ", ".join(emotion_name(code) for code in codes) if codes else "no particular emotion"


def acoustic_cues(
    levels: Mapping[str, str | None], classes: Sequence[str], phrases: Mapping[str, str] | None = None
) -> list[AcousticCue]:
    """One cue per measured feature, at exactly its measured level (so faithfulness is 1.0).

    ``phrases`` (cue -> measured value in words, from :func:`cotgen.acoustics.cue_phrases`) makes each
    observation cite its evidence; without them the observation only says where the level points.
    """
    phrases = phrases or {}
    cues = []
    for cue in ACOUSTIC_CUES:
        level = levels.get(cue)
        if level is None or level not in CUE_SUGGESTS[cue]:
            continue
        suggests = _in_classes(CUE_SUGGESTS[cue][level], classes)
        cues.append(
            AcousticCue(
                cue=cue,
                level=level,
                observation=_observation(phrases.get(cue), suggests),
                suggests=suggests,
            )
        )
    return cues


def _observation(phrase: str | None, suggests: Sequence[str]) -> str:
    measured = phrase[0].upper() + phrase[1:] if phrase else "Measured against this speaker's other utterances"
    return f"{measured}; this points to {_names(suggests)}."


def lexical_cues(transcript: str | None, classes: Sequence[str]) -> list[LexicalCue]:
    """Emotion words and phrases, negation, and ``!``/``?`` found in the transcript (at least one when it has text)."""
    if not transcript or not transcript.strip():
        return []
    text = f" {_normalised_text(transcript)} "
    cues: list[LexicalCue] = []
    found = sorted((text.index(f" {phrase} "), phrase) for phrase in LEXICON if f" {phrase} " in text)
    for _, phrase in found:
        suggests = _in_classes(LEXICON[phrase], classes)
        cues.append(
            LexicalCue(
                cue=f'"{phrase}"',
                observation=f"The word choice points to {_names(suggests)}.",
                suggests=suggests,
            )
        )
    negated = sorted({w for w in text.split() if w in NEGATIONS or w.endswith("n't")})
    if negated:
        cues.append(
            LexicalCue(
                cue="negation",
                observation=f"Negation ({', '.join(negated)}) frames the statement as a denial or complaint.",
                suggests=_in_classes(("ang", "sad", "fru"), classes),
            )
        )
    if "!" in transcript:
        cues.append(
            LexicalCue(
                cue="exclamation mark",
                observation="The sentence is exclaimed, which raises the intensity.",
                suggests=_in_classes(_HIGH_AROUSAL, classes),
            )
        )
    if "?" in transcript:
        cues.append(
            LexicalCue(
                cue="question mark",
                observation="The sentence is a question.",
                suggests=_in_classes(("sur", "neu"), classes),
            )
        )
    if not cues:
        cues.append(
            LexicalCue(
                cue="plain wording",
                observation="No emotion words, negation or emphatic punctuation; the wording itself is neutral.",
                suggests=_in_classes(("neu",), classes),
            )
        )
    return cues


def cue_scores(cues: Sequence[AcousticCue | LexicalCue], classes: Sequence[str]) -> dict[str, float]:
    """Votes per class from the cues' ``suggests`` (each cue spreads one vote), plus 0.5 so no class is impossible."""
    scores = dict.fromkeys(classes, 0.5)
    for cue in cues:
        for code in cue.suggests:
            scores[code] += 1.0 / len(cue.suggests)
    return scores


def _seed(utterance_id: str, sample: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{utterance_id}\0{sample}".encode()).digest()[:8], "big")


def predicted_distribution(
    utterance_id: str, sample: int, cues: Sequence[AcousticCue | LexicalCue], classes: Sequence[str]
) -> dict[str, float]:
    """A Dirichlet draw centred on the cue scores, seeded by (id, sample): reproducible, different per sample."""
    scores = cue_scores(cues, classes)
    total = sum(scores.values())
    alpha = np.array([4.0 * len(classes) * scores[code] / total for code in classes])
    draw = np.random.default_rng(_seed(utterance_id, sample)).dirichlet(alpha)
    return {code: float(p) for code, p in zip(classes, draw)}


def ambiguity(distribution: Mapping[str, float]) -> AmbiguityStage:
    """Ambiguity from the distribution by the consistency rule (:func:`cotgen.records.consistency.expected_level`)."""
    ranked = sorted(distribution, key=lambda code: (-distribution[code], list(distribution).index(code)))
    level = expected_level(distribution)
    if level == "low":
        competing = [code for code in ranked if distribution[code] >= 0.2][:2] or ranked[:1]
    else:
        competing = [code for code in ranked if distribution[code] >= 0.15] or ranked[:2]
        if len(competing) < 2:
            competing = ranked[:2]
    # Reasoned from the cues, never narrated from the target: no listeners, no votes, no shares (records/leakage.py).
    names = " and ".join(emotion_name(code) for code in competing)
    explanation = {
        "low": f"The cues mostly agree; the reading is {emotion_name(ranked[0])}.",
        "medium": f"The cues lean one way but not all of them; {names} compete.",
        "high": f"The cues conflict and no reading dominates; {names} compete.",
    }[level]
    return AmbiguityStage(level=level, competing=competing, explanation=explanation)


def _fallback_cue() -> AcousticCue:
    # Every trace needs an acoustic cue; with nothing measured, say so rather than invent a level.
    return AcousticCue(
        cue="voice_quality",
        level="moderate",
        observation="No acoustic cue could be measured for this speaker; nothing stands out.",
        suggests=[],
    )


def write_trace(
    utterance_id: str,
    transcript: str | None,
    human_distribution: Mapping[str, float],
    levels: Mapping[str, str | None],
    mode: Mode,
    sample: int,
    phrases: Mapping[str, str] | None = None,
) -> Trace:
    """The template trace of one (utterance, sample): rationalize explains the human distribution, predict draws one."""
    classes = list(human_distribution)
    acoustic = acoustic_cues(levels, classes, phrases) or [_fallback_cue()]
    lexical = lexical_cues(transcript, classes)
    if mode == "rationalize":
        distribution = {code: float(human_distribution[code]) for code in classes}
    else:
        distribution = predicted_distribution(utterance_id, sample, [*acoustic, *lexical], classes)
    distribution = round_distribution(distribution)
    acoustic_codes = sorted({c for cue in acoustic for c in cue.suggests}, key=classes.index)
    lexical_codes = sorted({c for cue in lexical for c in cue.suggests}, key=classes.index)
    lexical_summary = (
        f"The words point to {_names(lexical_codes)}." if transcript else "There is no transcript to read."
    )
    return Trace(
        acoustic=AcousticStage(cues=acoustic, summary=f"Acoustically the voice points to {_names(acoustic_codes)}."),
        lexical=LexicalStage(cues=lexical, summary=lexical_summary),
        ambiguity=ambiguity(distribution),
        distribution=distribution,
    )


def template_ref(mode: Mode) -> TemplateRef:
    """What made a template trace: the built-in rules, hashed so a change to them changes every record's hash."""
    rules = json.dumps(
        {"mode": mode, "cue_suggests": CUE_SUGGESTS, "lexicon": LEXICON, "negations": sorted(NEGATIONS)},
        sort_keys=True,
    )
    return TemplateRef(name=f"builtin:template-teacher/{mode}", sha256=hashlib.sha256(rules.encode()).hexdigest())
