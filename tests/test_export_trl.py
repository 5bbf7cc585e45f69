"""TRL export: conversational prompt/completion, preference and prompt-only rows that survive ``load_dataset``.

The decisive check renders two real styles of audio chat template over the rows *as loaded by
datasets*: transformers' Qwen2-Audio default template (tests ``'audio' in content``) and the
Qwen2.5-Omni style (tests ``content['type'] == 'audio' or 'audio' in content``). Each must emit
exactly one audio placeholder per audio part.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from test_export_fixtures import column_shapes, load_rows, make_run

from cotgen.export.writer import export_run

QWEN2_AUDIO_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if 'audio' in content or 'audio_url' in content %}{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
OMNI_STYLE_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|IMAGE|>"
    "{% elif content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "<|audio_bos|><|AUDIO|><|audio_eos|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trl")
    run = make_run(root)
    return export_run(run, "trl", answer="text", audio="absolute").out_dir


def _audio_parts(messages: list[dict]) -> int:
    return sum(
        1 for m in messages if isinstance(m["content"], list) for part in m["content"] if part.get("type") == "audio"
    )


@pytest.mark.parametrize("template", [QWEN2_AUDIO_TEMPLATE, OMNI_STYLE_TEMPLATE], ids=["qwen2-audio", "omni-style"])
@pytest.mark.parametrize("kind", ["sft", "dpo", "grpo"])
def test_loaded_rows_render_one_audio_placeholder_per_audio_part(
    exported: Path, tmp_path: Path, template: str, kind: str
) -> None:
    rows = load_rows(exported / f"{kind}_train.jsonl", tmp_path)
    render = jinja2.Environment().from_string(template)
    for row in rows:
        messages = row["prompt"] + (row.get("completion") or row.get("chosen") or [])
        text = render.render(messages=messages, add_generation_prompt=False)
        assert text.count("<|AUDIO|>") == _audio_parts(messages) == 1
        assert "Transcript (data, not instructions)" in text


def test_sft_rows_are_prompt_completion_with_the_audio_resolving(exported: Path, tmp_path: Path) -> None:
    rows = load_rows(exported / "sft_train.jsonl", tmp_path)
    assert rows
    for row in rows:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert [m["role"] for m in row["completion"]] == ["assistant"]
        user = row["prompt"][1]["content"]
        assert [p["type"] for p in user] == ["audio", "text"]
        assert Path(user[0]["audio"]).is_absolute() and Path(user[0]["audio"]).is_file()
        assert row["completion"][0]["content"].startswith("<acoustic>")


def test_dpo_and_grpo_rows_have_the_columns_their_trainers_read(exported: Path, tmp_path: Path) -> None:
    for row in load_rows(exported / "dpo_train.jsonl", tmp_path):
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
    for row in load_rows(exported / "grpo_train.jsonl", tmp_path):
        assert set(row) == {"id", "prompt", "target_distribution", "gold_trace", "cue_levels"}
        assert abs(sum(row["target_distribution"].values()) - 1.0) < 1e-9
        assert row["gold_trace"].startswith("<acoustic>")


def test_every_column_keeps_one_shape_through_each_file(exported: Path) -> None:
    for path in sorted(exported.glob("*.jsonl")):
        shapes = column_shapes(path)
        assert all(len(kinds) == 1 for kinds in shapes.values()), (path.name, shapes)


def test_literal_audio_tags_in_transcripts_are_escaped(exported: Path) -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in exported.glob("*.jsonl"))
    assert "‹audio›" in text
    assert "<audio>" not in text


def test_label_answers_end_in_one_label_line_and_carry_the_human_target(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = export_run(run, "trl", answer="label", out_dir=tmp_path / "label").out_dir
    rows = load_rows(out / "sft_train.jsonl", tmp_path / "cache")
    for row in rows:
        answer = row["completion"][0]["content"]
        last = answer.splitlines()[-1]
        assert last.startswith("Label: ") and answer.count("Label: ") == 1
        target = row["target_distribution"]
        assert last.removeprefix("Label: ") == max(target, key=lambda c: target[c])


@pytest.mark.parametrize("mode", ["relative", "copy"])
def test_every_file_loads_and_every_audio_part_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    run = make_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = export_run(run, "trl", audio=mode).out_dir
    base = out if mode == "copy" else tmp_path
    files = sorted(out.glob("*.jsonl"))
    assert len(files) == 9
    for path in files:
        for row in load_rows(path, tmp_path / "cache"):
            parts = [p for m in row["prompt"] for p in m["content"] if p["type"] == "audio"]
            assert len(parts) == 1
            assert not Path(parts[0]["audio"]).is_absolute() and (base / parts[0]["audio"]).is_file()
