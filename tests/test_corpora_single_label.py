"""The single-label corpora: MELD (mp4 clips decoded through ffmpeg), RAVDESS, ESD and TESS."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cotgen.acoustics.extract import extract_one
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import MALFORMED_ROW, MISSING_AUDIO, UNKNOWN_LABEL
from cotgen.corpora.esd import UNREADABLE_LINES
from cotgen.corpora.ravdess import NOT_AUDIO_ONLY
from cotgen.corpora.single_label import UNEXPECTED_NAME

MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None, reason="needs ffmpeg and espeak-ng"
)


def make_mp4(path: Path, text: str) -> None:
    """A small video clip with spoken audio, as MELD ships them (H.264 video, AAC audio)."""
    wav = path.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=3",
            "-i",
            str(wav),
            "-shortest",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    wav.unlink()


def write_meld(root: Path, clips: bool = False) -> Path:
    rows = {
        "train": [
            "1,\"Oh my God, he's lost it. He's totally lost it.\",Phoebe,sadness,negative,0,0,4,7,"
            '"00:20:57,256","00:21:00,049"',
            '2,What?,Monica,surprise,negative,0,1,4,7,"00:21:01,927","00:21:03,261"',
            '3,Or!,Chandler,joy,positive,0,2,4,7,"00:21:05,000","00:21:06,000"',
            '4,Hm.,Joey,neutral,neutral,0,3,4,7,"00:21:07,000","00:21:08,000"',
            '5,Okay.,Ross,neutral,neutral,1,0,2,3,"00:10:00,000","00:10:01,000"',
        ],
        "dev": [
            '1,"Oh, what, really?",Rachel,anger,negative,0,0,3,12,"00:01:00,000","00:01:02,000"',
            '2,Sure.,Ross,neutral,neutral,x,1,3,12,"00:01:03,000","00:01:04,000"',
            '3,Hm.,Joey,boredom,neutral,0,2,3,12,"00:01:05,000","00:01:06,000"',
        ],
        "test": [
            "1,Why do all your coffee mugs have numbers on the bottom?,Mark,surprise,positive,0,0,3,19,"
            '"00:14:38,079","00:14:40,763"'
        ],
    }
    folders = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
    root.mkdir(parents=True)
    for split, lines in rows.items():
        text = "\n".join([MELD_HEADER, *lines]) + "\n"
        (root / f"{split}_sent_emo.csv").write_bytes(text.replace("\n", "\r\n").encode())
        (root / folders[split]).mkdir()
    for split, name in [
        ("train", "dia0_utt0"),
        ("train", "dia0_utt1"),
        ("train", "dia0_utt2"),
        ("train", "dia0_utt3"),
        ("train", "dia1_utt0"),
        ("dev", "dia0_utt0"),
        ("test", "dia0_utt0"),
    ]:
        path = root / folders[split] / f"{name}.mp4"
        if clips:
            make_mp4(path, "what do you mean by that")
        else:
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (root / folders["train"] / "dia0_utt2.mp4").unlink()
    return root


def test_meld_one_hot_with_official_split_and_ids_unique_across_splits(tmp_path: Path) -> None:
    load = load_corpus("meld", write_meld(tmp_path / "MELD.Raw"))
    utts = {u.id: u for u in load.utterances}
    assert sorted(utts) == [
        "dev_dia0_utt0",
        "test_dia0_utt0",
        "train_dia0_utt0",
        "train_dia0_utt1",
        "train_dia0_utt3",
        "train_dia1_utt0",
    ]
    phoebe = utts["train_dia0_utt0"]
    assert phoebe.transcript == "Oh my God, he's lost it. He's totally lost it."
    assert phoebe.single_label and phoebe.distribution["sad"] == 1.0 and sum(phoebe.distribution.values()) == 1.0
    assert (phoebe.speaker, phoebe.session, phoebe.meta["season"]) == ("Phoebe", "Train", "4")
    assert phoebe.audio.endswith("train_splits/dia0_utt0.mp4")
    assert utts["dev_dia0_utt0"].session == "Development" and utts["test_dia0_utt0"].session == "Test"
    summary = load.summary()
    assert summary.dropped == {UNKNOWN_LABEL: 1, MALFORMED_ROW: 1, MISSING_AUDIO: 1}
    assert summary.single_label == summary.kept == 6
    assert summary.agreement is not None and summary.agreement.alpha is None
    assert "single-label utterances: 6 of 6" in str(summary)


def test_meld_context_follows_utterance_ids_and_includes_dropped_turns(tmp_path: Path) -> None:
    from cotgen.corpora.dialogue import with_context

    load = load_corpus("meld", write_meld(tmp_path / "MELD.Raw"))
    utts = {u.id: u for u in with_context(load.utterances, load.turns, 2)}
    assert utts["train_dia0_utt0"].context == []
    assert [(t.speaker, t.transcript) for t in utts["train_dia0_utt1"].context] == [
        ("Phoebe", "Oh my God, he's lost it. He's totally lost it.")
    ]
    assert utts["train_dia1_utt0"].context == []  # another dialogue
    # utt2 (Chandler) is dropped for its missing audio, but it was said, so the next turn quotes it
    assert [(t.speaker, t.transcript) for t in utts["train_dia0_utt3"].context] == [
        ("Monica", "What?"),
        ("Chandler", "Or!"),
    ]


@needs_ffmpeg
def test_meld_mp4_audio_is_measured_through_ffmpeg(tmp_path: Path) -> None:
    load = load_corpus("meld", write_meld(tmp_path / "MELD.Raw", clips=True))
    row = extract_one("x", load.utterances[0].audio)
    assert row["error"] is None
    assert 1.0 < row["duration_s"] < 3.5 and row["f0_mean_hz"] > 50


def write_ravdess(root: Path) -> Path:
    names = {
        "Actor_01": ["03-01-05-01-02-01-01.wav", "03-01-02-02-01-02-01.wav", "01-01-05-01-02-01-01.wav"],
        "Actor_12": ["03-01-08-02-01-01-12.wav", "03-01-09-01-01-01-12.wav", "03-01-03-01-01-01-11.wav"],
    }
    for actor, files in names.items():
        (root / actor).mkdir(parents=True)
        for name in files:
            (root / actor / name).write_bytes(b"RIFF")
    return root


def test_ravdess_reads_seven_fields(tmp_path: Path) -> None:
    load = load_corpus("ravdess", write_ravdess(tmp_path / "ravdess"))
    utts = {u.id: u for u in load.utterances}
    assert load.classes == ["ang", "sur", "cal"]  # the codes present, canonical order
    angry = utts["03-01-05-01-02-01-01"]
    assert angry.distribution["ang"] == 1.0 and angry.gender == "M" and angry.speaker == "Actor_01"
    assert angry.transcript == "Dogs are sitting by the door." and angry.single_label
    assert utts["03-01-08-02-01-01-12"].gender == "F" and utts["03-01-08-02-01-01-12"].meta["intensity"] == "strong"
    assert load.summary().dropped == {NOT_AUDIO_ONLY: 1, UNEXPECTED_NAME: 2}  # emotion 09; actor 11 in Actor_12


def write_esd(root: Path) -> Path:
    zh, en = root / "0001", root / "0011"
    for speaker, emotion, split, n in [
        (zh, "Angry", "train", 351),
        (zh, "Neutral", "test", 1),
        (en, "Happy", "evaluation", 721),
        (en, "Surprise", "train", 1401),
        (en, "Calm", "train", 5),
    ]:
        folder = speaker / emotion / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{speaker.name}_{n:06d}.wav").write_bytes(b"RIFF")
    (zh / "0001.txt").write_bytes(
        "0001_000001\t打远一看，它们的确很是美丽，\t中立\r\n0001_000351\t他生气了。\t生气\r\n".encode("gb18030")
    )
    (en / "0011.txt").write_bytes(
        "0011_000721\tThe nine the eggs, I keep.\tHappy\n0011_001401\tYes, it is.\tSurprise\nbroken line\n".encode(
            "utf-16"
        )
    )
    return root


def test_esd_labels_splits_and_transcript_encodings(tmp_path: Path) -> None:
    load = load_corpus("esd", write_esd(tmp_path / "esd"))
    utts = {u.id: u for u in load.utterances}
    assert sorted(utts) == ["0001_000001", "0001_000351", "0011_000721", "0011_001401"]
    assert utts["0001_000351"].transcript == "他生气了。" and utts["0001_000351"].session == "Train"
    assert utts["0001_000351"].distribution["ang"] == 1.0 and utts["0001_000351"].meta["language"] == "zh"
    assert (
        utts["0011_000721"].transcript == "The nine the eggs, I keep." and utts["0011_000721"].session == "Development"
    )
    assert utts["0001_000001"].session == "Test"
    summary = load.summary()
    assert summary.dropped == {UNEXPECTED_NAME: 1}  # the Calm folder
    assert summary.notes == {UNREADABLE_LINES: 1}


def test_tess_reads_speaker_word_and_emotion(tmp_path: Path) -> None:
    root = tmp_path / "tess"
    for folder, name in [
        ("OAF_angry", "OAF_back_angry.wav"),
        ("YAF_pleasant_surprised", "YAF_dog_ps.wav"),
        ("OAF_neutral", "OA_bite_neutral.wav"),
        ("YAF_sad", "YAF_bath_sad.WAV"),
    ]:
        (root / folder).mkdir(parents=True)
        (root / folder / name).write_bytes(b"RIFF")
    load = load_corpus("tess", root)
    utts = {u.id: u for u in load.utterances}
    assert sorted(utts) == ["OAF_back_angry", "YAF_bath_sad", "YAF_dog_ps"]
    assert utts["YAF_dog_ps"].distribution["sur"] == 1.0 and utts["YAF_dog_ps"].transcript == "Say the word dog."
    assert load.summary().dropped == {UNEXPECTED_NAME: 1}
