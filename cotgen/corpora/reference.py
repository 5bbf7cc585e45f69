"""Each utterance's reference label: the corpus's own single label, which WA and UA are reported against.

Published accuracies on these corpora compare with the label the corpus itself assigns, not with a
recount of the votes: IEMOCAP's header label (``exc`` read as ``hap`` when the run folds them, as
the four-class benchmark does), MSP-Podcast's consensus ``EmoClass`` and CREMA-D's intended
emotion. The loaders keep these in ``meta``; a corpus without one (the demo, a manifest) falls back
to the majority of the votes. None when the label is outside the run's classes, absent ("no
agreement") or the votes tie.
"""

from __future__ import annotations

from collections.abc import Sequence

from cotgen.corpora import crema_d, iemocap, msp_podcast
from cotgen.records.utterance import Utterance

# corpus name -> the meta field its loader keeps the reference label in
REFERENCE_FIELDS: dict[str, str] = {
    iemocap.NAME: "header_label",
    msp_podcast.NAME: "emo_class",
    crema_d.NAME: "intended_emotion",
}
# Corpus codes read as another class when the run has no class of their own (IEMOCAP's excited as happy).
READ_AS: dict[str, str] = {"exc": "hap"}


def reference_label(utterance: Utterance, classes: Sequence[str]) -> str | None:
    """The utterance's reference label as one of ``classes``, or None (see the module docstring)."""
    field = REFERENCE_FIELDS.get(utterance.corpus)
    if field is None:
        return utterance.majority
    raw = utterance.meta.get(field)
    if not isinstance(raw, str):
        return None
    code = msp_podcast.EMO_CLASS_CODES.get(raw, raw) if utterance.corpus == msp_podcast.NAME else raw
    if code not in classes:
        code = READ_AS.get(code, code)
    return code if code in classes else None


def reference_source(corpus: str) -> str:
    """What the reference label is for ``corpus``, in words (for the report)."""
    field = REFERENCE_FIELDS.get(corpus)
    return f"{corpus} {field}" if field else "vote majority (the corpus has no label of its own)"
