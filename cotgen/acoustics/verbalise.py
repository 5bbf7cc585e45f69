"""Cue profiles in words: the short acoustic description a teacher prompt quotes.

Every phrase states the level first (what the trace must agree with for faithfulness) and, where a
number helps a reader judge it, the measured value; references are named so "high" is never read as
absolute ("high for this speaker", "for a female voice in this corpus").
"""

from __future__ import annotations

from cotgen.acoustics.cues import CueProfile

REFERENCE_PHRASES = {
    "speaker": "for this speaker",
    "corpus": "for this corpus",
}
GENDER_WORDS = {"F": "female", "M": "male"}
RANGE_WORDS = {
    "very low": "very narrow",
    "low": "narrow",
    "moderate": "moderate",
    "high": "wide",
    "very high": "very wide",
}
VARIATION_WORDS = {
    "very low": "very even",
    "low": "even",
    "moderate": "moderately varied",
    "high": "varied",
    "very high": "highly varied",
}
RATE_WORDS = {
    "very low": "speaking very slowly",
    "low": "speaking slowly",
    "moderate": "speaking at a moderate pace",
    "high": "speaking fast",
    "very high": "speaking very fast",
}
VOICE_WORDS = {
    "very low": "breathy or hoarse",
    "low": "slightly breathy",
    "moderate": "typical",
    "high": "clear",
    "very high": "very clear",
}
ENDING_WORDS = {"rising": "rising at the end", "falling": "falling at the end", "flat": "level at the end"}


def reference_phrase(profile: CueProfile, cue: str) -> str:
    """How the reference of a cue reads in a sentence."""
    reference = profile.reference.get(cue, "corpus")
    if reference == "gender":
        return f"for a {GENDER_WORDS.get(profile.gender or '', 'same-gender')} voice in this corpus"
    return REFERENCE_PHRASES[reference]


def _pitch_clause(profile: CueProfile) -> str:
    level, value, z = profile.levels["pitch"], profile.values["f0_median_hz"], profile.z["pitch"]
    if level is None or value is None:
        return "pitch not measurable"
    detail = f"median {value:.0f} Hz" + (f", {z:+.1f} SD" if z is not None else "")
    parts = [f"pitch {level} {reference_phrase(profile, 'pitch')} ({detail})"]
    ending = profile.levels["intonation"]
    if ending is not None:
        parts.append(ENDING_WORDS[ending])
    spread, semitones = profile.levels["pitch_variation"], profile.values["f0_range_st"]
    if spread is not None and semitones is not None:
        parts.append(f"range {RANGE_WORDS[spread]} ({semitones:.1f} semitones)")
    return ", ".join(parts)


def _loudness_clause(profile: CueProfile) -> str | None:
    level = profile.levels["loudness"]
    if level is None:
        return None
    variation = profile.levels["loudness_variation"]
    return f"loudness {level}" + (f", {VARIATION_WORDS[variation]}" if variation is not None else "")


def _rate_clause(profile: CueProfile) -> str | None:
    level, rate = profile.levels["speech_rate"], profile.values["speech_rate_syl_s"]
    if level is None or rate is None:
        return None
    return f"{RATE_WORDS[level]} ({rate:.1f} syllables/s)"


def _pause_clause(profile: CueProfile) -> str | None:
    fraction, count = profile.values["pause_fraction"], profile.values["pause_count"]
    if fraction is None or count is None:
        return None
    if count == 0:
        return "no long pauses"
    n = int(count)
    return f"{n} long pause{'s' if n > 1 else ''} ({100 * fraction:.0f}% of the speech, {profile.levels['pauses']})"


def _voice_clause(profile: CueProfile) -> str | None:
    level, hnr = profile.levels["voice_quality"], profile.values["hnr_db"]
    if level is None or hnr is None:
        return None
    return f"voice {VOICE_WORDS[level]} (HNR {hnr:.0f} dB, {level})"


def verbalise(profile: CueProfile) -> str:
    """One line describing the utterance's acoustic cues, clauses separated by semicolons."""
    clauses = [
        _pitch_clause(profile),
        _loudness_clause(profile),
        _rate_clause(profile),
        _pause_clause(profile),
        _voice_clause(profile),
    ]
    return "; ".join(clause for clause in clauses if clause)


