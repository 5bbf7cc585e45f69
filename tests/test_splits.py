"""Split protocols: LOSO, speaker-disjoint shares, the corpus's own partition; never a speaker in two splits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.core.errors import CotgenError
from cotgen.export.splits import SplitSpec, assign_splits, default_split, parse_split
from cotgen.records.utterance import Utterance


def _utt(uid: str, speaker: str | None, session: str | None) -> Utterance:
    return Utterance(
        id=uid,
        corpus="test",
        audio=f"/audio/{uid}.wav",
        speaker=speaker,
        session=session,
        vote_counts={"neu": 1.0},
        distribution={"neu": 1.0, "ang": 0.0},
        majority="neu",
        n_annotators=1,
    )


def _leaking_speakers(utterances: list[Utterance], assignment: Mapping[str, str]) -> list[str]:
    """Speakers with utterances in more than one split: the property every protocol must keep."""
    seen: dict[str, set[str]] = defaultdict(set)
    for utt in utterances:
        if utt.speaker is not None:
            seen[utt.speaker].add(assignment[utt.id])
    return sorted(speaker for speaker, splits in seen.items() if len(splits) > 1)


def _sessions(n_sessions: int, per_session: int = 2) -> list[Utterance]:
    return [
        _utt(f"Ses{s}_{k}", f"Ses0{s}{'FM'[k % 2]}", str(s))
        for s in range(1, n_sessions + 1)
        for k in range(per_session)
    ]


def test_parse_split_reads_each_protocol() -> None:
    assert parse_split("loso:3") == SplitSpec(kind="loso", test_session="3")
    assert parse_split("speaker:0.2,0.1", seed=7) == SplitSpec(
        kind="speaker", validation_share=0.2, test_share=0.1, seed=7
    )
    assert parse_split("corpus") == SplitSpec(kind="corpus")


@pytest.mark.parametrize("text", ["loso", "loso:", "speaker:0.5", "speaker:0.6,0.5", "speaker:a,b", "random", ""])
def test_parse_split_rejects_malformed_values(text: str) -> None:
    with pytest.raises(CotgenError, match="--split"):
        parse_split(text)


def test_default_split_follows_each_corpus_protocol() -> None:
    assert default_split("iemocap") == "loso:5"
    assert default_split("msp-podcast") == "corpus"
    assert default_split("crema-d") == "folds:5:1"
    assert default_split("unknown-corpus") == "speaker:0.1,0.1"


def test_loso_tests_on_session_k_and_trains_on_every_other_session() -> None:
    utterances = _sessions(5)
    assignment = assign_splits(utterances, parse_split("loso:2"))
    by_session = {u.session: assignment[u.id] for u in utterances}
    assert by_session == {"1": "train", "2": "test", "3": "train", "4": "train", "5": "train"}
    assert assignment.sizes() == {"train": 8, "validation": 0, "test": 2}


def test_loso_sorts_sessions_numerically() -> None:
    utterances = [_utt(f"u{s}", f"spk{s}", str(s)) for s in (2, 10, 9)]
    assignment = assign_splits(utterances, parse_split("loso:9"))
    assert assignment == {"u2": "train", "u9": "test", "u10": "train"}


def test_two_sessions_train_on_one_and_a_validation_share_that_empties_training_is_an_error() -> None:
    utterances = _sessions(2)  # one speaker per session and gender: Ses01F, Ses01M, Ses02F, Ses02M
    assert assign_splits(utterances, parse_split("loso:1")).sizes() == {"train": 2, "validation": 0, "test": 2}
    halves = assign_splits(utterances, parse_split("loso:1+val:0.5", seed=3))
    assert halves.sizes() == {"train": 1, "validation": 1, "test": 2}
    one_speaker = [_utt(f"Ses{s}_{k}", f"spk{s}", str(s)) for s in (1, 2) for k in range(2)]
    with pytest.raises(CotgenError, match=r"1 training speakers cannot give a validation share of 0.5.*smaller \+val"):
        assign_splits(one_speaker, parse_split("loso:1+val:0.5"))


def test_one_session_is_an_error_that_names_the_fix() -> None:
    with pytest.raises(CotgenError, match=r"at least two sessions, found 1 \(use --split folds:N"):
        assign_splits([_utt("a", "s1", "1"), _utt("b", "s2", "1")], parse_split("loso:1"))


def test_a_fold_whose_training_speakers_are_all_unknown_cannot_hold_out_validation() -> None:
    utterances = [_utt("a", "s1", "1"), _utt("b", None, "2"), _utt("c", None, "2")]
    with pytest.raises(CotgenError, match="0 training speakers"):
        assign_splits(utterances, parse_split("loso:1+val:0.2"))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.integers(1, 4), st.floats(0.05, 0.6), st.integers(0, 1000))
def test_validation_speakers_come_from_training_only_and_hold_at_least_their_share(
    n_sessions: int, per_session: int, share: float, seed: int
) -> None:
    utterances = _sessions(n_sessions, per_session)
    plain = assign_splits(utterances, parse_split("loso:1"))
    spec = parse_split("loso:1+val:" + repr(share), seed=seed)
    try:
        held = assign_splits(utterances, spec)
    except CotgenError as exc:
        assert "keep one to train" in str(exc)
        return
    assert _leaking_speakers(utterances, held) == []
    assert {u for u in held if held[u] == "test"} == {u for u in plain if plain[u] == "test"}
    moved = [u for u in held if held[u] == "validation"]
    assert moved and all(plain[u] == "train" for u in moved)
    assert len(moved) >= share * plain.sizes()["train"] and held.sizes()["train"] > 0
    assert held == assign_splits(utterances, spec)  # the seed alone decides the draw


def test_validation_suffix_is_parsed_named_and_refused_where_it_means_nothing() -> None:
    assert parse_split("loso:3+val:0.1", seed=4) == SplitSpec(
        kind="loso", test_session="3", validation_share=0.1, seed=4
    )
    assert parse_split("loso:3+val:0.1", seed=4).describe() == "loso:3+val:0.1 --seed 4"
    assert parse_split("loso:3", seed=4) == SplitSpec(kind="loso", test_session="3")  # no draw: the seed is moot
    for bad in ("loso:3+val:0", "loso:3+val:1", "loso:3+val:x", "speaker:0.1,0.1+val:0.1", "corpus+val:0.2"):
        with pytest.raises(CotgenError, match="--split"):
            parse_split(bad)


def test_loso_names_the_known_sessions_when_k_is_unknown() -> None:
    with pytest.raises(CotgenError, match="sessions: 1, 2, 3"):
        assign_splits(_sessions(3), parse_split("loso:7"))


def test_loso_refuses_a_speaker_recorded_in_two_sessions() -> None:
    utterances = [_utt("a", "spk", "1"), _utt("b", "spk", "2"), _utt("c", "other", "3")]
    with pytest.raises(CotgenError, match="spk"):
        assign_splits(utterances, parse_split("loso:1"))


def test_corpus_split_maps_msp_podcast_partitions() -> None:
    utterances = [
        _utt("a", "1", "Train"),
        _utt("b", "2", "Development"),
        _utt("c", "3", "Test1"),
        _utt("d", "4", "Test2"),
    ]
    assert assign_splits(utterances, parse_split("corpus")) == {
        "a": "train",
        "b": "validation",
        "c": "test",
        "d": "test",
    }


def test_corpus_split_rejects_unknown_partitions() -> None:
    with pytest.raises(CotgenError, match="expected Train, Development or Test"):
        assign_splits([_utt("a", "1", "Holdout")], parse_split("corpus"))


def test_corpus_split_keeps_a_speaker_sharing_corpus_as_published_and_counts_the_shared_speakers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MELD's and ESD's own splits share speakers: kept as published for those corpora, refused for any other."""
    utterances = [_utt("a", "Rachel", "Train"), _utt("b", "Rachel", "Test"), _utt("c", "Joey", "Development")]
    for corpus in ("meld", "ESD"):
        assignment = assign_splits(utterances, parse_split("corpus"), corpus)
        assert assignment == {"a": "train", "b": "test", "c": "validation"}
        assert assignment.shared_speakers == 1
    assert "shares 1 speakers between splits (Rachel)" in caplog.text
    for corpus in ("msp-podcast", ""):
        with pytest.raises(CotgenError, match="speakers in more than one split: Rachel"):
            assign_splits(utterances, parse_split("corpus"), corpus)
    with pytest.raises(CotgenError, match="speakers in more than one split"):
        assign_splits(utterances, parse_split("loso:Test"), "meld")
    assert default_split("meld") == default_split("esd") == "corpus"


