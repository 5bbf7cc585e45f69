"""The utterance record: one line of ``utterances.jsonl``, the human side of every comparison.

Every later stage compares a trace's distribution against ``distribution`` here, so the model
checks the invariants itself (probabilities summing to 1, ``majority`` its argmax or null on a tie)
instead of trusting each corpus loader to get them right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cotgen.core.durable_files import write_jsonl_atomic
from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_models

SUM_TOLERANCE = 1e-6


class VAD(BaseModel):
    """Dimensional ratings on the corpus's own scale (IEMOCAP 1-5, MSP-Podcast 1-7)."""

    model_config = ConfigDict(extra="forbid")

    valence: float | None = None
    arousal: float | None = None
    dominance: float | None = None


def majority_of(distribution: Mapping[str, float], tol: float = 1e-9) -> str | None:
    """The argmax class code, or None when two or more classes share the top probability."""
    if not distribution:
        return None
    top = max(distribution.values())
    winners = [code for code, p in distribution.items() if abs(p - top) <= tol]
    return winners[0] if len(winners) == 1 else None


def distribution_from_counts(counts: Mapping[str, float], classes: Iterable[str]) -> dict[str, float] | None:
    """Normalise vote mass over ``classes`` (in that order); None when the in-set mass is zero."""
    classes = list(classes)
    total = sum(counts.get(code, 0.0) for code in classes)
    if total <= 0:
        return None
    return {code: counts.get(code, 0.0) / total for code in classes}


class ContextTurn(BaseModel):
    """One earlier turn of the same dialogue, as prompts quote it: who spoke and what they said."""

    model_config = ConfigDict(extra="forbid")

    speaker: str | None = None
    transcript: str


class Utterance(BaseModel):
    """One utterance of a corpus with its human label distribution (docs/architecture.md field conventions)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    corpus: str
    audio: str = Field(description="Absolute path of the audio file.")
    speaker: str | None = None
    gender: Literal["F", "M"] | None = None
    session: str | None = None
    transcript: str | None = None
    votes: list[list[str]] | None = Field(
        default=None, description="Per-annotator label lists where the corpus has them."
    )
    vote_counts: dict[str, float] = Field(description="Class code -> (weighted) vote count.")
    distribution: dict[str, float] = Field(description="Class code -> probability over the run's class set.")
    majority: str | None = Field(description="Argmax of distribution; null on a tie.")
    n_annotators: int = Field(ge=0)
    vad: VAD | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    # Written only when set, so corpora and runs without them keep their utterances.jsonl byte for byte.
    single_label: bool = Field(
        default=False,
        exclude_if=lambda value: not value,
        description="True when the corpus gives one label per utterance (acted corpora): not ambiguity data.",
    )
    context: list[ContextTurn] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The previous turns of the same dialogue shown in prompts (build --context K), oldest first.",
    )

    @model_validator(mode="after")
    def _check_distribution(self) -> Utterance:
        if not self.distribution:
            raise ValueError("distribution is empty")
        for code, p in self.distribution.items():
            if not (0.0 <= p <= 1.0) or math.isnan(p):
                raise ValueError(f"distribution[{code!r}] = {p} is not a probability")
        total = sum(self.distribution.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ValueError(f"distribution sums to {total:.6f}, not 1")
        expected = majority_of(self.distribution)
        if self.majority != expected:
            raise ValueError(f"majority is {self.majority!r} but the distribution's argmax is {expected!r}")
        return self

    @property
    def classes(self) -> list[str]:
        """The run's class codes, in the order of the distribution."""
        return list(self.distribution)


def write_utterances(path: Path, utterances: Iterable[Utterance]) -> int:
    """Write utterances as JSONL (atomically: a temporary file renamed into place); returns the count."""
    return write_jsonl_atomic(path, utterances)


def iter_utterances(path: Path) -> Iterator[Utterance]:
    """Read ``utterances.jsonl`` lazily; a bad line raises a CotgenError naming file and line."""
    if not path.exists():
        raise CotgenError(f"{path}: no such file (run `cotgen corpus` or `cotgen build` first)")
    for _, utterance in iter_models(path, Utterance):
        yield utterance


def read_utterances(path: Path) -> list[Utterance]:
    """All utterances of a file, in file order."""
    return list(iter_utterances(path))
