"""``cotgen grpo`` as a library call: one GRPO prompt per utterance, with what the rewards read.

Each record carries the student prompt (the same one SFT and DPO use), the human distribution as
``target_distribution`` (the column :func:`cotgen.scoring.rewards.distribution_reward` reads), the clip's
measured cue levels as ``cue_levels`` (what the cue-faithfulness reward compares a completion's claims with,
derived as the build derived them: :class:`cotgen.acoustics.measured.MeasuredCues`) and the gold
trace text, for GRPO variants that put the expert answer into the sampled group. Gold traces are
found through a byte-offset index, so the run streams however large ``traces.jsonl`` is.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from cotgen.acoustics.measured import MeasuredCues
from cotgen.build.state import traces_fingerprint
from cotgen.core.durable_files import read_run_json, update_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import jsonl_writer
from cotgen.core.run_lock import run_lock
from cotgen.pairs.index import LineReader, index_lines
from cotgen.prompts.student import student_prompt
from cotgen.records.measurements import TextStyle
from cotgen.records.run_records import GRPORecord
from cotgen.records.utterance import iter_utterances

GRPO_FILE = "grpo.jsonl"
COUNT_KEYS = ("records", "with_gold", "without_gold", "skipped_without_gold", "with_cue_levels", "without_cue_levels")


def _gold_text(reader: LineReader, offsets: list[int]) -> str | None:
    """The text of the sample-0 (gold) trace among an utterance's trace lines, if there is one."""
    for offset in offsets:
        record = reader.read_json(offset)
        if record.get("sample") == 0:
            text = record.get("text")
            if not isinstance(text, str):
                raise reader.fail(offset, "trace record without a string 'text'")
            return text
    return None


def build_grpo(run_dir: Path, out: Path | None = None, require_gold: bool = False) -> Counter[str]:
    """Write ``grpo.jsonl`` (atomically) for every utterance of the run; returns and records the counts.

    With ``require_gold`` utterances without a gold trace are left out (counted as
    ``skipped_without_gold``); otherwise they are written with ``gold_trace: null``.

    The run folder is locked meanwhile; the section records the fingerprint of the traces read.
    """
    with run_lock(run_dir, "cotgen grpo"):
        return _write_grpo(run_dir, out, require_gold)


def _write_grpo(run_dir: Path, out: Path | None, require_gold: bool) -> Counter[str]:
    fingerprint = traces_fingerprint(run_dir)
    utterances_path = run_dir / "utterances.jsonl"
    traces_path = run_dir / "traces.jsonl"
    out = out or run_dir / GRPO_FILE
    ids: dict[str, int] = {}
    speakers: dict[str, tuple[str | None, str | None]] = {}
    for i, u in enumerate(iter_utterances(utterances_path)):
        ids[u.id] = i
        speakers[u.id] = (u.speaker, u.gender)
    measured = MeasuredCues.of_run(run_dir, speakers)
    order = TextStyle.of_run(read_run_json(run_dir).get("config")).order
    index = index_lines(traces_path, ids) if traces_path.exists() else None
    if index is None and require_gold:
        raise CotgenError(f"{traces_path}: no such file (run `cotgen build` first)")
    counts: Counter[str] = Counter()
    tmp = out.with_name(out.name + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        writer = jsonl_writer(stack.enter_context(tmp.open("w", encoding="utf-8")))
        reader = LineReader(stack.enter_context(traces_path.open("rb")), traces_path) if index else None
        for ordinal, utterance in enumerate(iter_utterances(utterances_path)):
            gold = _gold_text(reader, [int(o) for o in index.offsets_of(ordinal)]) if index and reader else None
            if gold is None and require_gold:
                counts["skipped_without_gold"] += 1
                continue
            profile = measured.profile(utterance) if measured is not None else None
            levels = profile.levels if profile is not None and any(profile.levels.values()) else None
            record = GRPORecord(
                id=utterance.id,
                audio=utterance.audio,
                prompt=student_prompt(utterance, order),
                target_distribution=utterance.distribution,
                gold_trace=gold,
                cue_levels=levels,
                stages=list(order),
            )
            writer.write(record)
            counts["records"] += 1
            counts["with_gold" if gold is not None else "without_gold"] += 1
            counts["with_cue_levels" if levels is not None else "without_cue_levels"] += 1
    tmp.replace(out)
    summary = {
        "output": out.name,
        "require_gold": require_gold,
        **{k: counts.get(k, 0) for k in COUNT_KEYS},
        "traces_fingerprint": fingerprint,
    }
    update_run_json(run_dir, "grpo", summary)
    return counts
