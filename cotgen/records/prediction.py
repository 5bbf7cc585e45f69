"""The line model of ``predictions.jsonl``: written by ``cotgen predict``, read by eval and pairs.

One line per (id, sample): the student's generated text for one utterance, and the distribution
parsed from its ``<distribution>`` tag — or, when the text is not a four-stage trace (or no text
came back at all), a null distribution and the reason in ``error``. A failed item is a line like
any other, so every requested (id, sample) ends in the file and nothing is dropped silently.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cotgen.records.run_records import Usage
from cotgen.records.trace import SCHEMA_VERSION

PREDICTIONS_FILE = "predictions.jsonl"


class PredictionRecord(BaseModel):
    """One student answer: a line of ``predictions.jsonl``. Samples are numbered 1..K per utterance."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    sample: int = Field(ge=1)
    model: str = Field(description="'openai:MODEL' as given to --model (the served model or LoRA adapter name).")
    text: str = Field(description="The generated text; empty when no answer came back (see error).")
    distribution: dict[str, float] | None = Field(
        description="Class code -> probability parsed from the <distribution> tag (renormalised); null when unparsed."
    )
    error: str | None = Field(
        description=(
            "Null when the text parsed; else 'REASON: detail' with REASON one of unparsed, truncated, refusal, "
            "timeout, rate_limited, server_error, malformed_response, request_refused, audio."
        )
    )
    usage: Usage
    fingerprint: str = Field(description="sha256 of what decided the answer: model, server, prompt, audio, sampling.")
    schema_version: str = SCHEMA_VERSION
