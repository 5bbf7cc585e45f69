"""IEMOCAP recipe on fixture trees written in the corpus's own format (tabs, CRLF, dotfiles, odd dialog names)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import (
    DUPLICATE_ID,
    MALFORMED_BLOCK,
    MISSING_AUDIO,
    NO_VOTES_IN_SET,
    OUTSIDE_CLASS_SET,
    UNKNOWN_LABEL,
)
from cotgen.corpora.iemocap import speaker_of

FILE_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"


def block(
    utt_id: str, label: str, evaluators: list[tuple[str, str, str]], vad: str = "[2.5000, 3.0000, 3.5000]"
) -> str:
    """One evaluation block as IEMOCAP writes it: header, categorical lines, a dimensional line."""
    lines = [f"[6.2901 - 8.2357]\t{utt_id}\t{label}\t{vad}"]
    lines += [f"{who}:\t{labels}\t({comment})" for who, labels, comment in evaluators]
    lines.append("A-E3:\tval 3; act 2; dom  2;\t()")
    return "\n".join(lines)


def write_dialog(
    release: Path,
    session: int,
    dialog: str,
    blocks: list[str],
    wavs: list[str],
    transcript_lines: list[str] = (),
    crlf: bool = False,
) -> Path:
    """Write EmoEvaluation, transcription and (empty) wav files of one dialog; returns the evaluation file."""
    session_dir = release / f"Session{session}"
    evaluation = session_dir / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
    evaluation.parent.mkdir(parents=True, exist_ok=True)
    text = FILE_HEADER + "\n\n" + "\n\n".join(blocks) + "\n\n"
    newline = "\r\n" if crlf else "\n"
    evaluation.write_bytes(text.replace("\n", newline).encode())
    transcripts = session_dir / "dialog" / "transcriptions" / f"{dialog}.txt"
    transcripts.parent.mkdir(parents=True, exist_ok=True)
    transcripts.write_bytes("".join(line + newline for line in transcript_lines).encode())
    wav_dir = session_dir / "sentences" / "wav" / dialog
    wav_dir.mkdir(parents=True, exist_ok=True)
    for utt_id in wavs:
        (wav_dir / f"{utt_id}.wav").write_bytes(b"RIFF....WAVE")
    return evaluation


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    """A small IEMOCAP_full_release with the irregularities of the real one."""
    root = tmp_path / "IEMOCAP_full_release"
    d1 = "Ses01F_impro01"
    write_dialog(
        root,
        1,
        d1,
        [
            block(
                f"{d1}_F000",
                "neu",
                [
                    ("C-E2", "Neutral;", ""),
                    ("C-E3", "Neutral;", ""),
                    ("C-E4", "Neutral;", ""),
                    ("C-F1", "Neutral;", "curious"),
                ],
            ),
            block(
                f"{d1}_M000",
                "fru",
                [
                    ("C-E1", "Frustration; Sadness;", ""),
                    ("C-E2", "Frustration;", ""),
                    ("C-E3", "Anger;", "mildly aggravated but staying polite, attitude"),
                    ("C-M1", "", ""),
                ],
            ),
            block(
                f"{d1}_F001",
                "exc",
                [
                    ("C-E1", "Excited;", ""),
                    ("C-E2", "Happiness;", ""),
                    ("C-E3", "Excited; Happiness;", ""),
                    ("C-F1", "Neutral state;", "calm: mostly"),
                ],
            ),
            block(
                f"{d1}_M001",
                "xxx",
                [
                    ("C-E1", "Anger;", ""),
                    ("C-E2", "Frustration;", ""),
                    ("C-E3", "Other;", "Other:sarcastic, but friendly: yes"),
                    ("C-M1", "Other;", "Other:teasing"),
                ],
            ),
            block(
                f"{d1}_F002",
                "sad",
                [("C-E1", "Sadness;", ""), ("C-E2", "Sadness; Other;", "Other:disappointed"), ("C-E3", "Neutral;", "")],
            ),
            block(f"{d1}_M002", "ang", [("C-E1", "Anger;", ""), ("C-E2", "Anger;", ""), ("C-E3", "Anger;", "")]),
        ],
        wavs=[f"{d1}_F000", f"{d1}_M000", f"{d1}_F001", f"{d1}_M001", f"{d1}_F002"],
        transcript_lines=[
            f"{d1}_F000 [006.2901-008.2357]: Excuse me.",
            f"{d1}_M000 [007.5712-010.4750]: Do you have your forms?",
            f"{d1}_MXX0 [011.0000-012.0000]: Hmm, not labelled.",
            f"{d1}_F001 [010.0100-011.3925]: Yeah: I've got them, here, all of them.",
        ],
    )
    d3 = "Ses03M_impro05a"
    evaluation3 = write_dialog(
        root,
        3,
        d3,
        [
            block(
                f"{d3}_F000", "hap", [("C-E1", "Happiness;", ""), ("C-E2", "Happiness;", ""), ("C-E4", "Excited;", "")]
            ),
            block(
                f"{d3}_M000", "neu", [("C-E1", "Neutral;", ""), ("C-E2", "Neutral;", ""), ("C-E3", "Frustration;", "")]
            ),
        ],
        wavs=[f"{d3}_F000", f"{d3}_M000"],
        transcript_lines=[f"{d3}_M000 [001.0000-002.0000]: Okay."],
        crlf=True,
    )
    (evaluation3.parent / f"._{d3}.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02")
    (root / "Session3" / "sentences" / "wav" / d3 / f"._{d3}_F000.wav").write_bytes(b"\x00\x05\x16\x07")
    d5 = "Ses05M_script01_1b"
    write_dialog(
        root,
        5,
        d5,
        [
            block(f"{d5}_F003", "ang", [("C-E1", "Anger;", ""), ("C-E2", "Anger;", ""), ("C-E3", "Frustration;", "")]),
            block(f"{d5}_M010", "sad", [("C-E1", "Frustration;", ""), ("C-E2", "Frustration;", "")]),
            "[1.0 - 2.0]\tSes05M_script01_1b_M011\tneu",  # header with three fields
            block(f"{d5}_M012", "neu", [("C-E1", "Bored;", ""), ("C-E2", "Neutral;", "")]),
            block(f"{d5}_F003", "ang", [("C-E1", "Anger;", "")]),
        ],
        wavs=[f"{d5}_F003", f"{d5}_M010", f"{d5}_M011", f"{d5}_M012"],
    )
    return root


def by_id(load) -> dict:
    return {utt.id: utt for utt in load.utterances}


def test_four_class_keeps_header_labels_in_set_with_renormalised_external_votes(release: Path) -> None:
    load = load_corpus("iemocap", release)
    utts = by_id(load)
    assert load.classes == ["neu", "hap", "ang", "sad"]
    assert sorted(utts) == [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_F001",
        "Ses01F_impro01_F002",
        "Ses03M_impro05a_F000",
        "Ses03M_impro05a_M000",
        "Ses05M_script01_1b_F003",
    ]
    assert utts["Ses01F_impro01_F000"].distribution == {"neu": 1.0, "hap": 0.0, "ang": 0.0, "sad": 0.0}
    assert utts["Ses01F_impro01_F001"].distribution["hap"] == 1.0  # exc and hap together
    assert utts["Ses01F_impro01_F001"].vote_counts == {"hap": 1.5, "exc": 1.5}
    sad = utts["Ses01F_impro01_F002"]  # sad 1.5, neu 1, oth 0.5 (out of set)
    assert sad.distribution == pytest.approx({"neu": 0.4, "hap": 0.0, "ang": 0.0, "sad": 0.6})
    assert sad.vote_counts == {"neu": 1.0, "sad": 1.5, "oth": 0.5}
    assert sad.votes == [["sad"], ["sad", "oth"], ["neu"]] and sad.n_annotators == 3
    assert utts["Ses03M_impro05a_M000"].distribution == pytest.approx({"neu": 1.0, "hap": 0, "ang": 0, "sad": 0})
    assert utts["Ses05M_script01_1b_F003"].majority == "ang"


def test_dropped_entries_carry_reason_and_file_line(release: Path) -> None:
    load = load_corpus("iemocap", release)
    reasons = load.summary().dropped
    assert reasons == {
        OUTSIDE_CLASS_SET: 2,  # fru header, xxx header
        MISSING_AUDIO: 1,
        NO_VOTES_IN_SET: 1,
        MALFORMED_BLOCK: 1,
        UNKNOWN_LABEL: 1,
        DUPLICATE_ID: 1,
    }
    s5 = release / "Session5" / "dialog" / "EmoEvaluation" / "Ses05M_script01_1b.txt"
    lines = s5.read_text().splitlines()
    malformed = next(d for d in load.dropped if d.reason == MALFORMED_BLOCK)
    bad_header = lines.index("[1.0 - 2.0]\tSes05M_script01_1b_M011\tneu") + 1
    assert malformed.where == f"{s5}:{bad_header}"
    unknown = next(d for d in load.dropped if d.reason == UNKNOWN_LABEL)
    bored = lines.index("C-E1:\tBored;\t()") + 1
    assert unknown.where == f"{s5}:{bored}" and "Bored" in unknown.detail
    duplicate = next(d for d in load.dropped if d.reason == DUPLICATE_ID)
    assert duplicate.where.startswith(f"{s5}:") and int(duplicate.where.rsplit(":", 1)[1]) > 10
    missing = next(d for d in load.dropped if d.reason == MISSING_AUDIO)
    assert missing.detail.endswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M002.wav")


def test_all_classes_keep_every_voted_utterance_with_exc_separate(release: Path) -> None:
    load = load_corpus("iemocap", release, classes="all")
    utts = by_id(load)
    assert load.classes == ["neu", "hap", "ang", "sad", "exc", "fru", "oth"]
    assert "Ses01F_impro01_M001" in utts and "Ses01F_impro01_M000" in utts
    assert utts["Ses01F_impro01_F001"].distribution["exc"] == 0.5
    assert utts["Ses01F_impro01_F001"].majority is None  # exc 1.5 vs hap 1.5
    fru = utts["Ses01F_impro01_M000"]  # Frustration+Sadness (0.5 each), Frustration, Anger; empty self-eval
    assert fru.distribution["fru"] == pytest.approx(0.5) and fru.distribution["sad"] == pytest.approx(1 / 6)
    assert fru.n_annotators == 3
    assert utts["Ses01F_impro01_M001"].distribution["oth"] == pytest.approx(1 / 3)
    assert utts["Ses05M_script01_1b_M010"].distribution["fru"] == 1.0


def test_self_evaluations_count_only_when_asked(release: Path) -> None:
    without = by_id(load_corpus("iemocap", release))["Ses01F_impro01_F001"]
    with_self = by_id(load_corpus("iemocap", release, self_eval=True))["Ses01F_impro01_F001"]
    assert without.n_annotators == 3 and with_self.n_annotators == 4
    assert with_self.distribution == pytest.approx({"neu": 0.25, "hap": 0.75, "ang": 0.0, "sad": 0.0})
    empty_self = by_id(load_corpus("iemocap", release, classes="all", self_eval=True))["Ses01F_impro01_M000"]
    assert empty_self.n_annotators == 3  # the actor's empty self-evaluation gives nothing


def test_custom_class_set_with_frustration(release: Path) -> None:
    load = load_corpus("iemocap", release, classes="neu,hap+exc,ang,sad,fru")
    utts = by_id(load)
    assert load.classes == ["neu", "hap", "ang", "sad", "fru"]
    assert utts["Ses01F_impro01_M000"].distribution == pytest.approx(
        {"neu": 0, "hap": 0, "ang": 1 / 3, "sad": 1 / 6, "fru": 0.5}
    )
    assert utts["Ses05M_script01_1b_M010"].distribution["fru"] == 1.0  # header sad, all votes fru


def test_speaker_gender_session_transcript_vad_and_paths(release: Path) -> None:
    utts = by_id(load_corpus("iemocap", release))
    f000 = utts["Ses01F_impro01_F000"]
    assert (f000.speaker, f000.gender, f000.session) == ("Ses01F", "F", "1")
    assert f000.transcript == "Excuse me."
    assert f000.vad is not None and (f000.vad.valence, f000.vad.arousal, f000.vad.dominance) == (2.5, 3.0, 3.5)
    assert f000.audio == str(release / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav")
    assert Path(f000.audio).is_absolute()
    assert utts["Ses01F_impro01_F001"].transcript == "Yeah: I've got them, here, all of them."
    s3 = utts["Ses03M_impro05a_F000"]  # female speaker in a dialog named after the male actor
    assert (s3.speaker, s3.gender, s3.session, s3.transcript) == ("Ses03F", "F", "3", None)
    assert utts["Ses03M_impro05a_M000"].transcript == "Okay."  # CRLF file
    s5 = utts["Ses05M_script01_1b_F003"]
    assert (s5.speaker, s5.gender, s5.session) == ("Ses05F", "F", "5")
    assert s5.meta["dialog"] == "Ses05M_script01_1b" and s5.meta["header_label"] == "ang"


@pytest.mark.parametrize(
    ("utt_id", "expected"),
    [
        ("Ses01F_impro01_M000", ("Ses01M", "M", "1")),
        ("Ses03M_impro05a_F012", ("Ses03F", "F", "3")),
        ("Ses05M_script01_1b_M034", ("Ses05M", "M", "5")),
        ("Ses02F_script02_2_F005", ("Ses02F", "F", "2")),
    ],
)
def test_speaker_comes_from_the_last_field_not_fixed_positions(utt_id: str, expected: tuple[str, str, str]) -> None:
    assert speaker_of(utt_id) == expected


def test_missing_wav_can_be_kept(release: Path) -> None:
    load = load_corpus("iemocap", release, allow_missing_audio=True)
    assert "Ses01F_impro01_M002" in by_id(load)
    assert load.missing_audio == ["Ses01F_impro01_M002"]


def test_parent_of_the_release_folder_is_accepted(release: Path) -> None:
    assert len(load_corpus("iemocap", release.parent).utterances) == 6


def test_bad_roots_name_the_layout_and_first_missing_thing(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match=r"expected IEMOCAP_full_release/Session1\.\.5/.*missing .*nowhere$"):
        load_corpus("iemocap", tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(CotgenError, match=r"IEMOCAP layout .*: missing .*other/Session1$"):
        load_corpus("iemocap", tmp_path / "other")
    (tmp_path / "other" / "Session2" / "dialog").mkdir(parents=True)
    with pytest.raises(CotgenError, match=r"missing .*Session2/dialog/EmoEvaluation$"):
        load_corpus("iemocap", tmp_path / "other")


# The header-label counts of the released corpus (10,039 utterances); the benchmark keeps 5,531.
RELEASE_HEADER_COUNTS = {
    "neu": 1708,
    "hap": 595,
    "exc": 1041,
    "ang": 1103,
    "sad": 1084,
    "fru": 1849,
    "sur": 107,
    "fea": 40,
    "dis": 2,
    "oth": 3,
    "xxx": 2507,
}
WORDS = {
    "neu": "Neutral",
    "hap": "Happiness",
    "exc": "Excited",
    "ang": "Anger",
    "sad": "Sadness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}


def write_release_sized_tree(root: Path, seed: int = 7) -> int:
    """An IEMOCAP label tree with the release's 10,039 header labels (no wavs); returns the block count."""
    rnd = random.Random(seed)
    labels = [label for label, n in RELEASE_HEADER_COUNTS.items() for _ in range(n)]
    rnd.shuffle(labels)
    per_dialog = 67
    for start in range(0, len(labels), per_dialog):
        index = start // per_dialog
        session = index % 5 + 1
        dialog = f"Ses0{session}{'FM'[index % 2]}_impro{index:03d}"
        blocks = []
        for j, label in enumerate(labels[start : start + per_dialog]):
            words = list(WORDS.values())
            if label == "xxx":
                chosen = rnd.sample(words, 3)
            else:
                chosen = [WORDS[label], WORDS[label], rnd.choice(words)]
            evaluators = [(f"C-E{k + 1}", f"{word};", "") for k, word in enumerate(chosen)]
            evaluators.append(("C-F1", f"{rnd.choice(words)};", "self"))
            blocks.append(block(f"{dialog}_{'FM'[j % 2]}{j:03d}", label, evaluators))
        evaluation = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        evaluation.write_text(FILE_HEADER + "\n\n" + "\n\n".join(blocks) + "\n\n")
    return len(labels)


