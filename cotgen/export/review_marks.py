"""A curator's ``review.jsonl`` applied to an export: rejected traces, and every record carrying one, stay out.

A rejected trace is left out wherever its text would reach a trainer: the SFT record of a rejected gold
trace; every DPO pair with a rejected trace on either side (``gold`` and ``corrupt:KIND`` are the gold trace,
a corruption being the gold trace with its judgement edited; ``sample:K`` is sample K); and the
``gold_trace`` a GRPO record carries for gold-injecting variants (the prompt itself stays: it holds no trace).
Accepted and flagged traces are kept. Each mark must name a trace of the run, so a review of another run fails
instead of silently matching nothing; a mark that carries a fingerprint other than its trace's judged a trace a
rebuild has since redone, so it is not applied (counted as ``stale`` and named in a warning: review the new text).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_json_lines
from cotgen.export.record_readers import iter_records
from cotgen.records.review import VERDICTS, ReviewRecord
from cotgen.records.run_records import DPORecord, GRPORecord, SFTRecord

TraceKey = tuple[str, int]
logger = logging.getLogger(__name__)


def source_sample(source: str) -> int | None:
    """The trace sample a pair side comes from: gold and corruptions 0, ``sample:K`` K, a rollout none."""
    head, _, tail = source.partition(":")
    if head in ("gold", "corrupt"):
        return 0
    if head == "sample" and tail.isdigit():
        return int(tail)
    return None


def _trace_fingerprints(traces: Path) -> dict[TraceKey, str | None]:
    """(id, sample) -> input fingerprint of every line of ``traces.jsonl``, reading only those fields."""
    keys: dict[TraceKey, str | None] = {}
    if traces.exists():
        for _, record in iter_json_lines(traces, "trace line"):
            keys[(record["id"], record["sample"])] = record.get("fingerprint")
    return keys


@dataclass
class ReviewMarks:
    """The verdicts of one review file (the latest per trace) and what applying them left out."""

    path: Path
    verdicts: dict[TraceKey, ReviewRecord]
    superseded: int = 0
    stale: int = 0  # marks on a trace redone since the review (another fingerprint): not applied
    left_out: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> set[TraceKey]:
        return {key for key, mark in self.verdicts.items() if mark.verdict == "reject"}

    def keep(self, kind: str, records: Iterable[SFTRecord | DPORecord | GRPORecord]) -> Iterator[Any]:
        """The records of one kind that carry no rejected trace (GRPO records lose only their gold trace)."""
        rejected = self.rejected
        for record in records:
            if isinstance(record, SFTRecord) and (record.id, 0) in rejected:
                self.left_out["sft"] += 1
                continue
            if isinstance(record, DPORecord):
                sides = (source_sample(record.source_chosen), source_sample(record.source_rejected))
                if any(sample is not None and (record.id, sample) in rejected for sample in sides):
                    self.left_out["dpo"] += 1
                    continue
            if isinstance(record, GRPORecord) and record.gold_trace is not None and (record.id, 0) in rejected:
                self.left_out["grpo_gold_trace"] += 1
                record = record.model_copy(update={"gold_trace": None})
            yield record

    def summary(self) -> dict[str, Any]:
        """What was reviewed and left out, for export.json, run.json and the card."""
        verdicts = Counter(mark.verdict for mark in self.verdicts.values())
        return {
            "file": str(self.path),
            "reviewed": len(self.verdicts),
            **{verdict: verdicts.get(verdict, 0) for verdict in VERDICTS},
            "superseded": self.superseded,
            "stale": self.stale,
            "left_out": {kind: self.left_out.get(kind, 0) for kind in ("sft", "dpo", "grpo_gold_trace")},
        }


def read_review(path: Path, traces: Path) -> ReviewMarks:
    """Read ``review.jsonl``: the latest verdict per trace wins; each must name a trace in ``traces``."""
    if not path.is_file():
        raise CotgenError(f"--review {path}: no such file (download it from the `cotgen review` page)")
    verdicts: dict[TraceKey, ReviewRecord] = {}
    superseded = 0
    for mark in iter_records(path, ReviewRecord):
        key = (mark.id, mark.sample)
        previous = verdicts.get(key)
        if previous is not None:
            superseded += 1
            if previous.reviewed_at > mark.reviewed_at:
                continue
        verdicts[key] = mark
    current = _trace_fingerprints(traces)
    unknown = sorted(set(verdicts) - set(current))
    if unknown:
        first_id, first_sample = unknown[0]
        raise CotgenError(
            f"{path}: {len(unknown)} marks name no trace of {traces} (first: id {first_id!r} sample {first_sample}); "
            "is it the review of another run?"
        )
    stale = sorted(
        key for key, mark in verdicts.items() if mark.fingerprint is not None and mark.fingerprint != current[key]
    )
    if stale:
        logger.warning(
            "%s: %d marks judged traces that were redone since (first: id %r sample %d); they are not applied, "
            "review the new traces",
            path,
            len(stale),
            *stale[0],
        )
    for key in stale:
        del verdicts[key]
    return ReviewMarks(path=path, verdicts=verdicts, superseded=superseded, stale=len(stale))
