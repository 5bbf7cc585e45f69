"""A small but real run folder for the export, card, stats and publish tests.

Built with the project's own record models, :func:`cotgen.prompts.student.student_messages` and
:func:`cotgen.records.trace.render_trace`, so the tests read exactly what `cotgen build` and `cotgen pairs`
write; audio is generated with numpy. One transcript quotes a literal ``<audio>`` tag.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import wavfile
from test_pairs_support import trace_record

from cotgen.build.state import traces_fingerprint
from cotgen.prompts.student import assistant_message, student_messages
from cotgen.records.run_records import DPORecord, GRPORecord, SFTRecord, TemplateRef
from cotgen.records.trace import AcousticCue, AcousticStage, AmbiguityStage, LexicalStage, Trace, printed
from cotgen.records.utterance import Utterance, majority_of, write_utterances

CLASSES = ["neu", "hap", "ang", "sad"]
SPEAKERS = [("s1", "M", "1"), ("s2", "F", "2"), ("s3", "M", "3"), ("s4", "F", "4"), ("s5", "M", "5")]
PER_SPEAKER = 3
TEMPLATE = TemplateRef(name="rationalize_v1", sha256="0" * 64)
QUOTED_TAG_TRANSCRIPT = "She typed <audio> into the box, can you believe it?"


def _write_wav(path: Path, seconds: float, pitch_hz: float) -> None:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    wavfile.write(path, rate, (0.3 * np.sin(2 * np.pi * pitch_hz * t) * 32767).astype(np.int16))


def _distribution(i: int) -> dict[str, float]:
    rows = [
        {"neu": 0.6, "hap": 0.2, "ang": 0.0, "sad": 0.2},
        {"neu": 0.0, "hap": 0.0, "ang": 1.0, "sad": 0.0},
        {"neu": 0.2, "hap": 0.4, "ang": 0.0, "sad": 0.4},
        {"neu": 0.1, "hap": 0.7, "ang": 0.1, "sad": 0.1},
    ]
    return rows[i % len(rows)]


def _trace(distribution: dict[str, float], note: str) -> Trace:
    top = max(distribution, key=lambda c: distribution[c])
    return printed(
        Trace(
            acoustic=AcousticStage(
                cues=[AcousticCue(cue="pitch", level="high", observation=f"Pitch is raised {note}.", suggests=[top])],
                summary="The voice is animated.",
            ),
            lexical=LexicalStage(cues=[], summary="The words are neutral on their own."),
            ambiguity=AmbiguityStage(level="medium", competing=[top], explanation="Listeners may differ."),
            distribution=distribution,
        )
    )


def make_run(root: Path, corpus: str = "demo", speakers: list[tuple[str, str, str]] | None = None) -> Path:
    """Write a run folder under ``root/run`` (clips under ``root/clips``) and return its path."""
    run = root / "run"
    clips = root / "clips"
    run.mkdir(parents=True)
    clips.mkdir(parents=True)
    utterances: list[Utterance] = []
    for s_index, (speaker, gender, session) in enumerate(speakers or SPEAKERS):
        for k in range(PER_SPEAKER):
            i = s_index * PER_SPEAKER + k
            uid = f"{speaker}_{k:02d}"
            audio = clips / f"{uid}.wav"
            _write_wav(audio, 0.2 + 0.05 * k, 120 + 30 * s_index)
            dist = _distribution(i)
            utterances.append(
                Utterance(
                    id=uid,
                    corpus=corpus,
                    audio=str(audio),
                    speaker=speaker,
                    gender=gender,
                    session=session,
                    transcript=QUOTED_TAG_TRANSCRIPT if i == 0 else f"Sentence number {i}.",
                    vote_counts={c: p * 5 for c, p in dist.items()},
                    distribution=dist,
                    majority=majority_of(dist),
                    n_annotators=5,
                )
            )
    write_utterances(run / "utterances.jsonl", utterances)
    traces, sft, dpo, grpo = [], [], [], []
    for i, utt in enumerate(utterances):
        gold = _trace(utt.distribution, "for a gold trace")
        wrong = _trace(_distribution(i + 1), "for a sample")
        gold_rec = trace_record(utt, 0, gold, TEMPLATE, faithfulness=0.75)
        wrong_rec = trace_record(utt, 1, wrong, TEMPLATE, faithfulness=0.75)
        traces += [gold_rec, wrong_rec]
        prompt = student_messages(utt.audio, utt.transcript, CLASSES)
        sft.append(
            SFTRecord(
                id=utt.id,
                audio=utt.audio,
                prompt=prompt,
                completion=[assistant_message(gold_rec.text)],
                distribution=utt.distribution,
            )
        )
        dpo.append(
            DPORecord(
                id=utt.id,
                audio=utt.audio,
                prompt=prompt,
                chosen=[assistant_message(gold_rec.text)],
                rejected=[assistant_message(wrong_rec.text)],
                human_distribution=utt.distribution,
                metric="js",
                score_chosen=gold_rec.js,
                score_rejected=wrong_rec.js,
                source_chosen="gold",
                source_rejected="sample:1",
            )
        )
        grpo.append(
            GRPORecord(
                id=utt.id,
                audio=utt.audio,
                prompt=prompt,
                target_distribution=utt.distribution,
                gold_trace=gold_rec.text,
            )
        )
    for name, records in (("traces", traces), ("sft", sft), ("dpo", dpo), ("grpo", grpo)):
        lines = "".join(r.model_dump_json() + "\n" for r in records)
        (run / f"{name}.jsonl").write_text(lines, encoding="utf-8")
    features = pd.DataFrame(
        {
            "id": [u.id for u in utterances],
            "f0_median_hz": [110.0 + 7 * i for i in range(len(utterances))],
            "intensity_mean_db": [60.0 + (i % 5) for i in range(len(utterances))],
            "speech_rate_syl_s": [3.0 + 0.1 * i for i in range(len(utterances))],
            "hnr_db": [12.0 - 0.2 * i for i in range(len(utterances))],
            "error": [None] * len(utterances),
        }
    )
    features.to_parquet(run / "features.parquet")
    made_from = traces_fingerprint(run)  # what `cotgen pairs` and `cotgen grpo` record of the traces they read
    info = {
        "config": {"corpus": corpus, "classes": CLASSES, "teacher": "template"},
        "corpus": {"name": corpus, "root": str(clips)},
        "schema_version": "1",
        "templates": {TEMPLATE.name: TEMPLATE.sha256},
        "counts": {"utterances": len(utterances), "traces": len(traces), "sft": len(sft)},
        "traces_fingerprint": made_from,
        "pairs": {"output": "dpo.jsonl", "pairs": len(dpo), "traces_fingerprint": made_from},
        "grpo": {"output": "grpo.jsonl", "records": len(grpo), "traces_fingerprint": made_from},
        "teacher": "template",
        "owner_key": "kept",
    }
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run


def test_fixture_run_reads_back_with_the_real_models(tmp_path: Path) -> None:
    from cotgen.export.record_readers import load_run

    data = load_run(make_run(tmp_path))
    assert len(data.utterances) == len(SPEAKERS) * PER_SPEAKER
    assert len(data.sft) == len(data.dpo) == len(data.grpo) == len(data.utterances)
    assert data.classes == CLASSES
    assert any("<audio>" in (u.transcript or "") for u in data.utterances)


def load_rows(path: Path, cache_dir: Path) -> list[dict]:
    """Load a JSONL file the way trainers do (``datasets`` JSON builder) and return its rows."""
    import datasets

    dataset = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache_dir))
    return list(dataset)


def column_shapes(path: Path) -> dict[str, set[str]]:
    """Column -> the JSON types it takes across the file's lines (one each when the shape is stable)."""
    shapes: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for key, value in json.loads(line).items():
            shapes.setdefault(key, set()).add("null" if value is None else type(value).__name__)
    return shapes
