"""Reading a run folder's record files (docs/architecture.md, "Output folder of a run") for the late stages.

Export, stats, the dataset card and publishing all read the same files; reading them here, with
the real record models, means a malformed line fails once, with its file and line number, instead
of surfacing as a KeyError deep inside a writer.

A run of 100,000 utterances holds gigabytes of records (every trace's text, every prompt), so
nothing here loads a file whole: :class:`RecordFile` streams its records from disk each time it
is iterated, and the late stages keep only running sums, arrays of numbers and a compact id index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_models
from cotgen.records.run_records import DPORecord, GRPORecord, SFTRecord, TraceRecord
from cotgen.records.utterance import Utterance, iter_utterances

if TYPE_CHECKING:
    import pandas as pd

RecordT = TypeVar("RecordT", bound=BaseModel)

UTTERANCES = "utterances.jsonl"
TRACES = "traces.jsonl"
SFT = "sft.jsonl"
DPO = "dpo.jsonl"
GRPO = "grpo.jsonl"
FEATURES = "features.parquet"
RECORD_FILES: tuple[str, ...] = (SFT, DPO, GRPO)


def parse_record(line: str | bytes, model: type[RecordT], path: Path, lineno: int) -> RecordT:
    """Validate one JSONL line against ``model``; a bad line names file and line."""
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise CotgenError(f"{path}:{lineno}: not a valid {model.__name__} ({first})") from None


def iter_records(path: Path, model: type[RecordT]) -> Iterator[RecordT]:
    """Validate each non-blank line of a JSONL file against ``model``; a bad line names file and line."""
    for _, record in iter_models(path, model):
        yield record


def count_lines(path: Path) -> int:
    """Non-blank lines of a file (0 when it is absent): its record count, without parsing a record."""
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


class RecordFile(Generic[RecordT]):
    """One JSONL record file of a run, streamed from disk each time it is iterated.

    An absent file reads as empty (the stage that writes it has not run). ``len()`` counts lines
    and truth tests look for a first line, so neither parses or holds a record.
    """

    def __init__(self, path: Path, model: type[RecordT]) -> None:
        self.path = path
        self.model = model

    def __iter__(self) -> Iterator[RecordT]:
        if self.path.exists():
            yield from iter_records(self.path, self.model)

    def __len__(self) -> int:
        return count_lines(self.path)

    def __bool__(self) -> bool:
        if not self.path.exists():
            return False
        with self.path.open("rb") as handle:
            return any(line.strip() for line in handle)

    def validate(self) -> int:
        """Read every record, raising on the first bad line; returns how many there are."""
        return sum(1 for _ in self)

    def first(self) -> RecordT | None:
        """The file's first record, or None when it has none."""
        return next(iter(self), None)


class UtteranceFile(RecordFile[Utterance]):
    """``utterances.jsonl``: read with the utterance reader, whose errors say what the file should hold."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, Utterance)

    def __iter__(self) -> Iterator[Utterance]:
        return iter_utterances(self.path)


@dataclass
class RunData:
    """The record files the late stages read from a run folder, each streamed when iterated."""

    run_dir: Path
    utterances: UtteranceFile
    traces: RecordFile[TraceRecord]
    sft: RecordFile[SFTRecord]
    dpo: RecordFile[DPORecord]
    grpo: RecordFile[GRPORecord]

    @cached_property
    def _first_utterance(self) -> Utterance | None:
        return self.utterances.first()

    @property
    def corpus(self) -> str:
        """The corpus name the utterances carry (the first one's; a run holds one corpus)."""
        first = self._first_utterance
        return first.corpus if first else self.run_dir.name

    @property
    def classes(self) -> list[str]:
        """The run's class codes, in distribution order."""
        first = self._first_utterance
        return first.classes if first else []


def load_run(run_dir: Path) -> RunData:
    """Open a run folder; it must exist and hold ``utterances.jsonl``. No record is read until iterated."""
    if not run_dir.is_dir():
        raise CotgenError(f"{run_dir}: no such run folder (run `cotgen build` first, or pass --in)")
    utterances = run_dir / UTTERANCES
    if not utterances.exists():
        raise CotgenError(f"{utterances}: no such file (run `cotgen corpus` or `cotgen build` first)")
    return RunData(
        run_dir=run_dir,
        utterances=UtteranceFile(utterances),
        traces=RecordFile(run_dir / TRACES, TraceRecord),
        sft=RecordFile(run_dir / SFT, SFTRecord),
        dpo=RecordFile(run_dir / DPO, DPORecord),
        grpo=RecordFile(run_dir / GRPO, GRPORecord),
    )


def read_features(run_dir: Path) -> pd.DataFrame | None:
    """``features.parquet`` as a frame, or None when the features stage has not run."""
    # Imported here: pandas and pyarrow (~70 MB) are for this reader only, and the card that every build
    # writes at its end imports this module.
    import pandas as pd

    path = run_dir / FEATURES
    return pd.read_parquet(path) if path.exists() else None
