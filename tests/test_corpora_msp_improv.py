"""MSP-IMPROV recipe on a fixture Evaluation.txt with the release's block shapes and its odd rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import MALFORMED_BLOCK, MISSING_AUDIO, OUTSIDE_CLASS_SET, UNKNOWN_LABEL
from cotgen.corpora.msp_improv import DUPLICATE_RATERS, parse_clip_id

HEADER = "UTD-IMPROV-{id}.avi; {label}; A:{a}; V:{v}; D:{d} ; N:{n};"
RATER = "{rater}; {primary}; {secondary}; A:3.000000; V:{v}; D:3.000000; N:2.000000;"

# (id, header label, [(rater, primary, secondary)]) in file order
BLOCKS = [
    ("S01A-F01-P-MF01", "A", [("W1", "Angry", "Annoyed,Frustrated"), ("W2", "Angry", ""), ("W3", "Sad", "")]),
    # W2 repeated: counts once
    (
        "S01H-M01-R-FM02",
        "N",
        [("W1", "Neutral", ""), ("W2", "Happy", "Amused"), ("W2", "Angry", ""), ("W4", "Neutral", "")],
    ),
    ("S02S-F02-S-FM01", "X", [("W1", "Sad", ""), ("W5", "Other-Tired", ""), ("W6", "Happy", "")]),
    ("S03N-M03-T-MF03", "O", [("W1", "Other", "Bored"), ("W7", "Neutral", "")]),
    ("S06A-F06-P-MF01", "S", [("W1", "Sad", ""), ("W8", "Sad", ""), ("W9", "Neutral", "")]),
]


def _block(clip: str, label: str, raters: list[tuple[str, str, str]]) -> list[str]:
    lines = [
        HEADER.format(
            id=clip,
            label=label,
            a="3.000000",
            v="NaN" if clip.startswith("S06") else "2.500000",
            d="3.000000",
            n=f"{len(raters)}.000000",
        )
    ]
    lines += [RATER.format(rater=r, primary=p, secondary=s, v="NaN" if r == "W9" else "3.000000") for r, p, s in raters]
    return lines


def write_tree(root: Path, extra: list[str] | None = None, audio: bool = True, crlf: bool = True) -> Path:
    """A release with a BOM, Windows line ends, NaN ratings, empty secondaries and a repeated rater."""
    root.mkdir(parents=True)
    blocks = ["\n".join(_block(*spec)) for spec in BLOCKS] + (extra or [])
    text = "\ufeff" + "\n\n".join(blocks) + "\n"
    (root / "Evaluation.txt").write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
    if audio:
        for clip, _, _ in BLOCKS:
            parsed = parse_clip_id(f"UTD-IMPROV-{clip}")
            folder = root / "Audio" / f"session{parsed.session}" / parsed.folder / parsed.kind
            folder.mkdir(parents=True, exist_ok=True)
            (folder / parsed.audio_name).write_bytes(b"RIFF")
    return root


def test_clip_id_gives_speaker_gender_session_and_audio_name() -> None:
    clip = parse_clip_id("UTD-IMPROV-S01A-F01-P-MF01")
    assert (clip.speaker, clip.gender, clip.session, clip.folder, clip.kind) == ("F01", "F", "1", "S01A", "P")
    assert clip.audio_name == "MSP-IMPROV-S01A-F01-P-MF01.wav"
    assert parse_clip_id("UTD-IMPROV-S20N-M06-T-FM12").session == "6"
    with pytest.raises(ValueError, match="UTD-IMPROV-S<nn>"):
        parse_clip_id("UTD-IMPROV-S01A-X01-P-MF01")


def test_four_classes_by_header_with_each_rater_once(tmp_path: Path) -> None:
    load = load_corpus("msp-improv", write_tree(tmp_path / "improv"))
    utts = {u.id: u for u in load.utterances}
    assert load.classes == ["neu", "hap", "ang", "sad"]
    assert sorted(utts) == ["UTD-IMPROV-S01A-F01-P-MF01", "UTD-IMPROV-S01H-M01-R-FM02", "UTD-IMPROV-S06A-F06-P-MF01"]
    angry = utts["UTD-IMPROV-S01A-F01-P-MF01"]
    assert angry.distribution == pytest.approx({"neu": 0, "hap": 0, "ang": 2 / 3, "sad": 1 / 3})
    assert (angry.speaker, angry.gender, angry.session, angry.n_annotators) == ("F01", "F", "1", 3)
    assert angry.audio.endswith("Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-MF01.wav")
    repeated = utts["UTD-IMPROV-S01H-M01-R-FM02"]  # W2's second line (Angry) is ignored
    assert repeated.votes == [["neu"], ["hap"], ["neu"]] and repeated.n_annotators == 3
    assert repeated.distribution == pytest.approx({"neu": 2 / 3, "hap": 1 / 3, "ang": 0, "sad": 0})
    nan_header = utts["UTD-IMPROV-S06A-F06-P-MF01"]
    assert nan_header.vad is not None and nan_header.vad.valence is None and nan_header.vad.arousal == 3.0
    assert nan_header.session == "6"
    summary = load.summary()
    assert summary.dropped == {OUTSIDE_CLASS_SET: 2}  # X (no agreement) and O (other)
    assert summary.notes == {DUPLICATE_RATERS: 1}
    assert summary.agreement is not None and summary.agreement.units == 3


def test_all_classes_keep_other_and_no_agreement(tmp_path: Path) -> None:
    load = load_corpus("msp-improv", write_tree(tmp_path / "improv", crlf=False), classes="all")
    assert load.classes == ["neu", "hap", "ang", "sad", "oth"]
    assert len(load.utterances) == 5
    tired = next(u for u in load.utterances if u.id == "UTD-IMPROV-S02S-F02-S-FM01")
    assert tired.vote_counts == {"hap": 1.0, "sad": 1.0, "oth": 1.0} and tired.majority is None


def test_bad_blocks_are_dropped_by_reason_and_the_rest_kept(tmp_path: Path) -> None:
    extra = [
        "UTD-IMPROV-S04A-F04-P-MF01.avi; Q; A:3.0; V:3.0; D:3.0 ; N:1.0;\nW1; Angry; ; A:3; V:3; D:3; N:1;",
        "UTD-IMPROV-S04H-F04-P-MF01.avi; H; A:3.0; V:3.0; D:3.0 ; N:1.0;\nW1; Joyful; ; A:3; V:3; D:3; N:1;",
        "UTD-IMPROV-S04S-F04-P-MF01.avi; S; A:3.0; V:3.0; D:3.0 ; N:1.0;\nW1; Sad; ; A:three; V:3; D:3; N:1;",
        "UTD-IMPROV-BAD.avi; S; A:3.0; V:3.0; D:3.0 ; N:1.0;\nW1; Sad; ; A:3; V:3; D:3; N:1;",
        "W2; Sad; ; A:3; V:3; D:3; N:1;",
        "UTD-IMPROV-S05N-M05-P-MF01.avi; N; A:3.0; V:3.0; D:3.0 ; N:1.0;\nW1; Neutral; ; A:3; V:3; D:3; N:1;",
    ]
    load = load_corpus("msp-improv", write_tree(tmp_path / "improv", extra), classes="all")
    dropped = load.summary().dropped
    assert dropped == {UNKNOWN_LABEL: 2, MALFORMED_BLOCK: 3, MISSING_AUDIO: 1}
    where = {d.detail.split(":")[0]: d.where for d in load.dropped if d.reason == UNKNOWN_LABEL}
    assert all(":" in w and w.split(":")[-1].isdigit() for w in where.values())
    assert len(load.utterances) == 5


def test_evalution_spelling_and_missing_label_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "improv")
    (root / "Evaluation.txt").rename(root / "Evalution.txt")
    assert len(load_corpus("msp-improv", root, classes="all").utterances) == 5
    (root / "Evalution.txt").unlink()
    with pytest.raises(CotgenError, match="Evaluation.txt"):
        load_corpus("msp-improv", root)
