"""Records of a run folder: one pydantic model per output line (docs/architecture.md, "Output folder of a run").

Every stage writes and reads these models, so a field renamed here is renamed everywhere, and the
JSON Schemas in ``schemas/`` are generated from them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cotgen.records.trace import SCHEMA_VERSION, FaithfulnessParts, Trace

Mode = Literal["rationalize", "predict"]
RejectReason = Literal[
    "timeout",
    "rate_limited",
    "server_error",
    "malformed_json",
    "schema_invalid",
    "distribution_invalid",
    "truncated",
    "refusal",
    "unfaithful",
    "features",
    "distribution_mismatch",
    "inconsistent",
    "leaks_target",
    "request_refused",
]
FINGERPRINT_DESCRIPTION = (
    "sha256 over everything that decided this record (cotgen.records.fingerprint): transcript, human distribution "
    "and class set, the cues and features shown, teacher and server, template hashes, generation parameters. "
    "Null in records written before fingerprints existed (a rerun redoes them)."
)
Message = dict[str, Any]


class TemplateRef(BaseModel):
    """Which prompt template made a record: its name and the sha256 of its content."""

    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str


class Usage(BaseModel):
    """Tokens spent on a record (all attempts, repairs included); zero for cached or offline answers."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    cached: bool = False


class TraceRecord(BaseModel):
    """One valid teacher trace: a line of ``traces.jsonl``. Sample 0 is the gold (rationalize) trace."""

    model_config = ConfigDict(extra="forbid")

    id: str
    sample: int = Field(ge=0)
    mode: Mode
    teacher: str = Field(description="'template' or 'openai:MODEL'.")
    template: TemplateRef
    trace: Trace = Field(description="Structured trace; its distribution is the one printed in `text`.")
    text: str = Field(description="Rendered trace with the four tags.")
    distribution: dict[str, float]
    kl: float = Field(description="KL(human || trace) in nats, 1e-6 smoothing.")
    js: float = Field(description="JS(human, trace) in bits, unsmoothed.")
    faithfulness: float | None = Field(description="The gate's score: the mean of the defined faithfulness_parts.")
    faithfulness_parts: FaithfulnessParts | None = Field(
        default=None, description="Exact and within-one-step agreement of the cited cues, salient-cue recall."
    )
    coherence: float | None = Field(
        default=None,
        description="Evidence-distribution coherence of the cited cues' suggests (cotgen.records.consistency); "
        "null when no cue suggests a class.",
    )
    vocal_events: list[str] = Field(
        default_factory=list,
        description="Vocal events the trace cites as heard (laughter, sigh...; --send-audio): not measured, "
        "left out of faithfulness.",
    )
    usage: Usage
    fingerprint: str | None = Field(default=None, description=FINGERPRINT_DESCRIPTION)
    schema_version: str = SCHEMA_VERSION


class RejectRecord(BaseModel):
    """An (id, sample) that yielded no valid trace: a line of ``rejects.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    sample: int = Field(ge=0)
    mode: Mode
    stage: str = Field(description="Where it failed: 'features', 'teacher', 'validation', 'faithfulness'.")
    reason: RejectReason
    detail: str = ""
    attempts: int = 0
    raw: str | None = Field(default=None, description="The last raw response text, when there was one.")
    fingerprint: str | None = Field(default=None, description=FINGERPRINT_DESCRIPTION)
    schema_version: str = SCHEMA_VERSION


class SFTRecord(BaseModel):
    """A line of ``sft.jsonl``: TRL conversational prompt/completion with the gold trace as the answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    audio: str
    prompt: list[Message] = Field(description="System + user messages (user: audio part + text part).")
    completion: list[Message] = Field(description="One assistant message holding the gold trace text.")
    distribution: dict[str, float] = Field(description="The human distribution.")
    schema_version: str = SCHEMA_VERSION


class DPORecord(BaseModel):
    """A line of ``dpo.jsonl``: TRL conversational preference format plus scores and sources."""

    model_config = ConfigDict(extra="forbid")

    id: str
    audio: str
    prompt: list[Message]
    chosen: list[Message] = Field(description="One assistant message.")
    rejected: list[Message] = Field(description="One assistant message.")
    human_distribution: dict[str, float]
    metric: Literal["kl", "js"]
    score_chosen: float
    score_rejected: float
    source_chosen: str = Field(description="gold, sample:K, rollout:N or corrupt:KIND.")
    source_rejected: str
    schema_version: str = SCHEMA_VERSION


class GRPORecord(BaseModel):
    """A line of ``grpo.jsonl``: the student prompt and what the reward functions read."""

    model_config = ConfigDict(extra="forbid")

    id: str
    audio: str
    prompt: list[Message]
    target_distribution: dict[str, float]
    gold_trace: str | None = Field(description="The gold trace text, for variants that inject it into the group.")
    cue_levels: dict[str, str | None] | None = Field(
        default=None,
        description="The clip's measured cue levels (cue -> level, null where unmeasured) the cue-faithfulness "
        "reward compares a completion's claims with; null when the clip has no measurement.",
    )
    stages: list[str] | None = Field(
        default=None,
        description="The run's order of the reasoning stages (cotgen build --stages), which the format reward "
        "and the parser follow; null reads as the default acoustic, lexical, ambiguity.",
    )
    schema_version: str = SCHEMA_VERSION
