"""A demo run for the review tests, built through the CLI, with one unfaithful trace and one reject planted.

The template teacher is faithful by construction and never fails, so a page of its traces would show no
mismatch and no reject. Two edits make the run look like a model teacher's: the gold trace of
:data:`UNFAITHFUL_ID` claims the opposite pitch level to the one measured (its text and faithfulness
rewritten as the build would have written them), and sample 2 of :data:`REJECTED_ID` ends as a reject
instead of a trace. ``pairs`` and ``grpo`` then run on the edited files, as they would after such a build.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cotgen.acoustics import speaker_cues
from cotgen.acoustics.table import read_features
from cotgen.cli.main import get_app
from cotgen.records.run_records import RejectRecord, TraceRecord
from cotgen.records.trace import LEVELS, faithfulness_parts, render_trace
from cotgen.records.utterance import read_utterances

UNFAITHFUL_ID = "demo_spk2_03"
UNFAITHFUL_CUE = "pitch"
REJECTED_ID = "demo_spk3_02"
REJECTED_SAMPLE = 2


def invoke(args: list[str]) -> str:
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, f"cotgen {' '.join(args)} failed:\n{result.output}"
    return result.output


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _opposite(level: str) -> str:
    return LEVELS[0] if LEVELS.index(level) >= 2 else LEVELS[-1]


def build_review_run(base: Path) -> Path:
    """Build the demo (2 samples), plant the mismatch and the reject, then run pairs and grpo."""
    run = base / "demo"
    invoke(["build", "--out", str(run), "--cache", str(base / "cache"), "--samples", "2"])
    measured = speaker_cues(read_features(run / "features.parquet"), read_utterances(run / "utterances.jsonl"))
    traces, rejects = [], []
    for line in (run / "traces.jsonl").read_text(encoding="utf-8").splitlines():
        record = TraceRecord.model_validate_json(line)
        if (record.id, record.sample) == (REJECTED_ID, REJECTED_SAMPLE):
            rejects.append(
                RejectRecord(
                    id=record.id,
                    sample=record.sample,
                    mode=record.mode,
                    stage="validation",
                    reason="schema_invalid",
                    detail="acoustic.cues: Field required",
                    attempts=2,
                    raw='{"distribution": {}}',
                )
            )
            continue
        if (record.id, record.sample) == (UNFAITHFUL_ID, 0):
            levels = measured[record.id].levels
            cues = [
                cue.model_copy(update={"level": _opposite(cue.level)}) if cue.cue == UNFAITHFUL_CUE else cue
                for cue in record.trace.acoustic.cues
            ]
            assert any(cue.cue == UNFAITHFUL_CUE for cue in cues), "the demo's gold trace cites pitch"
            trace = record.trace.model_copy(
                update={"acoustic": record.trace.acoustic.model_copy(update={"cues": cues})}
            )
            parts = faithfulness_parts(trace, levels)
            record = record.model_copy(
                update={
                    "trace": trace,
                    "text": render_trace(trace),
                    "faithfulness": parts.score,
                    "faithfulness_parts": parts,
                }
            )
        traces.append(record)
    (run / "traces.jsonl").write_text("".join(t.model_dump_json() + "\n" for t in traces), encoding="utf-8")
    (run / "rejects.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rejects), encoding="utf-8")
    invoke(["pairs", "--in", str(run)])
    invoke(["grpo", "--in", str(run)])
    return run
