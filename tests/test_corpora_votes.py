"""Vote counting and class sets: the arithmetic every human distribution rests on (property tests)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cotgen.core.errors import CotgenError
from cotgen.corpora.classes import canonical_sort, parse_class_set
from cotgen.corpora.entries import (
    DUPLICATE_ID,
    MISSING_AUDIO,
    NO_VOTES,
    NO_VOTES_IN_SET,
    OUTSIDE_CLASS_SET,
    Dropped,
    RawEntry,
    assemble,
)
from cotgen.corpora.votes import counted_annotators, weighted_vote_counts
from cotgen.records.utterance import distribution_from_counts

CODES = ["neu", "hap", "exc", "ang", "sad", "fru", "oth"]
annotator = st.lists(st.sampled_from(CODES), max_size=3)
vote_lists = st.lists(annotator, min_size=1, max_size=8)


@given(vote_lists)
def test_each_labelling_annotator_contributes_exactly_one_vote(votes: list[list[str]]) -> None:
    counts = weighted_vote_counts(votes)
    assert math.isclose(sum(counts.values()), counted_annotators(votes), abs_tol=1e-9)
    assert all(value > 0 for value in counts.values())


@given(vote_lists, st.randoms(use_true_random=False))
def test_shuffling_annotators_or_their_labels_changes_nothing(votes: list[list[str]], rnd) -> None:
    shuffled = [rnd.sample(labels, len(labels)) for labels in votes]
    rnd.shuffle(shuffled)
    assert weighted_vote_counts(shuffled) == weighted_vote_counts(votes)
    assert list(weighted_vote_counts(shuffled)) == list(weighted_vote_counts(votes))


@given(vote_lists, st.sampled_from(["4", "all", "neu,hap+exc,ang,sad,fru", "ang,sad"]))
def test_every_distribution_sums_to_one_over_the_class_set(votes: list[list[str]], spec: str) -> None:
    counts = weighted_vote_counts(votes)
    class_set = parse_class_set(spec).resolve(counts)
    distribution = distribution_from_counts(class_set.project(counts), class_set.codes or ())
    in_set_mass = sum(v for code, v in counts.items() if class_set.target(code) is not None)
    if in_set_mass == 0:
        assert distribution is None
    else:
        assert distribution is not None
        assert list(distribution) == list(class_set.codes or ())
        assert math.isclose(sum(distribution.values()), 1.0, abs_tol=1e-9)
        assert all(0.0 <= p <= 1.0 for p in distribution.values())


def test_an_evaluator_with_two_labels_gives_half_to_each_and_an_empty_one_nothing() -> None:
    counts = weighted_vote_counts([["fru", "sad"], ["fru"], [], ["fru", "fru"]])
    assert counts == {"sad": 0.5, "fru": 2.5}
    assert counted_annotators([["fru", "sad"], ["fru"], [], ["fru", "fru"]]) == 3


def test_three_way_split_sums_exactly_whatever_the_order() -> None:
    a = weighted_vote_counts([["neu", "hap", "sad"], ["hap"], ["sad", "neu", "hap"]])
    assert a == {"neu": 2 / 3, "hap": 5 / 3, "sad": 2 / 3}


def test_named_four_class_set_folds_excited_into_happy() -> None:
    four = parse_class_set("4")
    assert four.codes == ("neu", "hap", "ang", "sad")
    assert four.target("exc") == "hap"
    assert four.target("fru") is None
    assert four.project({"exc": 1.5, "hap": 0.5, "fru": 1.0}) == {"hap": 2.0}


def test_custom_set_with_several_folds_and_spaces() -> None:
    custom = parse_class_set(" NEU, hap+exc+sur , ang,sad,fru ")
    assert custom.codes == ("neu", "hap", "ang", "sad", "fru")
    assert custom.target("sur") == "hap" and custom.target("exc") == "hap" and custom.target("fru") == "fru"


def test_all_is_resolved_from_the_data_in_canonical_order() -> None:
    resolved = parse_class_set("all").resolve(["sad", "zzz", "exc", "neu", "abc"])
    assert resolved.codes == ("neu", "sad", "exc", "abc", "zzz")
    assert canonical_sort(["oth", "hap", "neu"]) == ["neu", "hap", "oth"]


@pytest.mark.parametrize("spec", ["", "neu", "neu,,sad", "neu,Hap!", "neu,hap+neu", "neu+"])
def test_bad_class_specs_say_what_is_expected(spec: str) -> None:
    with pytest.raises(CotgenError, match="expected '4', 'all'"):
        parse_class_set(spec)


def _raw(utt_id: str, audio: Path, counts: dict[str, float], **kwargs) -> RawEntry:
    return RawEntry(id=utt_id, where=f"f.txt:{utt_id}", audio=audio, vote_counts=counts, n_annotators=3, **kwargs)


def test_assemble_applies_the_shared_rules_in_order(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    items = [
        _raw("u1", wav, {"neu": 2.0, "fru": 1.0}, reference="neu"),
        _raw("u1", wav, {"neu": 3.0}, reference="neu"),
        _raw("u2", wav, {"fru": 3.0}, reference="fru"),
        _raw("u3", wav, {"fru": 3.0}, reference="sad"),
        _raw("u4", tmp_path / "gone.wav", {"sad": 3.0}, reference="sad"),
        _raw("u5", wav, {}, reference="neu"),
        _raw("u6", wav, {"neu": 1.0, "fru": 1.0}),  # no reference: its fru vote is dropped (drop-votes)
        _raw("u7", tmp_path / "gone.wav", {"hap": 1.0, "ang": 2.0}, reference="ang"),  # every class has votes
        Dropped("malformed block", "f.txt:99", "bad header"),
    ]
    load = assemble("test", items, parse_class_set("4"))
    assert [u.id for u in load.utterances] == ["u1", "u6"]
    assert load.utterances[0].distribution == {"neu": 1.0, "hap": 0.0, "ang": 0.0, "sad": 0.0}
    assert load.utterances[0].vote_counts == {"neu": 2.0, "fru": 1.0}
    assert load.utterances[0].audio == str(wav)
    reasons = {d.where: d.reason for d in load.dropped}
    assert reasons == {
        "f.txt:u1": DUPLICATE_ID,
        "f.txt:u2": OUTSIDE_CLASS_SET,
        "f.txt:u3": NO_VOTES_IN_SET,
        "f.txt:u4": MISSING_AUDIO,
        "f.txt:u5": NO_VOTES,
        "f.txt:u7": MISSING_AUDIO,
        "f.txt:99": "malformed block",
    }
    assert load.summary().dropped[OUTSIDE_CLASS_SET] == 1
    # --out-of-set drop-utterance: any out-of-set vote drops the utterance, whatever its reference.
    strict = assemble("test", items, parse_class_set("4", out_of_set="drop-utterance"))
    assert strict.utterances == [] and strict.summary().dropped[OUTSIDE_CLASS_SET] == 4  # u1, u2, u3, u6


def test_assemble_keeps_missing_audio_when_allowed_and_records_it(tmp_path: Path) -> None:
    load = assemble("test", [_raw("u1", tmp_path / "x.wav", {"neu": 1.0})], parse_class_set("all"), True)
    assert [u.id for u in load.utterances] == ["u1"] and load.missing_audio == ["u1"]
    assert load.classes == ["neu"] and load.utterances[0].distribution == {"neu": 1.0}


@given(st.lists(vote_lists, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_assembled_utterances_sum_to_one_and_ignore_annotator_order(many, rnd) -> None:
    audio = Path("/nonexistent/cotgen-test.wav")

    def entries(vote_sets: list[list[list[str]]]) -> list[RawEntry]:
        return [
            RawEntry(f"u{i}", f"m:{i}", audio, weighted_vote_counts(v), counted_annotators(v), votes=v)
            for i, v in enumerate(vote_sets)
        ]

    load = assemble("test", entries(many), parse_class_set("all"), allow_missing_audio=True)
    shuffled = [rnd.sample(v, len(v)) for v in many]
    again = assemble("test", entries(shuffled), parse_class_set("all"), allow_missing_audio=True)
    for utt in load.utterances:
        assert math.isclose(sum(utt.distribution.values()), 1.0, abs_tol=1e-9)
    assert [u.distribution for u in load.utterances] == [u.distribution for u in again.utterances]
    assert [u.majority for u in load.utterances] == [u.majority for u in again.utterances]
