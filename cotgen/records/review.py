"""A curator's verdict on one trace: a line of ``review.jsonl``, written by the ``cotgen review`` page.

The page runs in a browser and the export reads its file, so the model lives here, below both: export
(a lower layer than the review package) reads the marks without importing upwards. One line per
reviewed trace, keyed like the trace it judges by ``(id, sample)`` and carrying that trace's input fingerprint, so a
verdict on a trace that a rebuild has since replaced is never applied to the new text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Verdict = Literal["accept", "reject", "flag"]
VERDICTS: tuple[Verdict, ...] = ("accept", "reject", "flag")
REVIEW_FILE = "review.jsonl"


class ReviewRecord(BaseModel):
    """A line of ``review.jsonl``: accept, reject or flag (keep, but look again) one trace, with a note."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="The utterance id of the reviewed trace.")
    sample: int = Field(ge=0, description="The reviewed trace's sample: 0 the gold trace, 1..K predict samples.")
    verdict: Verdict = Field(description="reject leaves the trace and every record carrying it out of an export.")
    note: str = Field(default="", description="The curator's note (free text).")
    reviewed_at: AwareDatetime = Field(description="When the verdict was given (ISO 8601, with a time zone).")
    fingerprint: str | None = Field(
        default=None,
        description="The reviewed trace's input fingerprint (as in traces.jsonl): a mark whose trace has been redone "
        "since (another fingerprint) judged other text and is not applied. Null in marks written without one.",
    )