def test_speaker_split_refuses_when_no_speaker_would_be_left_to_train() -> None:
    utterances = [_utt("a", "s1", None), _utt("b", "s2", None)]
    with pytest.raises(CotgenError, match="too few speakers"):
        assign_splits(utterances, parse_split("speaker:0.4,0.4"))


@st.composite
def _corpora(draw: st.DrawFn) -> list[Utterance]:
    n_speakers = draw(st.integers(min_value=3, max_value=12))
    utterances = []
    for s in range(n_speakers):
        for k in range(draw(st.integers(min_value=1, max_value=6))):
            utterances.append(_utt(f"s{s}_{k}", f"s{s}", None))
    for k in range(draw(st.integers(min_value=0, max_value=3))):
        utterances.append(_utt(f"anon{k}", None, None))
    return utterances


@settings(max_examples=60, deadline=None)
@given(_corpora(), st.floats(0.0, 0.3), st.floats(0.0, 0.3), st.integers(0, 10_000))
def test_speaker_split_never_puts_a_speaker_in_two_splits(
    utterances: list[Utterance], val: float, test: float, seed: int
) -> None:
    spec = SplitSpec(kind="speaker", validation_share=val, test_share=test, seed=seed)
    try:
        assignment = assign_splits(utterances, spec)
    except CotgenError as exc:
        assert "too few speakers" in str(exc)
        return
    assert set(assignment) == {u.id for u in utterances}
    assert _leaking_speakers(utterances, assignment) == []
    assert "train" in assignment.values()
    known = [u for u in utterances if u.speaker is not None]
    for split, share in (("test", test), ("validation", val)):
        assert (sum(1 for u in known if assignment[u.id] == split) >= share * len(known)) or share == 0
    # Without a corpus partition, an utterance of an unknown speaker trains: it cannot leak into test.
    assert {assignment[u.id] for u in utterances if u.speaker is None} <= {"train"}
    assert assign_splits(utterances, spec) == assignment


