"""What the review page shows, gathered from a run folder in one pass over each record file.

The table has one row per item, a trace or a reject, keyed like ``review.jsonl`` by ``(id, sample)``;
its numbers are columns (one list per field), which a browser parses far faster than one object per row.
Everything else an utterance's detail view needs (its traces with each cue checked, its rejects, its pairs)
is grouped per utterance and written in chunks the page loads only when a row is opened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotgen.core.divergence import entropy_bits
from cotgen.core.errors import CotgenError
from cotgen.export.record_readers import RecordFile, load_run
from cotgen.records.run_records import DPORecord, RejectRecord, TraceRecord
from cotgen.records.trace import faithfulness_parts
from cotgen.review.audio import AudioLinks
from cotgen.review.cues import MeasuredCues, cue_rows

REJECTS = "rejects.jsonl"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass
class ReviewData:
    """The page's table (columns) and the detail of every utterance, in corpus order."""

    run_dir: Path
    corpus: str
    classes: list[str]
    utterances: dict[str, list[Any]] = field(default_factory=dict)
    items: dict[str, list[Any]] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    faithfulness_changed: int = 0


def _position_of(positions: dict[str, int], record: TraceRecord | RejectRecord | DPORecord, path: Path) -> int:
    at = positions.get(record.id)
    if at is None:
        raise CotgenError(f"{path}: id {record.id!r} is not in utterances.jsonl (was the run rebuilt without it?)")
    return at


def gather(run_dir: Path, audio: AudioLinks) -> ReviewData:
    """Read the run's utterances, features, traces, rejects and pairs into the page's table and details."""
    run = load_run(run_dir)
    data = ReviewData(run_dir=run_dir, corpus=run.corpus, classes=run.classes)
    u = data.utterances = {key: [] for key in ("id", "speaker", "majority", "entropy", "text")}
    utterances = list(run.utterances)
    measured = MeasuredCues.of_run(run_dir, utterances)
    positions: dict[str, int] = {}
    profiles = []
    for at, utt in enumerate(utterances):
        if utt.id in positions:
            raise CotgenError(f"{run.utterances.path}: id {utt.id!r} appears twice")
        positions[utt.id] = at
        human = [utt.distribution[c] for c in data.classes]
        for key, value in (
            ("id", utt.id),
            ("speaker", utt.speaker),
            ("majority", utt.majority),
            ("entropy", _round(entropy_bits(human))),
            ("text", utt.transcript or ""),
        ):
            u[key].append(value)
        data.details.append(
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
                "traces": [],
                "rejects": [],
                "pairs": [],
            }
        )
        profiles.append(measured.profile(utt) if measured else None)
    data.counts["utterances"] = len(utterances)
    del utterances
    rows: list[tuple[int, int, dict[str, Any]]] = []
    for trace in run.traces:
        at = _position_of(positions, trace, run.traces.path)
        profile = profiles[at]
        parts = faithfulness_parts(trace.trace, profile.levels) if profile else None
        now = parts.score if parts else None
        if _round(now) != _round(trace.faithfulness):
            data.faithfulness_changed += 1
        data.details[at]["traces"].append(
            {
                "sample": trace.sample,
                "mode": trace.mode,
                "teacher": trace.teacher,
                "dist": [_round(trace.distribution[c]) for c in data.classes],
                "js": _round(trace.js),
                "kl": _round(trace.kl),
                "faith": _round(trace.faithfulness),
                "faith_now": _round(now),
                "parts": {k: _round(v) for k, v in parts.model_dump().items()} if parts else None,
                "cues": cue_rows(trace.trace, profile),
                "acoustic_summary": trace.trace.acoustic.summary,
                "lexical": [c.model_dump() for c in trace.trace.lexical.cues],
                "lexical_summary": trace.trace.lexical.summary,
                "ambiguity": trace.trace.ambiguity.model_dump(),
            }
        )
        cells = {"js": trace.js, "kl": trace.kl, "faith": trace.faithfulness, "amb": trace.trace.ambiguity.level}
        rows.append((at, trace.sample, {**cells, "reason": None}))
        data.counts["traces"] += 1
    for reject in RecordFile(run_dir / REJECTS, RejectRecord):
        at = _position_of(positions, reject, run_dir / REJECTS)
        data.details[at]["rejects"].append(
            reject.model_dump(include={"sample", "mode", "stage", "reason", "detail", "attempts"})
        )
        rows.append((at, reject.sample, {"js": None, "kl": None, "faith": None, "amb": None, "reason": reject.reason}))
        data.counts["rejects"] += 1
    for pair in run.dpo:
        at = _position_of(positions, pair, run.dpo.path)
        data.details[at]["pairs"].append(
            {
                "metric": pair.metric,
                "source_chosen": pair.source_chosen,
                "source_rejected": pair.source_rejected,
                "score_chosen": _round(pair.score_chosen),
                "score_rejected": _round(pair.score_rejected),
                "chosen": pair.chosen[0].get("content", "") if pair.chosen else "",
                "rejected": pair.rejected[0].get("content", "") if pair.rejected else "",
            }
        )
        data.counts["pairs"] += 1
    rows.sort(key=lambda row: (row[0], row[1]))
    data.items = {key: [] for key in ("u", "sample", "js", "kl", "faith", "amb", "reason")}
    for at, sample, cells in rows:
        data.items["u"].append(at)
        data.items["sample"].append(sample)
        for key in ("js", "kl", "faith"):
            data.items[key].append(_round(cells[key]))
        data.items["amb"].append(cells["amb"])
        data.items["reason"].append(cells["reason"])
    return data