def _signed(z: float | None) -> str:
    return f", {z:+.1f} SD" if z is not None else ""


# How a level reads against the speaker's own voice: a student hearing the clip can judge "higher than this
# speaker usually speaks" only against the speaker, so a speaker-relative level is said that way.
PITCH_VS_USUAL = {
    "very high": "much higher than this speaker usually speaks",
    "high": "higher than this speaker usually speaks",
    "moderate": "about where this speaker usually speaks",
    "low": "lower than this speaker usually speaks",
    "very low": "much lower than this speaker usually speaks",
}
LOUDNESS_VS_USUAL = {
    "very high": "much louder than this speaker usually speaks",
    "high": "louder than this speaker usually speaks",
    "moderate": "about as loud as this speaker usually speaks",
    "low": "quieter than this speaker usually speaks",
    "very low": "much quieter than this speaker usually speaks",
}


def relative_level(profile: CueProfile, cue: str, vs_usual: dict[str, str]) -> str:
    """A cue's level in words against the reference actually used: the speaker's usual voice when the speaker
    has enough clips, else "high for a female voice in this corpus" (or "for this corpus")."""
    level = profile.levels[cue] or "moderate"
    if profile.reference.get(cue, "corpus") == "speaker":
        return vs_usual[level]
    return f"{level} {reference_phrase(profile, cue)}"


def cue_phrases(profile: CueProfile) -> dict[str, str]:
    """One phrase per measured cue, with its value and reference: what a trace's cue observation cites.

    Traces name one cue per line, so each phrase stands alone ("pitch higher than this speaker usually speaks
    (median 241 Hz, +1.2 SD)"): the level in words against the reference actually used first, the measured numbers
    in a parenthesis, which the training text drops (:mod:`cotgen.records.measurements`); cues whose feature was
    not measured are left out.
    """
    levels, values, z = profile.levels, profile.values, profile.z
    ref = {cue: reference_phrase(profile, cue) for cue in profile.levels}
    candidates: dict[str, tuple[float | None, str]] = {}
    if (v := values.get("f0_median_hz")) is not None:
        if levels.get("pitch") is not None:
            detail = f"median {v:.0f} Hz{_signed(z.get('pitch'))}"
            candidates["pitch"] = (v, f"pitch {relative_level(profile, 'pitch', PITCH_VS_USUAL)} ({detail})")
    if (v := values.get("f0_range_st")) is not None and levels.get("pitch_variation") is not None:
        words = RANGE_WORDS[levels["pitch_variation"]]
        candidates["pitch_variation"] = (v, f"pitch range {words} ({v:.1f} semitones) {ref['pitch_variation']}")
    if (v := values.get("f0_final_slope_st_s")) is not None and levels.get("intonation") is not None:
        candidates["intonation"] = (v, f"pitch {ENDING_WORDS[levels['intonation']]} ({v:+.1f} semitones/s)")
    if (v := values.get("intensity_mean_db")) is not None:
        if levels.get("loudness") is not None:
            detail = f"mean intensity {v:.0f} dB{_signed(z.get('loudness'))}"
            noun = "voice" if profile.reference.get("loudness", "corpus") == "speaker" else "loudness"
            candidates["loudness"] = (v, f"{noun} {relative_level(profile, 'loudness', LOUDNESS_VS_USUAL)} ({detail})")
    if (v := values.get("intensity_std_db")) is not None and levels.get("loudness_variation") is not None:
        words = VARIATION_WORDS[levels["loudness_variation"]]
        candidates["loudness_variation"] = (v, f"loudness {words} (SD {v:.1f} dB) {ref['loudness_variation']}")
    if (rate := _rate_clause(profile)) is not None:
        candidates["speech_rate"] = (values.get("speech_rate_syl_s"), f"{rate} {ref['speech_rate']}")
    if (pauses := _pause_clause(profile)) is not None:
        candidates["pauses"] = (values.get("pause_fraction"), pauses)
    if (voice := _voice_clause(profile)) is not None:
        candidates["voice_quality"] = (values.get("hnr_db"), voice)
    return {cue: phrase for cue, (_, phrase) in candidates.items() if levels.get(cue) is not None}
