"""A build with --context on MELD clips (real mp4 through ffmpeg) against a loopback teacher: the turns reach the
teacher and the student records, the template hash marks them, run.json and the card state agreement and single labels.
"""

from __future__ import annotations

import json
from pathlib import Path

from loopback_server import LoopbackServer
from test_corpora_single_label import needs_ffmpeg, write_meld

from cotgen.build.run import BuildConfig, run_build
from cotgen.prompts.context import CONTEXT_HEADER
from cotgen.report.card import render_card


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@needs_ffmpeg
def test_context_reaches_teacher_and_student_and_changes_the_template_hash(tmp_path: Path) -> None:
    root = write_meld(tmp_path / "MELD.Raw", clips=True)
    runs = {}
    for k in (0, 1):
        with LoopbackServer() as srv:
            config = BuildConfig(
                corpus="meld",
                root=root,
                teacher="openai:loopback",
                base_url=srv.base_url,
                out=tmp_path / f"run{k}",
                cache=tmp_path / "cache",
                progress=False,
                concurrency=2,
                context=k,
            )
            run_build(config)
            runs[k] = [r.body["messages"][1]["content"] for r in srv.chat_requests]
    plain, shown = runs[0], runs[1]
    assert not any(CONTEXT_HEADER in text for text in plain)
    quoted = json.dumps("Oh my God, he's lost it. He's totally lost it.")
    assert sum(f'- "Phoebe": {quoted}' in text for text in shown) == 1  # only train_dia0_utt1 follows Phoebe
    assert sum(text.startswith(CONTEXT_HEADER) for text in shown) == len(shown)  # every MELD turn is in a dialogue

    traces = {k: _lines(tmp_path / f"run{k}" / "traces.jsonl") for k in (0, 1)}
    assert {t["template"]["sha256"] for t in traces[0]}.isdisjoint({t["template"]["sha256"] for t in traces[1]})
    sft = {r["id"]: r for r in _lines(tmp_path / "run1" / "sft.jsonl")}
    student = sft["train_dia0_utt1"]["prompt"][1]["content"][1]["text"]
    assert student.startswith(CONTEXT_HEADER) and f'- "Phoebe": {quoted}' in student
    plain_sft = {r["id"]: r for r in _lines(tmp_path / "run0" / "sft.jsonl")}
    assert CONTEXT_HEADER not in plain_sft["train_dia0_utt1"]["prompt"][1]["content"][1]["text"]

    corpus = json.loads((tmp_path / "run1" / "run.json").read_text())["corpus"]
    assert corpus["single_label"] == 6 and corpus["context"] == {"turns": 1, "with_context": 2}
    assert corpus["agreement"]["krippendorff_alpha_nominal"] is None and corpus["agreement"]["alpha_note"]
    assert json.loads((tmp_path / "run1" / "run.json").read_text())["config"]["context"] == 1
    card = render_card(tmp_path / "run1")
    assert "**Single-label data**: 6 utterances" in card and "Krippendorff's alpha: not computed" in card
