"""Run folders in the real formats for the pairs, GRPO and eval tests, and a check that they are.

Utterances are :class:`cotgen.records.utterance.Utterance` records and traces are
:class:`cotgen.records.run_records.TraceRecord` lines whose text is rendered by
:func:`cotgen.records.trace.render_trace` from a validated trace, exactly what ``cotgen build`` writes.
Traces are written shuffled, as build writes them in completion order.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from cotgen.core.divergence import as_vector, js, kl
from cotgen.core.paths import CORPORA_DIR
from cotgen.records.run_records import TemplateRef, TraceRecord, Usage
from cotgen.records.trace import Trace, printed, render_trace, validate_trace
from cotgen.records.utterance import Utterance, iter_utterances, majority_of, write_utterances

CLASSES = ["neu", "hap", "ang", "sad"]
RecordT = TypeVar("RecordT", bound=BaseModel)
DEMO_WAV = CORPORA_DIR / "demo" / "wav" / "demo_spk1_01.wav"


def make_utterance(
    uid: str, counts: dict[str, float], session: str = "1", transcript: str = "Fine, whatever."
) -> Utterance:
    total = sum(counts.values())
    distribution = {c: counts.get(c, 0.0) / total for c in CLASSES}
    return Utterance(
        id=uid,
        corpus="demo",
        audio=str(DEMO_WAV),
        speaker=f"spk{session}",
        gender="F",
        session=session,
        transcript=transcript,
        votes=None,
        vote_counts={c: float(counts.get(c, 0.0)) for c in CLASSES},
        distribution=distribution,
        majority=majority_of(distribution),
        n_annotators=int(total),
    )


def make_trace(
    distribution: dict[str, float], level: str = "medium", competing: tuple[str, ...] = ("ang", "sad")
) -> Trace:
    """A trace whose cited evidence points where its distribution puts its mass (consistent, as a gold must be)."""
    ranked = sorted(CLASSES, key=lambda code: (-distribution[code], CLASSES.index(code)))
    second = ranked[1] if distribution[ranked[1]] > 0 else ranked[0]
    data = {
        "acoustic": {
            "cues": [
                {
                    "cue": "pitch",
                    "level": "high",
                    "observation": "Pitch is raised for this speaker.",
                    "suggests": [ranked[0]],
                },
                {"cue": "speech_rate", "level": "low", "observation": "Slow delivery.", "suggests": [second]},
            ],
            "summary": "Raised pitch with slow delivery.",
        },
        "lexical": {
            "cues": [
                {"cue": "whatever", "observation": "Dismissive wording.", "suggests": sorted({ranked[0], second})}
            ],
            "summary": "Dismissive.",
        },
        "ambiguity": {"level": level, "competing": list(competing), "explanation": "Anger and sadness both fit."},
        "distribution": distribution,
    }
    return printed(validate_trace(data, CLASSES, has_transcript=True))


def trace_record(
    utterance: Utterance,
    sample: int,
    trace: Trace,
    template: TemplateRef | None = None,
    faithfulness: float = 1.0,
) -> TraceRecord:
    """A traces.jsonl line for ``trace``, scored against the utterance's votes as build scores it."""
    human = as_vector(utterance.distribution, CLASSES)
    own = as_vector(trace.distribution, CLASSES)
    return TraceRecord(
        id=utterance.id,
        sample=sample,
        mode="rationalize" if sample == 0 else "predict",
        teacher="template",
        template=template or TemplateRef(name="rationalize" if sample == 0 else "predict", sha256="0" * 64),
        trace=trace,
        text=render_trace(trace),
        distribution=trace.distribution,
        kl=float(kl(human, own)),
        js=float(js(human, own)),
        faithfulness=faithfulness,
        usage=Usage(),
    )


def write_run(run: Path, utterances: list[Utterance], traces: list[TraceRecord], seed: int = 7) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    write_utterances(run / "utterances.jsonl", utterances)
    shuffled = list(traces)
    random.Random(seed).shuffle(shuffled)
    with (run / "traces.jsonl").open("w", encoding="utf-8") as handle:
        for record in shuffled:
            handle.write(record.model_dump_json() + "\n")
    return run


def read_records(path: Path, model: type[RecordT]) -> list[RecordT]:
    """Every line of a JSONL output validated as ``model`` (the records a stage promises to write)."""
    return [model.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


def standard_run(run: Path) -> Path:
    """Three utterances: an ambiguous one with gold + 3 samples, a clear one with gold + 1, one with no traces."""
    ambiguous = make_utterance("u_amb", {"ang": 3, "sad": 2})
    clear = make_utterance("u_clear", {"hap": 5}, session="2")
    orphan = make_utterance("u_none", {"neu": 4, "sad": 1}, session="3")
    traces = [
        trace_record(ambiguous, 0, make_trace({"neu": 0, "hap": 0, "ang": 0.6, "sad": 0.4})),
        trace_record(ambiguous, 1, make_trace({"neu": 0.1, "hap": 0, "ang": 0.5, "sad": 0.4})),
        trace_record(ambiguous, 2, make_trace({"neu": 0.0, "hap": 0.1, "ang": 0.3, "sad": 0.6})),
        trace_record(
            ambiguous, 3, make_trace({"neu": 0.25, "hap": 0.25, "ang": 0.25, "sad": 0.25}, "high", tuple(CLASSES))
        ),
        trace_record(clear, 0, make_trace({"neu": 0, "hap": 1.0, "ang": 0, "sad": 0}, "low", ())),
        trace_record(clear, 1, make_trace({"neu": 0.2, "hap": 0.8, "ang": 0, "sad": 0}, "low", ())),
    ]
    return write_run(run, [ambiguous, clear, orphan], traces)


def test_fixture_run_is_in_the_real_formats(tmp_path):
    run = standard_run(tmp_path / "run")
    assert [u.id for u in iter_utterances(run / "utterances.jsonl")] == ["u_amb", "u_clear", "u_none"]
    lines = (run / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    records = [TraceRecord.model_validate_json(line) for line in lines]
    assert sorted((r.id, r.sample) for r in records) == [
        ("u_amb", 0),
        ("u_amb", 1),
        ("u_amb", 2),
        ("u_amb", 3),
        ("u_clear", 0),
        ("u_clear", 1),
    ]
    assert [(r.id, r.sample) for r in records] != sorted((r.id, r.sample) for r in records)  # shuffled like build
    assert all(r.text.startswith("<acoustic>") and "</distribution>" in r.text for r in records)