def test_release_sized_tree_reproduces_the_5531_benchmark_rule(tmp_path: Path) -> None:
    blocks = write_release_sized_tree(tmp_path)
    started = time.perf_counter()
    load = load_corpus("iemocap", tmp_path, allow_missing_audio=True)
    seconds = time.perf_counter() - started
    print(f"\nIEMOCAP-sized label tree: {blocks} blocks loaded in {seconds:.2f} s")
    assert blocks == 10039
    assert len(load.utterances) == 5531
    majorities = load.summary()
    assert {row.code: row.majority for row in majorities.classes} == {
        "neu": 1708,
        "hap": 1636,
        "ang": 1103,
        "sad": 1084,
    }
    assert load.summary().dropped == {OUTSIDE_CLASS_SET: 10039 - 5531}
    assert len(load_corpus("iemocap", tmp_path, classes="all", allow_missing_audio=True).utterances) == 10039


def test_no_majority_utterances_can_be_included_and_their_votes_follow_the_rule(release: Path) -> None:
    # The fixture's block with header label xxx: evaluators ang, fru, oth (the actor's own oth is a self-evaluation).
    load = load_corpus("iemocap", release, no_majority=True)
    assert load.summary().dropped[OUTSIDE_CLASS_SET] == 1  # only the fru header now
    kept = [u for u in load.utterances if u.meta["header_label"] == "xxx"]
    assert len(kept) == 1 and kept[0].distribution == {"neu": 0.0, "hap": 0.0, "ang": 1.0, "sad": 0.0}
    other = load_corpus("iemocap", release, no_majority=True, out_of_set="other")
    (amb,) = [u for u in other.utterances if u.meta["header_label"] == "xxx"]
    assert other.classes == ["neu", "hap", "ang", "sad", "oth"]
    assert amb.distribution == pytest.approx({"neu": 0.0, "hap": 0.0, "ang": 1 / 3, "sad": 0.0, "oth": 2 / 3})
    facts = other.summary().facts()["out_of_set"]
    assert facts["rule"] == "other" and facts["utterances_over_half_outside"] >= 1
