"""The card says true things about the copy it sits in (issue 13 item 5).

A run folder, each export of it and the copy ``publish`` stages hold different audio paths (absolute, what
``--audio`` made of them, relative to the corpus's audio folder); each card's audio sentence is checked against
the records beside it. Transcripts are quoted as written, the plots appear in reading order with captions, and
the teacher is named, with rule-generated traces said to be rule-generated.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_export_fixtures import QUOTED_TAG_TRANSCRIPT, make_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.export.writer import export_run
from cotgen.publish import stage
from cotgen.report.card import PLOT_CAPTIONS, write_card


def _body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("---\n", 2)[2]


def _audio_paths(value: Any) -> Iterator[str]:
    """Every audio path a record holds, whatever the trainer format calls it (audio, audios, content parts)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "audio" and isinstance(item, str):
                yield item
            elif key == "audios" and isinstance(item, list):
                yield from (str(path) for path in item)
            else:
                yield from _audio_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _audio_paths(item)


def _paths_in(folder: Path, names: list[str]) -> list[str]:
    rows = [json.loads(line) for name in names for line in (folder / name).read_text(encoding="utf-8").splitlines()]
    paths = [path for row in rows for path in _audio_paths(row)]
    assert paths, f"no audio paths in {names}"
    return paths


def test_the_transcript_is_quoted_as_written(tmp_path: Path) -> None:
    body = _body(write_card(make_run(tmp_path)))
    assert f'Transcript: `"{QUOTED_TAG_TRANSCRIPT}"`;' in body  # a code span: the <audio> in it stays text
    assert "\\u00" not in body


def test_the_run_card_says_its_audio_paths_are_absolute_and_they_are(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    body = _body(write_card(run))
    assert "Audio: not copied; `audio` fields are absolute paths to the clips on the machine that built" in body
    assert all(os.path.isabs(path) and Path(path).is_file() for path in _paths_in(run, ["utterances.jsonl"]))


@pytest.mark.parametrize(
    ("fmt", "audio", "sentence"),
    [
        ("trl", "absolute", "absolute paths to the clips on the machine that exported this folder"),
        ("swift", "copy", "the clips are copied into `audio/` of this folder; `audio` fields are paths relative"),
        ("llamafactory", "relative", "paths relative to this folder, where the trainer resolves them"),
    ],
)
def test_an_export_card_describes_the_paths_of_its_own_records(
    tmp_path: Path, fmt: str, audio: str, sentence: str
) -> None:
    run = make_run(tmp_path)
    out = export_run(run, fmt, split="loso:1", audio=audio).out_dir  # type: ignore[arg-type]
    assert sentence in _body(write_card(run, export_dir=out))
    names = [path.name for path in out.glob("sft_*.jsonl") if path.stat().st_size]  # every non-empty split
    for path in _paths_in(out, names):
        assert os.path.isabs(path) == (audio == "absolute")
        assert (Path(path) if os.path.isabs(path) else out / path).is_file(), path
        assert audio != "copy" or path.startswith("audio/")


def test_the_published_card_says_paths_are_relative_to_the_corpus_audio_folder_and_they_are(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    plan = stage(run, "someone/demo-cot")
    body = _body(plan.stage_dir / "README.md")
    assert "Audio: not included; `audio` fields are paths relative to the corpus's audio folder" in body
    clips = tmp_path / "clips"  # make_run's corpus audio folder
    for path in _paths_in(plan.stage_dir, ["utterances.jsonl", "sft.jsonl"]):
        assert not os.path.isabs(path) and (clips / path).is_file()


def test_plots_are_embedded_in_reading_order_with_numbered_captions(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    assert CliRunner().invoke(get_app(), ["stats", "--in", str(run)]).exit_code == 0
    body = _body(run / "README.md")
    figures = re.findall(r"!\[(.+?)\]\(plots/(\w+)\.png\)\n\n\*Figure (\d+)\. (.+?)\*", body)
    assert [name for _, name, _, _ in figures] == list(PLOT_CAPTIONS)
    assert [int(number) for _, _, number, _ in figures] == list(range(1, len(PLOT_CAPTIONS) + 1))
    assert all(alt == caption == PLOT_CAPTIONS[name] for alt, name, _, caption in figures)
    assert body.index("## Statistics") < body.index("*Figure 1.") < body.index("## Limitations")


def test_template_traces_are_said_to_be_rule_generated(tmp_path: Path) -> None:
    body = _body(write_card(make_run(tmp_path)))
    assert "**These traces are rule-generated** by cotgen's offline template teacher, not written by a model" in body
    assert "- Teacher: `template`, cotgen's offline template teacher (no model)" in body
    assert "- Rule-generated traces:" in body and "- Teacher bias:" not in body


def test_a_model_teacher_is_named_and_nothing_is_said_about_rules(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    traces = run / "traces.jsonl"
    rows = [json.loads(line) for line in traces.read_text(encoding="utf-8").splitlines()]
    traces.write_text("".join(json.dumps({**row, "teacher": "openai:gpt-4o"}) + "\n" for row in rows), encoding="utf-8")
    body = _body(write_card(run))
    assert "- Teacher: `openai:gpt-4o`\n" in body
    assert "rule-generated" not in body.lower() and "- Teacher bias:" in body
