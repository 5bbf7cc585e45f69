"""MSP-Podcast recipe on fixture trees in both worker-label forms (labels_detailed.csv and raw labels.txt)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import MALFORMED_BLOCK, MALFORMED_ROW, MISSING_AUDIO, NO_VOTES, OUTSIDE_CLASS_SET
from cotgen.corpora.msp_podcast import parse_emo_detail

CONSENSUS_HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
# file -> (EmoClass, act, val, dom, speaker, gender, split, [worker primary emotions])
FILES = {
    "MSP-PODCAST_0001_0008.wav": (
        "N",
        2.4,
        4.0,
        2.8,
        "127",
        "Female",
        "Train",
        ["Neutral", "Neutral", "Happy", "Sad", "Neutral"],
    ),
    "MSP-PODCAST_0001_0139.wav": (
        "A",
        5.2,
        2.0,
        5.6,
        "127",
        "Female",
        "Development",
        ["Angry", "angry", "Disgust", "Contempt", "Other-annoyed"],
    ),
    "MSP-PODCAST_0002_0033.wav": (
        "X",
        3.0,
        3.5,
        3.0,
        "Unknown",
        "Unknown",
        "Test1",
        ["Happy", "Surprise", "Other-confused", "Neutral", "Sad", "Angry"],
    ),
    "MSP-PODCAST_0003_0001.wav": (
        "S",
        2.0,
        2.0,
        2.0,
        "433",
        "Male",
        "Test2",
        ["Sad", "Sad", "Other-Tired", "Neutral", "Sad", "Fear"],
    ),
    "MSP-PODCAST_0004_0010.wav": (
        "U",
        5.0,
        5.0,
        4.0,
        "90",
        "Male",
        "Test1",
        ["Surprise", "Surprise", "Happy", "Surprise", "Neutral"],
    ),
}
SECONDARY = "Concerned,Confused"


def detail(worker: int, primary: str) -> str:
    return f"WORKER{worker:08d}; {primary}; {SECONDARY}; A:3.000000; V:3.000000; D:4.000000;"


def write_tree(root: Path, form: str, audio: bool = True, missing: str | None = None) -> Path:
    """An MSP-Podcast release with worker labels as labels_detailed.csv (form 'csv') or labels.txt ('txt')."""
    labels = root / "Labels"
    labels.mkdir(parents=True)
    rows = [CONSENSUS_HEADER]
    for name, (emo, act, val, dom, spk, gender, split, _) in FILES.items():
        rows.append(f"{name},{emo},{act},{val},{dom},{spk},{gender},{split}")
    (labels / "labels_consensus.csv").write_text("\n".join(rows) + "\n")
    if form == "csv":
        lines = ["FileName,EmoDetail"]
        for name, spec in FILES.items():
            lines += [f'{name},"{detail(i, primary)}"' for i, primary in enumerate(spec[7], start=1)]
        (labels / "labels_detailed.csv").write_text("\n".join(lines) + "\n")
    else:
        blocks = []
        for name, (emo, act, val, dom, *_rest, workers) in FILES.items():
            head = f"{name}; {emo}; A:{act:.6f}; V:{val:.6f}; D:{dom:.6f};"
            blocks.append("\n".join([head] + [detail(i, p) for i, p in enumerate(workers, start=1)]))
        (labels / "labels.txt").write_text("\n\n".join(blocks) + "\n")
    if audio:
        (root / "Audios").mkdir()
        for name in FILES:
            if name != missing:
                (root / "Audios" / name).write_bytes(b"RIFF")
    (root / "Transcripts").mkdir()
    (root / "Transcripts" / "MSP-PODCAST_0001_0008.txt").write_text("so that's what I was saying, you know\n")
    return root


@pytest.mark.parametrize("form", ["csv", "txt"])
def test_four_classes_by_consensus_with_renormalised_worker_shares(tmp_path: Path, form: str) -> None:
    load = load_corpus("msp-podcast", write_tree(tmp_path / form, form))
    utts = {u.id: u for u in load.utterances}
    assert load.classes == ["neu", "hap", "ang", "sad"]
    assert sorted(utts) == ["MSP-PODCAST_0001_0008", "MSP-PODCAST_0001_0139", "MSP-PODCAST_0003_0001"]
    assert utts["MSP-PODCAST_0001_0008"].distribution == pytest.approx({"neu": 0.6, "hap": 0.2, "ang": 0.0, "sad": 0.2})
    angry = utts["MSP-PODCAST_0001_0139"]  # ang 2 of 5, the rest out of the set
    assert angry.distribution == {"neu": 0.0, "hap": 0.0, "ang": 1.0, "sad": 0.0}
    assert angry.vote_counts == {"ang": 2.0, "dis": 1.0, "con": 1.0, "oth": 1.0}
    assert angry.votes == [["ang"], ["ang"], ["dis"], ["con"], ["oth"]] and angry.n_annotators == 5
    assert utts["MSP-PODCAST_0003_0001"].distribution == pytest.approx({"neu": 0.25, "hap": 0, "ang": 0, "sad": 0.75})
    assert load.summary().dropped == {OUTSIDE_CLASS_SET: 2}  # X (no agreement) and U (surprise)


@pytest.mark.parametrize("form", ["csv", "txt"])
def test_all_classes_fold_every_other_into_oth(tmp_path: Path, form: str) -> None:
    load = load_corpus("msp-podcast", write_tree(tmp_path / form, form), classes="all")
    utts = {u.id: u for u in load.utterances}
    assert len(utts) == 5
    assert load.classes == ["neu", "hap", "ang", "sad", "sur", "fea", "dis", "con", "oth"]
    mixed = utts["MSP-PODCAST_0002_0033"]
    assert mixed.distribution["oth"] == pytest.approx(1 / 6) and mixed.majority is None
    assert utts["MSP-PODCAST_0004_0010"].majority == "sur"


def test_both_label_forms_give_identical_records(tmp_path: Path) -> None:
    from_csv = load_corpus("msp-podcast", write_tree(tmp_path / "a", "csv"), classes="all")
    from_txt = load_corpus("msp-podcast", write_tree(tmp_path / "b", "txt"), classes="all")
    strip = [{**u.model_dump(), "audio": Path(u.audio).name} for u in from_csv.utterances]
    assert strip == [{**u.model_dump(), "audio": Path(u.audio).name} for u in from_txt.utterances]


def test_speaker_gender_split_vad_transcript(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", "csv")
    utts = {u.id: u for u in load_corpus("msp-podcast", root, classes="all").utterances}
    first = utts["MSP-PODCAST_0001_0008"]
    assert (first.speaker, first.gender, first.session) == ("127", "F", "Train")
    assert first.vad is not None and (first.vad.valence, first.vad.arousal, first.vad.dominance) == (4.0, 2.4, 2.8)
    assert first.transcript == "so that's what I was saying, you know"
    assert first.audio == str(root / "Audios" / "MSP-PODCAST_0001_0008.wav")
    unknown = utts["MSP-PODCAST_0002_0033"]
    # "Unknown" is no speaker id: kept as one, every such clip would be one shared speaker (issue 11).
    assert (unknown.speaker, unknown.gender, unknown.session, unknown.transcript) == (None, None, "Test1", None)


def test_missing_audio_is_dropped_or_kept(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", "csv", missing="MSP-PODCAST_0001_0008.wav")
    assert load_corpus("msp-podcast", root).summary().dropped == {OUTSIDE_CLASS_SET: 2, MISSING_AUDIO: 1}
    kept = load_corpus("msp-podcast", root, allow_missing_audio=True)
    assert kept.missing_audio == ["MSP-PODCAST_0001_0008"]


def test_malformed_worker_entries_drop_their_file_with_file_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "csv", "csv")
    detailed = root / "Labels" / "labels_detailed.csv"
    lines = detailed.read_text().splitlines()
    lines[2] = 'MSP-PODCAST_0001_0008.wav,"WORKER00000002; Sleepy; ; A:1; V:1; D:1;"'
    lines.append('MSP-PODCAST_0003_0001.wav,""')
    detailed.write_text("\n".join(lines) + "\n")
    load = load_corpus("msp-podcast", root)
    assert [u.id for u in load.utterances] == ["MSP-PODCAST_0001_0139"]
    bad = [d for d in load.dropped if d.reason == MALFORMED_ROW]
    assert [d.where for d in bad] == [f"{detailed}:3", f"{detailed}:{len(lines)}"]
    assert "Sleepy" in bad[0].detail

    raw_root = write_tree(tmp_path / "txt", "txt")
    raw = raw_root / "Labels" / "labels.txt"
    text = raw.read_text().replace("WORKER00000003; Happy;", "WORKER00000003;", 1)
    raw.write_text("WORKER00000009; Neutral; ; A:1; V:1; D:1;\n\n" + text)
    load = load_corpus("msp-podcast", raw_root)
    dropped = {d.where: d.reason for d in load.dropped}
    assert dropped[f"{raw}:1"] == MALFORMED_BLOCK  # a worker line outside any block
    assert dropped[f"{raw}:6"] == MALFORMED_BLOCK  # the third worker of the first block lost its emotion
    assert "MSP-PODCAST_0001_0008" not in {u.id for u in load.utterances}


def test_a_file_without_worker_labels_is_dropped(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", "csv")
    consensus = root / "Labels" / "labels_consensus.csv"
    consensus.write_text(consensus.read_text() + "MSP-PODCAST_0009_0001.wav,N,3,3,3,1,Male,Train\n")
    (root / "Audios" / "MSP-PODCAST_0009_0001.wav").write_bytes(b"RIFF")
    load = load_corpus("msp-podcast", root)
    assert load.summary().dropped[NO_VOTES] == 1


@pytest.mark.parametrize(
    ("name", "encode", "line"),
    [
        # Latin-1 (a spreadsheet's export) with one accented speaker name, on the fifth line.
        ("labels_consensus.csv", lambda text: text.replace(",433,", ",J\u00e9r\u00f4me,").encode("latin-1"), 5),
        ("labels_detailed.csv", lambda text: text.encode("utf-16"), 1),
    ],
)
def test_a_label_file_that_is_not_utf8_is_one_error_naming_file_and_line(
    tmp_path: Path, name: str, encode: Callable[[str], bytes], line: int
) -> None:
    root = write_tree(tmp_path / "r", "csv")
    path = root / "Labels" / name
    path.write_bytes(encode(path.read_text()))
    with pytest.raises(CotgenError) as raised:
        load_corpus("msp-podcast", root)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: not UTF-8 text (byte 0x")
    assert message.endswith("save the file as UTF-8") and "\n" not in message


def test_bad_roots_name_the_layout_and_first_missing_thing(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match=r"MSP-Podcast layout .*missing .*Labels/labels_consensus\.csv$"):
        load_corpus("msp-podcast", tmp_path)
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(CONSENSUS_HEADER + "\n")
    with pytest.raises(CotgenError, match=r"missing .*Labels/labels_detailed\.csv$"):
        load_corpus("msp-podcast", tmp_path)
    (tmp_path / "Labels" / "labels.txt").write_text("")
    with pytest.raises(CotgenError, match=r"missing .*/Audios$"):
        load_corpus("msp-podcast", tmp_path)
    (tmp_path / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClass\n")
    with pytest.raises(CotgenError, match=r"labels_consensus\.csv:1: missing columns EmoAct"):
        load_corpus("msp-podcast", tmp_path, allow_missing_audio=True)


def test_emo_detail_primary_emotion_codes() -> None:
    assert parse_emo_detail(detail(1, "Other-confused")) == ("WORKER00000001", "oth")
    assert parse_emo_detail("WORKER00000002; Contempt; ; A:1; V:1; D:1;") == ("WORKER00000002", "con")
    with pytest.raises(ValueError, match="not an MSP-Podcast category"):
        parse_emo_detail("WORKER00000003; Bored; ; A:1;")
