"""Reading a run folder's record files (DESIGN.md, "Output folder of a run") for the late stages.

Export, stats, the dataset card and publishing all read the same files; reading them here, with
the real record models, means a malformed line fails once, with its file and line number, instead
of surfacing as a KeyError deep inside a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError

from cotgen.errors import CotgenError
from cotgen.records import DPORecord, GRPORecord, SFTRecord, TraceRecord
from cotgen.utterance import Utterance, read_utterances

RecordT = TypeVar("RecordT", bound=BaseModel)

UTTERANCES = "utterances.jsonl"
TRACES = "traces.jsonl"
SFT = "sft.jsonl"
DPO = "dpo.jsonl"
GRPO = "grpo.jsonl"
FEATURES = "features.parquet"
RECORD_FILES: tuple[str, ...] = (SFT, DPO, GRPO)


def iter_records(path: Path, model: type[RecordT]) -> Iterator[RecordT]:
    """Validate each non-blank line of a JSONL file against ``model``; a bad line names file and line."""
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield model.model_validate_json(line)
            except ValidationError as exc:
                first = str(exc).splitlines()[0]
                raise CotgenError(f"{path}:{lineno}: not a valid {model.__name__} ({first})") from None


def read_records(path: Path, model: type[RecordT]) -> list[RecordT]:
    """All records of a file, or an empty list when the stage that writes it has not run."""
    return list(iter_records(path, model)) if path.exists() else []


@dataclass
class RunData:
    """Everything the late stages read from a run folder; absent files give empty lists."""

    run_dir: Path
    utterances: list[Utterance]
    traces: list[TraceRecord] = field(default_factory=list)
    sft: list[SFTRecord] = field(default_factory=list)
    dpo: list[DPORecord] = field(default_factory=list)
    grpo: list[GRPORecord] = field(default_factory=list)

    @property
    def by_id(self) -> dict[str, Utterance]:
        """Utterances keyed by id, to join records to their speaker, session and corpus."""
        return {utt.id: utt for utt in self.utterances}

    @property
    def corpus(self) -> str:
        """The corpus name the utterances carry (the first one's; a run holds one corpus)."""
        return self.utterances[0].corpus if self.utterances else self.run_dir.name

    @property
    def classes(self) -> list[str]:
        """The run's class codes, in distribution order."""
        return self.utterances[0].classes if self.utterances else []


def load_run(run_dir: Path) -> RunData:
    """Read a run folder; it must exist and hold ``utterances.jsonl``."""
    if not run_dir.is_dir():
        raise CotgenError(f"{run_dir}: no such run folder (run `cotgen build` first, or pass --in)")
    return RunData(
        run_dir=run_dir,
        utterances=read_utterances(run_dir / UTTERANCES),
        traces=read_records(run_dir / TRACES, TraceRecord),
        sft=read_records(run_dir / SFT, SFTRecord),
        dpo=read_records(run_dir / DPO, DPORecord),
        grpo=read_records(run_dir / GRPO, GRPORecord),
    )


def read_features(run_dir: Path) -> pd.DataFrame | None:
    """``features.parquet`` as a frame, or None when the features stage has not run."""
    path = run_dir / FEATURES
    return pd.read_parquet(path) if path.exists() else None
