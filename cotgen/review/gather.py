"""What the review page shows, gathered from a run folder with memory that does not grow with the run.

The table has one row per item, a trace or a reject, keyed like ``review.jsonl`` by ``(id, sample)``;
its numbers are columns (one list per field), which a browser parses far faster than one object per row.
Everything else an utterance's detail view needs (its traces with each cue checked, its rejects, its pairs)
is written in chunks of consecutive utterances that the page loads only when a row is opened.

A detail takes about 13 KB, so holding every one would hold the run. Instead a first pass over each record
file keeps the table's numbers and where each line starts (a file offset per record), and a second pass walks
the utterances in corpus order, reading each utterance's lines by offset, so one chunk is held at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from pydantic import BaseModel

from cotgen.acoustics import CueProfile
from cotgen.acoustics.measured import MeasuredCues
from cotgen.build.outcome import response_json
from cotgen.core.divergence import entropy_bits
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.export.record_readers import RunData, parse_record
from cotgen.records.leakage import trace_leaks
from cotgen.records.measurements import TextStyle
from cotgen.records.run_records import DPORecord, RejectRecord, TraceRecord
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import Trace, faithfulness_parts, parse_trace, render_trace
from cotgen.records.utterance import Utterance
from cotgen.review.audio import AudioLinks
from cotgen.review.cues import cue_rows
from cotgen.scoring.reasoning_rewards import combine, reasoning_scores
from cotgen.scoring.rewards import format_problem

REJECTS = "rejects.jsonl"
ChunkWriter = Callable[[int, list[dict[str, Any]]], None]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass
class ReviewData:
    """The page's table (columns, in corpus order) and what gathering it counted."""

    run_dir: Path
    corpus: str
    classes: list[str]
    utterances: dict[str, list[Any]] = field(default_factory=dict)
    items: dict[str, list[Any]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    faithfulness_changed: int = 0


@dataclass
class _Lines:
    """Where each record of one file starts, and the utterance it belongs to (parallel lists)."""

    path: Path
    model: type[BaseModel]
    position: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    lineno: list[int] = field(default_factory=list)


def _scan(path: Path, positions: dict[str, int]) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
    """(utterance position, offset, line number, decoded JSON) of each non-blank line of a record file.

    Decoding only reads the table's numbers; every record is validated against its model when its detail is
    written, before the table is, so a bad line still fails the command with its file and line.
    """
    if not path.exists():
        return
    # Hand-written, not jsonlines: the page's reader seeks back to each record by its byte offset, which
    # jsonlines (it hands out decoded values) does not give.
    with path.open("rb") as handle:
        offset = 0
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                    at = positions.get(record["id"])
                except (ValueError, TypeError, KeyError):
                    raise CotgenError(f"{path}:{lineno}: not a JSON object with an 'id'") from None
                if at is None:
                    raise CotgenError(
                        f"{path}:{lineno}: id {record['id']!r} is not in utterances.jsonl (was the run rebuilt?)"
                    )
                yield at, offset, lineno, record
            offset += len(line)


def _by_position(lines: _Lines) -> tuple[np.ndarray, np.ndarray]:
    """The record order grouped by utterance (file order within one) and where each utterance's group starts."""
    position = np.asarray(lines.position, dtype=np.int64)
    order = np.argsort(position, kind="stable")
    return order, np.searchsorted(position[order], np.arange(int(position.max(initial=-1)) + 2))


class _Reader:
    """Reads the records of one utterance from a scanned file by their offsets."""

    def __init__(self, lines: _Lines, handle: BinaryIO | None) -> None:
        self.lines = lines
        self.handle = handle
        self.order, self.starts = _by_position(lines)

    def records(self, position: int) -> Iterator[Any]:
        if self.handle is None or position + 1 >= len(self.starts):
            return
        for k in self.order[self.starts[position] : self.starts[position + 1]]:
            self.handle.seek(self.lines.offset[k])
            yield parse_record(self.handle.readline(), self.lines.model, self.lines.path, self.lines.lineno[k])


def _reward_detail(
    trace: TraceRecord, classes: list[str], profile: CueProfile | None, order: Sequence[str]
) -> dict[str, Any] | None:
    """What the GRPO reasoning rewards pay this trace's training text (cotgen.rewards.reasoning_reward's parts)."""
    scores = reasoning_scores(trace.text, classes, profile.levels if profile else None, order)
    if scores is None:
        return None
    combined = combine(format_problem(trace.text, classes, order=order) is None, 1.0 - trace.js, scores)
    return {
        "ambiguity": _round(scores.ambiguity),
        "faithfulness": _round(scores.faithfulness),
        "coherence": _round(scores.coherence),
        "combined": _round(combined),
    }


def _trace_detail(
    trace: TraceRecord, classes: list[str], profile: CueProfile | None, order: Sequence[str] = DEFAULT_ORDER
) -> dict[str, Any]:
    parts = faithfulness_parts(trace.trace, profile.levels) if profile else None
    return {
        "reward": _reward_detail(trace, classes, profile, order),
        "sample": trace.sample,
        "mode": trace.mode,
        "teacher": trace.teacher,
        "dist": [_round(trace.distribution[c]) for c in classes],
        "js": _round(trace.js),
        "kl": _round(trace.kl),
        "faith": _round(trace.faithfulness),
        "coherence": _round(trace.coherence),
        "faith_now": _round(parts.score) if parts else None,
        "parts": {k: _round(v) for k, v in parts.model_dump().items()} if parts else None,
        "cues": cue_rows(trace.trace, profile),
        "acoustic_summary": trace.trace.acoustic.summary,
        "lexical": [c.model_dump() for c in trace.trace.lexical.cues],
        "lexical_summary": trace.trace.lexical.summary,
        "ambiguity": trace.trace.ambiguity.model_dump(),
    }


def _reject_detail(reject: RejectRecord, utt: Utterance) -> dict[str, Any]:
    """A reject as the page lists it; a leak or a self-contradiction also shows its answer with the offending
    sentences marked (the same detector and rules the build used)."""
    detail: dict[str, Any] = reject.model_dump(include={"sample", "mode", "stage", "reason", "detail", "attempts"})
    if reject.reason not in ("leaks_target", "inconsistent") or not reject.raw:
        return detail
    try:  # a model's JSON answer, or the rendered text the template teacher's reject keeps
        trace = Trace.model_validate_json(response_json(reject.raw))
    except ValueError:
        try:
            trace = parse_trace(reject.raw, utt.classes, bool(utt.transcript))
        except ValueError:
            return detail
    if reject.reason == "leaks_target":
        marks = [leak.sentence for leak in trace_leaks(trace, utt.distribution, utt.transcript)]
    else:
        amb = trace.ambiguity
        marks = [f"Level: {amb.level}. Competing: {', '.join(amb.competing) or 'none'}."]
    detail.update(text=render_trace(trace), marks=marks)
    return detail


def _pair_detail(pair: DPORecord) -> dict[str, Any]:
    return {
        "metric": pair.metric,
        "source_chosen": pair.source_chosen,
        "source_rejected": pair.source_rejected,
        "score_chosen": _round(pair.score_chosen),
        "score_rejected": _round(pair.score_rejected),
        "chosen": pair.chosen[0].get("content", "") if pair.chosen else "",
        "rejected": pair.rejected[0].get("content", "") if pair.rejected else "",
    }


def gather(run: RunData, audio: AudioLinks, chunk: int, write_chunk: ChunkWriter) -> ReviewData:
    """Build the page's table and hand each chunk of ``chunk`` utterance details to ``write_chunk``."""
    data = ReviewData(run_dir=run.run_dir, corpus=run.corpus, classes=run.classes)
    u = data.utterances = {key: [] for key in ("id", "speaker", "majority", "entropy", "text")}
    positions: dict[str, int] = {}
    who: dict[str, tuple[str | None, str | None]] = {}
    for at, utt in enumerate(run.utterances):
        if utt.id in positions:
            raise CotgenError(f"{run.utterances.path}: id {utt.id!r} appears twice")
        positions[utt.id] = at
        who[utt.id] = (utt.speaker, utt.gender)
        u["id"].append(utt.id)
        u["speaker"].append(utt.speaker)
        u["majority"].append(utt.majority)
        u["entropy"].append(_round(entropy_bits([utt.distribution[c] for c in data.classes])))
        u["text"].append(utt.transcript or "")
    data.counts["utterances"] = len(positions)
    measured = MeasuredCues.of_run(run.run_dir, who)
    order = TextStyle.of_run(read_run_json(run.run_dir).get("config")).order  # the run's order of the stages
    del who

    files = {
        "traces": _Lines(run.traces.path, TraceRecord),
        "rejects": _Lines(run.run_dir / REJECTS, RejectRecord),
        "pairs": _Lines(run.dpo.path, DPORecord),
    }
    rows: list[tuple[int, int, float | None, float | None, float | None, str | None, str | None, str | None]] = []
    for kind, lines in files.items():
        for at, offset, lineno, record in _scan(lines.path, positions):
            lines.position.append(at)
            lines.offset.append(offset)
            lines.lineno.append(lineno)
            data.counts[kind] += 1
            if kind == "traces":
                amb = ((record.get("trace") or {}).get("ambiguity") or {}).get("level")
                cells = (record.get("js"), record.get("kl"), record.get("faithfulness"), amb, None)
                rows.append((at, record.get("sample"), *cells, record.get("fingerprint")))
            elif kind == "rejects":
                rows.append((at, record.get("sample"), None, None, None, None, record.get("reason"), None))

    with ExitStack() as stack:
        readers = {
            kind: _Reader(lines, stack.enter_context(lines.path.open("rb")) if lines.path.exists() else None)
            for kind, lines in files.items()
        }
        pending: list[dict[str, Any]] = []
        for at, utt in enumerate(run.utterances):
            human = [utt.distribution[c] for c in data.classes]
            profile = measured.profile(utt) if measured else None
            traces = [_trace_detail(t, data.classes, profile, order) for t in readers["traces"].records(at)]
            data.faithfulness_changed += sum(t["faith"] != t["faith_now"] for t in traces if t["parts"] is not None)
            pending.append(
                {
                    "id": utt.id,
                    "speaker": utt.speaker,
                    "gender": utt.gender,
                    "session": utt.session,
                    "transcript": utt.transcript,
                    "audio": audio.link(at, utt.id, utt.audio),
                    "audio_path": utt.audio,
                    "human": [_round(p) for p in human],
                    "majority": utt.majority,
                    "annotators": utt.n_annotators,
                    "measured": measured is not None,
                    "traces": traces,
                    "rejects": [_reject_detail(r, utt) for r in readers["rejects"].records(at)],
                    "pairs": [_pair_detail(p) for p in readers["pairs"].records(at)],
                }
            )
            if len(pending) == chunk:
                write_chunk(at // chunk, pending)
                pending = []
        if pending:
            write_chunk(len(positions) // chunk, pending)

    rows.sort(key=lambda row: (row[0], row[1]))
    columns = ("u", "sample", "js", "kl", "faith", "amb", "reason", "fp")  # fp: the trace's input fingerprint
    data.items = {key: [] for key in columns}
    for row in rows:
        for key, value in zip(columns, row):
            data.items[key].append(_round(value) if key in ("js", "kl", "faith") else value)
    return data
