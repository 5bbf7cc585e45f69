"""The cue levels a teacher prompt shows, read back from its words, so the loopback server cites them.

The build quotes an utterance's measured cues as one line written by
:func:`cotgen.acoustics.verbalise.verbalise` ("pitch high for this speaker (median 231 Hz, +1.1 SD),
rising at the end, range wide (9.3 semitones); loudness very high, varied; speaking fast (5.1
syllables/s); 2 long pauses (12% of the speech, moderate); voice clear (HNR 14 dB, high)"). A real
teacher reads that line and cites those levels; the loopback's stock answer does the same, so a
build at the default ``--min-faithfulness`` keeps its traces and a test that wants unfaithful ones
says so with its own responder. The patterns are built from verbalise's own word tables, so a
rewording there is read here too (and a test fails loudly if a clause stops parsing).

One measured level is not in the words: "no long pauses" hides the pause level, which for a zero pause
fraction is very low, low or moderate (depending on how many of the speaker's utterances pause), so
it is cited as ``low``, within one step of all three and on the right side of a salient "very low".
"""

from __future__ import annotations

import re

from cotgen.acoustics.verbalise import ENDING_WORDS, RANGE_WORDS, RATE_WORDS, VARIATION_WORDS, VOICE_WORDS
from cotgen.records.trace import ACOUSTIC_CUES, LEVELS, AcousticCue

NO_PAUSES_LEVEL = "low"


def _either(words: dict[str, str]) -> str:
    """A regex group matching any phrase of a verbalise table (longest first, so "very wide" beats "wide")."""
    return "(" + "|".join(re.escape(w) for w in sorted(words.values(), key=len, reverse=True)) + ")"


_LEVEL = _either({level: level for level in LEVELS})
_PITCH = re.compile(rf"^pitch {_LEVEL}\b")
_ENDING = re.compile(_either(ENDING_WORDS))
_RANGE = re.compile(rf"\brange {_either(RANGE_WORDS)} \(")
_LOUDNESS = re.compile(rf"^loudness {_LEVEL}(?:, {_either(VARIATION_WORDS)})?$")
_RATE = re.compile(rf"^{_either(RATE_WORDS)} \(")
_PAUSES = re.compile(rf"\(\d+% of the speech, {_LEVEL}\)$")
_VOICE = re.compile(rf"^voice {_either(VOICE_WORDS)} \(HNR -?\d+ dB, {_LEVEL}\)$")


def _level_of(words: dict[str, str], phrase: str) -> str:
    return next(level for level, word in words.items() if word == phrase)


def shown_levels(text: str) -> dict[str, str]:
    """Cue -> level as the prompt's verbalised cue line states it (its last line starting "pitch "); {} if none."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("pitch ")]
    if not lines:
        return {}
    found: dict[str, str] = {}
    for clause in lines[-1].split("; "):
        if m := _PITCH.match(clause):
            found["pitch"] = m[1]
            if ending := _ENDING.search(clause):
                found["intonation"] = _level_of(ENDING_WORDS, ending[1])
            if spread := _RANGE.search(clause):
                found["pitch_variation"] = _level_of(RANGE_WORDS, spread[1])
        elif m := _LOUDNESS.match(clause):
            found["loudness"] = m[1]
            if m[2]:
                found["loudness_variation"] = _level_of(VARIATION_WORDS, m[2])
        elif m := _RATE.match(clause):
            found["speech_rate"] = _level_of(RATE_WORDS, m[1])
        elif m := _PAUSES.search(clause):
            found["pauses"] = m[1]
        elif clause == "no long pauses":
            found["pauses"] = NO_PAUSES_LEVEL
        elif m := _VOICE.match(clause):
            found["voice_quality"] = m[2]
    return {cue: found[cue] for cue in ACOUSTIC_CUES if cue in found}


def stock_cues(text: str, top: str) -> list[AcousticCue]:
    """The stock answer's acoustic cues: the levels the prompt shows, else the fixed pitch moderate, loudness high."""
    levels = shown_levels(text)
    if not levels:
        return [
            AcousticCue(cue="pitch", level="moderate", observation="Pitch near the speaker's usual.", suggests=[]),
            AcousticCue(cue="loudness", level="high", observation="Louder than usual.", suggests=[top]),
        ]
    return [
        AcousticCue(cue=cue, level=level, observation=f"The {cue.replace('_', ' ')} is {level}.", suggests=[top])
        for cue, level in levels.items()
    ]
