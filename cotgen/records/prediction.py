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


class LogprobReadout(BaseModel):
    """The class distribution read from the logprobs at the label position (``predict --readout logprobs``).

    Beside the distribution the model wrote (``distribution`` of the line), so eval can score either.
    """

    model_config = ConfigDict(extra="forbid")

    distribution: dict[str, float] | None = Field(
        description="Class code -> probability of its label token, renormalised over the classes; null on error."
    )
    error: str | None = Field(
        description=(
            "Null when read; else 'REASON: detail', REASON one of no_logprobs, no_label (a parse failure), "
            "label_split (a label of several tokens, refused), label_unknown."
        )
    )
    outside_mass: float | None = Field(
        default=None,
        description="Probability of the label position on no class token (other tokens or beyond the top-k).",
    )
    missing: list[str] = Field(
        default_factory=list, description="Classes whose label token was not among the top-k (counted as 0)."
    )
    top_k: int = Field(ge=1, description="top_logprobs asked of the server.")
    token: str | None = Field(default=None, description="The token the model wrote at the label position.")


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
    logprobs: LogprobReadout | None = Field(
        default=None, description="The logprob readout at the label position; null unless asked (--readout logprobs)."
    )
    fingerprint: str = Field(description="sha256 of what decided the answer: model, server, prompt, audio, sampling.")
    schema_version: str = SCHEMA_VERSION