def test_unknown_speakers_follow_the_corpus_partition_and_known_speakers_stay_disjoint() -> None:
    # MSP-Podcast style: Split_Set in the session field, SpkrID "Unknown" read as null.
    utterances = [_utt(f"s{s}_{k}", f"s{s}", "Train") for s in range(10) for k in range(3)]
    utterances += [_utt(f"anon_{part}_{k}", None, part) for part in ("Train", "Development", "Test1") for k in range(4)]
    utterances += [_utt("anon_nosession", None, None)]
    assignment = assign_splits(utterances, parse_split("speaker:0.2,0.2"))
    assert _leaking_speakers(utterances, assignment) == []
    assert {assignment[f"anon_Train_{k}"] for k in range(4)} == {"train"}
    assert {assignment[f"anon_Development_{k}"] for k in range(4)} == {"validation"}
    assert {assignment[f"anon_Test1_{k}"] for k in range(4)} == {"test"}
    assert assignment["anon_nosession"] == "train"
    # The known speakers fill the shares on their own: 20 % of 30 utterances is at least 6 in test.
    assert sum(1 for u in utterances if u.speaker and assignment[u.id] == "test") >= 6


def test_a_speaker_split_without_any_speaker_refuses_naming_the_fix() -> None:
    utterances = [_utt(f"u{k}", None, None) for k in range(10)]
    with pytest.raises(CotgenError, match="no utterance has a speaker.*--split loso:K or --split corpus"):
        assign_splits(utterances, parse_split("speaker:0.1,0.1"))
