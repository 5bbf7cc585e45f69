"""The standard folds on corpora as their recipes read them, and the corpus notes that describe them.

IEMOCAP's leave-one-session-out folds (EmoBox's) train on the four sessions not tested; CREMA-D's five
actor folds train on the four folds not tested; neither has a validation set unless one is asked for.
The corpus notes say the same in words, and a test here holds them to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import SHARED_CREMA_D, needs_crema_d
from test_corpora_iemocap import block, write_dialog

from cotgen.corpora import load_corpus
from cotgen.corpora.notes import corpus_note
from cotgen.export.splits import assign_splits, fold_specs, parse_split, protocol_description

# Utterances per IEMOCAP session in the fixture: unequal, so a fold that trained on the wrong sessions shows.
PER_SESSION = {1: 3, 2: 4, 3: 2, 4: 5, 5: 6}


def _iemocap_release(root: Path) -> Path:
    release = root / "IEMOCAP_full_release"
    for session, count in PER_SESSION.items():
        dialog = f"Ses0{session}F_impro01"
        ids = [f"{dialog}_{'FM'[k % 2]}{k:03d}" for k in range(count)]
        votes = [("C-E1", "Anger;", ""), ("C-E2", "Anger;", ""), ("C-E3", "Sadness;", "")]
        write_dialog(release, session, dialog, [block(uid, "ang", votes) for uid in ids], ids)
    return release


def _protocol_section(corpus: str) -> str:
    body = corpus_note(corpus)["body"]
    return " ".join(body.split("## Standard protocol", 1)[1].split("##", 1)[0].split())


def test_iemocap_folds_test_one_session_and_train_on_the_other_four(tmp_path: Path) -> None:
    utterances = load_corpus("iemocap", _iemocap_release(tmp_path)).utterances
    total = sum(PER_SESSION.values())
    assert len(utterances) == total
    specs = fold_specs(utterances, "loso:all")
    assert [name for name, _ in specs] == [f"fold_{s}" for s in PER_SESSION]
    for (_, spec), (session, tested) in zip(specs, PER_SESSION.items()):
        assignment = assign_splits(utterances, spec, "iemocap")
        assert assignment.sizes() == {"train": total - tested, "validation": 0, "test": tested}
        assert {u.session for u in utterances if assignment[u.id] == "train"} == {
            str(s) for s in PER_SESSION if s != session
        }
    words = protocol_description(utterances, specs[0][1], every=True)
    assert words == (
        "5 folds, leave one session out: each fold tests on one session and trains on the other 4 sessions; "
        "no validation set"
    )
    note = _protocol_section("iemocap")
    assert "fold *k* tests on session *k* and trains on the other four, with no validation set" in note


@needs_crema_d
def test_crema_d_actor_folds_on_the_real_labels_train_on_the_other_four_folds() -> None:
    utterances = load_corpus("crema-d", SHARED_CREMA_D, allow_missing_audio=True).utterances
    assert len(utterances) == 7442
    actors_tested: list[int] = []
    tested_total = 0
    for _, spec in fold_specs(utterances, "folds:5"):
        assignment = assign_splits(utterances, spec, "crema-d")
        sizes = assignment.sizes()
        assert sizes["validation"] == 0 and sizes["train"] + sizes["test"] == 7442
        tested = [u for u in utterances if assignment[u.id] == "test"]
        actors_tested.append(len({u.speaker for u in tested}))
        tested_total += sizes["test"]
    assert tested_total == 7442 and actors_tested == [19, 18, 18, 18, 18]
    note = _protocol_section("crema-d")
    assert "the folds hold 19, 18, 18, 18 and 18 actors" in note
    assert "Fold K is the test set and the other four folds train, with no validation set" in note


def test_every_note_describes_folds_that_train_on_all_other_sessions() -> None:
    msp_improv = _protocol_section("msp-improv")
    assert "fold *k* tests on session *k* and trains on the other five, with no validation set" in msp_improv
    assert "each fold tests on one session and trains on the other" in _protocol_section("demo")
    for corpus in ("iemocap", "crema-d", "msp-improv", "demo"):
        # The old protocol took the next session or fold from training to validate on.
        assert "K+1" not in _protocol_section(corpus) and "the validation set." not in _protocol_section(corpus)


def test_a_two_session_corpus_trains_each_fold_on_the_other_session() -> None:
    demo = load_corpus("demo").utterances
    specs = fold_specs(demo, "loso:all")
    assert len(specs) == 2
    assert protocol_description(demo, specs[0][1], every=True) == (
        "2 folds, leave one session out: each fold tests on one session and trains on the other session; "
        "no validation set"
    )
    for _, spec in specs:
        sizes = assign_splits(demo, spec).sizes()
        assert sizes["train"] > 0 and sizes["test"] > 0 and sizes["validation"] == 0
        assert sizes["train"] + sizes["test"] == len(demo)
    with pytest.raises(Exception, match="keep one to train"):
        assign_splits(demo, parse_split("loso:1+val:0.99"))
