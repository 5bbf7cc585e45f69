"""What the single-label corpora (MELD, RAVDESS, ESD, TESS) share: one label becomes a one-hot distribution.

These corpora give each clip one label (the acted, intended emotion, or MELD's majority label), so their
distributions carry no information about disagreement. Their entries are flagged ``single_label`` so the
summary, ``utterances.jsonl`` and the dataset card say so, and nobody trains an ambiguity model on them
believing otherwise. ``n_annotators`` is 0: no vote counts stand behind the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cotgen.corpora.entries import RawEntry

UNEXPECTED_NAME = "unexpected file name"


def one_hot_entry(
    utterance_id: str,
    where: str,
    audio: Path,
    code: str,
    *,
    speaker: str | None = None,
    gender: str | None = None,
    session: str | None = None,
    transcript: str | None = None,
    meta: dict[str, Any] | None = None,
    dialogue: str | None = None,
    turn: float | None = None,
) -> RawEntry:
    """A raw entry whose only label ``code`` is also its reference for fixed class sets."""
    return RawEntry(
        id=utterance_id,
        where=where,
        audio=audio,
        vote_counts={code: 1.0},
        n_annotators=0,
        reference=code,
        speaker=speaker,
        gender=gender,
        session=session,
        transcript=transcript,
        meta=dict(meta or {}),
        single_label=True,
        dialogue=dialogue,
        turn=turn,
    )
