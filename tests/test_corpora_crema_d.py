"""CREMA-D recipe on the real label files (tests/shared_data.py says where they are looked for; no audio)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from shared_data import SHARED_CREMA_D, needs_crema_d

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.crema_d import parse_clip_name
from cotgen.corpora.entries import MALFORMED_ROW, MISSING_AUDIO, NO_VOTES_IN_SET, OUTSIDE_CLASS_SET


def voice_rows() -> list[dict[str, str]]:
    """The voice-only rows, read here independently of the recipe."""
    with (SHARED_CREMA_D / "processedResults" / "tabulatedVotes.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row[""].startswith("1")]


@pytest.fixture(scope="module")
def crema():
    return load_corpus("crema-d", SHARED_CREMA_D, allow_missing_audio=True)


@needs_crema_d
def test_all_7442_voice_clips_are_kept_with_six_classes(crema) -> None:
    assert len(crema.utterances) == 7442 == len(voice_rows())
    assert crema.dropped == []
    assert sorted(crema.classes) == ["ang", "dis", "fea", "hap", "neu", "sad"]
    assert len(crema.missing_audio) == 7442  # recorded, not fatal
    assert {u.corpus for u in crema.utterances} == {"crema-d"}
    assert len({u.id for u in crema.utterances}) == 7442
    assert all(u.audio.endswith(f"/AudioWAV/{u.id}.wav") and Path(u.audio).is_absolute() for u in crema.utterances)


@needs_crema_d
def test_distributions_are_vote_counts_over_num_responses(crema) -> None:
    utts = {u.id: u for u in crema.utterances}
    assert utts["1001_IEO_NEU_XX"].distribution == pytest.approx(
        {"neu": 10 / 11, "hap": 1 / 11, "ang": 0, "sad": 0, "fea": 0, "dis": 0}
    )
    assert utts["1001_IEO_NEU_XX"].n_annotators == 11 and utts["1001_IEO_NEU_XX"].majority == "neu"
    hi = utts["1001_IEO_HAP_HI"]  # A 2, H 6, N 2 of 10: the raters did not all hear happiness
    assert hi.distribution == pytest.approx({"ang": 0.2, "hap": 0.6, "neu": 0.2, "sad": 0, "fea": 0, "dis": 0})
    assert hi.vote_counts == {"hap": 6.0, "ang": 2.0, "neu": 2.0}
    tie = utts["1076_MTI_ANG_XX"]  # A 2, D 3, N 3, S 1 of 9: the file's emoVote is "D:N"
    assert tie.distribution["dis"] == tie.distribution["neu"] == pytest.approx(3 / 9)
    assert tie.majority is None
    for row in voice_rows()[::500]:
        utt = utts[row["fileName"]]
        total = int(row["numResponses"])
        expected = {
            code: int(row[col]) / total for col, code in zip("ADFHNS", ["ang", "dis", "fea", "hap", "neu", "sad"])
        }
        assert utt.distribution == pytest.approx(expected)
        assert utt.n_annotators == total


@needs_crema_d
def test_ties_match_the_files_own_plurality_votes(crema) -> None:
    ties_in_file = sum(1 for row in voice_rows() if ":" in row["emoVote"])
    assert sum(1 for u in crema.utterances if u.majority is None) == ties_in_file


@needs_crema_d
def test_speakers_genders_transcripts_and_metadata(crema) -> None:
    with (SHARED_CREMA_D / "VideoDemographics.csv").open(newline="") as handle:
        sexes = {row["ActorID"]: row["Sex"] for row in csv.DictReader(handle)}
    assert {u.speaker for u in crema.utterances} == set(sexes)  # 91 actors
    for utt in crema.utterances:
        assert utt.gender == {"Male": "M", "Female": "F"}[sexes[utt.speaker]]
    assert len({u.speaker for u in crema.utterances if u.gender == "M"}) == 48
    utts = {u.id: u for u in crema.utterances}
    assert utts["1001_DFA_ANG_XX"].transcript == "Don't forget a jacket."
    assert utts["1091_WSI_SAD_XX"].transcript == "We'll stop in a couple of minutes."
    assert utts["1002_IEO_FEA_HI"].meta == {"intended_emotion": "fea", "level": "HI", "sentence": "IEO"}
    assert utts["1002_IEO_FEA_HI"].votes is None and utts["1002_IEO_FEA_HI"].session is None


@needs_crema_d
def test_four_classes_keep_clips_by_intended_emotion(crema) -> None:
    load = load_corpus("crema_d", SHARED_CREMA_D, classes="4", allow_missing_audio=True)
    in_set = [r for r in voice_rows() if r["fileName"].split("_")[2] in {"NEU", "HAP", "ANG", "SAD"}]
    no_mass = [r for r in in_set if sum(int(r[c]) for c in "AHNS") == 0]
    assert len(load.utterances) == len(in_set) - len(no_mass)
    assert load.summary().dropped == {OUTSIDE_CLASS_SET: 7442 - len(in_set), NO_VOTES_IN_SET: len(no_mass)}
    assert load.classes == ["neu", "hap", "ang", "sad"]


@needs_crema_d
def test_without_the_audio_folder_the_error_names_it_and_the_way_out() -> None:
    with pytest.raises(CotgenError, match=r"missing .*crema-d/AudioWAV$") as raised:
        load_corpus("crema-d", SHARED_CREMA_D)
    assert "--allow-missing-audio" in str(raised.value)


@needs_crema_d
def test_present_audio_is_found_and_absent_audio_dropped(tmp_path: Path) -> None:
    root = tmp_path / "CREMA-D"
    shutil.copytree(SHARED_CREMA_D, root)
    (root / "AudioWAV").mkdir()
    (root / "AudioWAV" / "1001_IEO_NEU_XX.wav").write_bytes(b"RIFF")
    load = load_corpus("crema-d", root)
    assert [u.id for u in load.utterances] == ["1001_IEO_NEU_XX"]
    assert load.summary().dropped == {MISSING_AUDIO: 7441}


def test_malformed_rows_are_dropped_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "crema"
    (root / "processedResults").mkdir(parents=True)
    (root / "VideoDemographics.csv").write_text('"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","C","N"\n')
    header = '"","A","D","F","H","N","S","fileName","numResponses","agreement","emoVote"\n'
    rows = [
        '"100001",0,0,0,1,10,0,"1001_IEO_NEU_XX",11,0.9,"N"',
        '"100002",0,0,0,3,6,0,"1001_IEO_HAP_LO",10,0.6,"N"',  # counts add to 9, not 10
        '"100003",0,0,0,4,7,0,"1001_XYZ_HAP_MD",11,0.6,"N"',  # unknown sentence code
        '"100004",0,0,0,4,7',  # truncated row
        '"200001",0,0,0,1,10,0,"1001_IEO_NEU_XX",11,0.9,"N"',  # face only: not a voice row
    ]
    (root / "processedResults" / "tabulatedVotes.csv").write_text(header + "\n".join(rows) + "\n")
    load = load_corpus("crema-d", root, allow_missing_audio=True)
    assert [u.id for u in load.utterances] == ["1001_IEO_NEU_XX"]
    votes_file = root / "processedResults" / "tabulatedVotes.csv"
    assert [(d.reason, d.where) for d in load.dropped] == [
        (MALFORMED_ROW, f"{votes_file}:3"),
        (MALFORMED_ROW, f"{votes_file}:4"),
        (MALFORMED_ROW, f"{votes_file}:5"),
    ]
    assert "numResponses" in load.dropped[0].detail


DEMOGRAPHICS = '"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","C","N"\n'
VOTES_HEADER = '"","A","D","F","H","N","S","fileName","numResponses","agreement","emoVote"\n'
VOTE_ROW = '"100001",0,0,0,1,10,0,"1001_IEO_NEU_XX",11,0.9,"N"\n'


def write_label_files(root: Path, demographics: bytes, votes: bytes) -> tuple[Path, Path]:
    """A CREMA-D label tree (no audio) with both CSV files given as raw bytes."""
    (root / "processedResults").mkdir(parents=True)
    paths = root / "VideoDemographics.csv", root / "processedResults" / "tabulatedVotes.csv"
    paths[0].write_bytes(demographics)
    paths[1].write_bytes(votes)
    return paths


@pytest.mark.parametrize(
    ("which", "demographics", "votes", "where"),
    [
        # A spreadsheet's Latin-1 export: one accented byte on the third line of the votes.
        (1, DEMOGRAPHICS.encode(), (VOTES_HEADER + VOTE_ROW + VOTE_ROW.replace('"N"', '"\xc9"')).encode("latin-1"), 3),
        # A UTF-16 export of the demographics: its byte-order mark is not UTF-8 on line 1.
        (0, DEMOGRAPHICS.encode("utf-16"), (VOTES_HEADER + VOTE_ROW).encode(), 1),
    ],
)
def test_a_label_file_that_is_not_utf8_is_one_error_naming_file_and_line(
    tmp_path: Path, which: int, demographics: bytes, votes: bytes, where: int
) -> None:
    paths = write_label_files(tmp_path / "crema", demographics, votes)
    with pytest.raises(CotgenError) as raised:
        load_corpus("crema-d", tmp_path / "crema", allow_missing_audio=True)
    message = str(raised.value)
    assert message.startswith(f"{paths[which]}:{where}: not UTF-8 text (byte 0x")
    assert message.endswith("save the file as UTF-8") and "\n" not in message


def test_label_files_saved_with_a_utf8_byte_order_mark_load(tmp_path: Path) -> None:
    bom = "\ufeff"
    write_label_files(tmp_path / "crema", (bom + DEMOGRAPHICS).encode(), (bom + VOTES_HEADER + VOTE_ROW).encode())
    load = load_corpus("crema-d", tmp_path / "crema", allow_missing_audio=True)
    assert [(u.id, u.gender) for u in load.utterances] == [("1001_IEO_NEU_XX", "M")]


def test_bad_root_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match=r"CREMA-D layout \(expected AudioWAV/.*missing .*tabulatedVotes\.csv$"):
        load_corpus("crema-d", tmp_path, allow_missing_audio=True)


@pytest.mark.parametrize("name", ["1001_DFA", "1001_DFA_ANG_XX_1", "x001_DFA_ANG_XX", "1001_DFA_ANG_ZZ"])
def test_clip_names_must_follow_the_corpus_pattern(name: str) -> None:
    with pytest.raises(ValueError, match="clip name"):
        parse_clip_name(name)
