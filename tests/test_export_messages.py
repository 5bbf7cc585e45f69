"""The shared export pieces: tag escaping (property-tested), prompt splitting, answers and audio paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cotgen.core.errors import CotgenError
from cotgen.export.messages import AudioPaths, MissingAudioError, answer, copy_name, escape_audio_tags, split_prompt
from cotgen.prompts.student import student_messages

_pieces = st.sampled_from(["<audio>", "< Audio >", "</audio>", "<AUDIO>", "audio", "<", ">", "text", " ", "\n"])


@given(st.lists(_pieces, max_size=20).map("".join))
def test_escaped_text_never_holds_an_audio_tag(text: str) -> None:
    escaped = escape_audio_tags(text)
    assert "<audio>" not in escaped.lower().replace(" ", "")
    assert escape_audio_tags(escaped) == escaped


@given(st.text(alphabet=st.characters(blacklist_characters="<>")))
def test_text_without_angle_brackets_is_unchanged(text: str) -> None:
    assert escape_audio_tags(text) == text


def test_split_prompt_takes_the_student_prompt_apart() -> None:
    parts = split_prompt(student_messages("/a.wav", "I said <audio> twice <audio>", ["neu", "ang"]), "where")
    assert parts.audios == ["/a.wav"]
    assert parts.user.count("‹audio›") == 2 and "<audio>" not in parts.user
    assert parts.system.startswith("You are an expert")


def test_split_prompt_names_the_record_when_there_is_no_audio() -> None:
    prompt = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    with pytest.raises(CotgenError, match="sft.jsonl record 3: the user message has no audio part"):
        split_prompt(prompt, "sft.jsonl record 3")


def test_label_answer_names_the_top_class_and_text_answer_is_unchanged() -> None:
    trace = (
        "<acoustic>a</acoustic><lexical>b</lexical><ambiguity>c</ambiguity>"
        '<distribution>{"neu": 0.30, "ang": 0.70}</distribution>'
    )
    assert answer(trace, "text", "w") == trace
    assert answer(trace, "label", "w") == trace + "\nLabel: ang"
    with pytest.raises(CotgenError, match="w: cannot read the trace's distribution"):
        answer("no tags here", "label", "w")


def test_audio_paths_relative_and_missing(tmp_path: Path) -> None:
    clip = tmp_path / "clips" / "a.wav"
    clip.parent.mkdir()
    clip.write_bytes(b"RIFF")
    relative = AudioPaths(mode="relative", out_dir=tmp_path / "out", relative_to=tmp_path / "out")
    assert relative("a", str(clip)) == "../clips/a.wav"
    copy = AudioPaths(mode="copy", out_dir=tmp_path / "out", relative_to=tmp_path)
    name = f"id_with_odd-{copy_name('id/with:odd')[-10:]}.wav"
    assert copy("id/with:odd", str(clip)) == f"audio/{name}"
    assert (tmp_path / "out" / "audio" / name).read_bytes() == b"RIFF"
    with pytest.raises(MissingAudioError, match="audio of b not found"):
        relative("b", str(tmp_path / "nope.wav"))


def test_copied_clips_of_colliding_ids_each_keep_their_own_bytes(tmp_path: Path) -> None:
    # Each of these pairs became one file name before (non-ASCII -> "_", separators -> "_", or only case apart),
    # so the second copy overwrote the first and one row pointed at the other row's clip (issue 11 item 7).
    ids = ["说话人1_01", "录音人1_01", "a/b", "a:b", "a_b", "Spk", "spk", ".hidden", ""]
    clips = {}
    for n, utterance_id in enumerate(ids):
        clip = tmp_path / "clips" / f"{n}.wav"
        clip.parent.mkdir(exist_ok=True)
        clip.write_bytes(f"RIFF clip {n}".encode())
        clips[utterance_id] = clip
    first = AudioPaths(mode="copy", out_dir=tmp_path / "out", relative_to=tmp_path)
    paths = {utterance_id: first(utterance_id, str(clip)) for utterance_id, clip in clips.items()}
    assert len({p.casefold() for p in paths.values()}) == len(ids)
    for utterance_id, path in paths.items():
        assert (tmp_path / "out" / path).read_bytes() == clips[utterance_id].read_bytes()
    assert paths["说话人1_01"] == "audio/说话人1_01.wav"  # kept as it is where the file system allows
    assert not any(p.startswith("audio/.") for p in paths.values())
    again = AudioPaths(mode="copy", out_dir=tmp_path / "again", relative_to=tmp_path)
    assert {i: again(i, str(c)) for i, c in clips.items()} == paths  # stable: the same names on every export
