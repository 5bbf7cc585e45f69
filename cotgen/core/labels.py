"""Emotion class codes shared by every corpus.

Codes are three lowercase letters (the first three letters of the English label, as IEMOCAP's
convention); names are what prompts and dataset cards show to people and models.
"""

EMOTION_NAMES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
    "sur": "surprised",
    "fea": "fearful",
    "dis": "disgusted",
    "con": "contempt",
    "oth": "other",
}


def emotion_name(code: str) -> str:
    """Human-readable name of a class code; unknown codes (custom manifests) name themselves."""
    return EMOTION_NAMES.get(code, code)
