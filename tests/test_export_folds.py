"""Every fold in one export: ``--split loso:all`` and ``--split folds:N`` (CREMA-D's speaker folds).

Each fold folder must be exactly what a one-split export of that fold writes, every utterance must be
tested in exactly one fold, no speaker may straddle two splits of a fold, and ``folds.json`` must list
the folds as docs/export-publish.md says (the eval-folds reader relies on that layout).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_export_fixtures import make_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.export.splits import (
    SplitSpec,
    assign_splits,
    default_split,
    fold_specs,
    is_all_folds,
    parse_split,
)
from cotgen.export.writer import export_folds, export_run
from cotgen.records.utterance import Utterance, iter_utterances

CREMA_ACTORS: list = [(str(1001 + a), "MF"[a % 2], None) for a in range(11)]  # CREMA-D has no sessions


def _utt(uid: str, speaker: str | None, session: str | None = None) -> Utterance:
    return Utterance(
        id=uid,
        corpus="crema-d",
        audio=f"/audio/{uid}.wav",
        speaker=speaker,
        session=session,
        vote_counts={"neu": 1.0},
        distribution={"neu": 1.0, "ang": 0.0},
        majority="neu",
        n_annotators=1,
    )


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_parse_and_name_fold_protocols() -> None:
    assert parse_split("folds:5:2") == SplitSpec(kind="folds", folds=5, fold=2)
    assert parse_split("folds:5:2").describe() == "folds:5:2"
    assert is_all_folds("loso:all") and is_all_folds("folds:5")
    assert not is_all_folds("loso:3") and not is_all_folds("folds:5:1") and not is_all_folds("speaker:0.1,0.1")
    assert default_split("crema-d") == "folds:5:1"
    assert parse_split("folds:5+val:0.2", seed=1) == SplitSpec(kind="folds", folds=5, validation_share=0.2, seed=1)
    assert is_all_folds("folds:5+val:0.2") and is_all_folds("loso:all+val:0.1")
    for bad in ("folds:1", "folds:5:0", "folds:5:6", "folds:x", "folds:5:a"):
        with pytest.raises(CotgenError, match="--split"):
            parse_split(bad)


def test_speaker_folds_are_round_robin_over_numerically_sorted_speakers() -> None:
    # Speakers 2, 10, 9, 1, 3, 4 sort as 1, 2, 3, 4, 9, 10 and are dealt into folds 1, 2, 3, 1, 2, 3.
    utterances = [_utt(f"u{s}", str(s)) for s in (2, 10, 9, 1, 3, 4)]
    assignment = assign_splits(utterances, parse_split("folds:3:2"))
    assert assignment == {
        "u1": "train",
        "u4": "train",
        "u2": "test",
        "u9": "test",
        "u3": "train",
        "u10": "train",
    }
    last = assign_splits(utterances, parse_split("folds:3:3"))
    assert last["u3"] == "test" and last["u10"] == "test" and last["u1"] == "train"


def test_unknown_speakers_always_train_and_too_few_speakers_is_an_error() -> None:
    utterances = [_utt("a", "1"), _utt("b", "2"), _utt("c", "3"), _utt("x", None)]
    for k in (1, 2, 3):
        assert assign_splits(utterances, parse_split(f"folds:3:{k}"))["x"] == "train"
    with pytest.raises(CotgenError, match="2 known speakers cannot fill 3 folds"):
        assign_splits(utterances[:2], parse_split("folds:3:1"))


@settings(max_examples=60, deadline=None)
@given(
    speakers=st.lists(st.integers(1000, 1200), min_size=3, max_size=30),
    folds=st.integers(3, 6),
)
def test_every_utterance_is_tested_in_exactly_one_fold_and_no_speaker_straddles(
    speakers: list[int], folds: int
) -> None:
    utterances = [_utt(f"u{i}", str(s)) for i, s in enumerate(speakers)]
    if len(set(speakers)) < folds:
        with pytest.raises(CotgenError, match="cannot fill"):
            assign_splits(utterances, parse_split(f"folds:{folds}:1"))
        return
    tested: Counter[str] = Counter()
    for _, spec in fold_specs(utterances, f"folds:{folds}"):
        assignment = assign_splits(utterances, spec)
        splits_of: dict[str, set[str]] = defaultdict(set)
        for utt in utterances:
            splits_of[utt.speaker or ""].add(assignment[utt.id])
            tested[utt.id] += assignment[utt.id] == "test"
        assert all(len(s) == 1 for s in splits_of.values())
        assert set(assignment.values()) == {"train", "test"}  # the other N-1 folds train; no validation
    assert set(tested.values()) == {1}
    # Folds differ by at most one speaker.
    sizes = Counter(sorted(set(speakers), key=str).index(s) % folds for s in set(speakers))
    assert max(sizes.values()) - min(sizes.values()) <= 1


def test_loso_all_writes_one_folder_per_session_each_equal_to_its_single_export(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="iemocap")
    result = export_folds(run, "trl", "loso:all", out_dir=tmp_path / "folds")
    assert list(result.folds) == [f"fold_{s}" for s in "12345"]
    assert json.loads((run / "run.json").read_text())["export"]["trl"]["protocol"] == "loso:all"
    utterances = list(iter_utterances(run / "utterances.jsonl"))
    tested: list[str] = []
    for session in "12345":
        fold_dir = tmp_path / "folds" / f"fold_{session}"
        single = export_run(run, "trl", split=f"loso:{session}", out_dir=tmp_path / f"single_{session}")
        for name in single.files:
            assert (fold_dir / name).read_bytes() == (tmp_path / f"single_{session}" / name).read_bytes()
        assert set(result.folds[f"fold_{session}"].files) == set(single.files)
        info = json.loads((fold_dir / "export.json").read_text())
        assert info["split"] == f"loso:{session}" and info["out_dir"] == str(fold_dir)
        test_ids = _ids(fold_dir / "sft_test.jsonl")
        assert {u.session for u in utterances if u.id in test_ids} == {session}
        tested += test_ids
    assert sorted(tested) == sorted(u.id for u in utterances)
    listing = json.loads((tmp_path / "folds" / "folds.json").read_text())
    assert listing["protocol"] == "loso:all" and listing["format"] == "trl"
    assert [f["name"] for f in listing["folds"]] == [f"fold_{s}" for s in "12345"]
    assert [f["dir"] for f in listing["folds"]] == [f["name"] for f in listing["folds"]]
    assert listing["folds"][1]["split"] == "loso:2" and listing["folds"][1]["utterances_per_split"] == {
        "train": 12,
        "validation": 0,
        "test": 3,
    }
    assert listing["description"] == (
        "5 folds, leave one session out: each fold tests on one session and trains on the other 4 sessions; "
        "no validation set"
    )
    assert listing["folds"][1]["description"] == (
        "leave one session out: tests on session 2 and trains on the other 4 sessions (1, 3, 4, 5); no validation set"
    )


def test_fold_folders_list_every_utterance_of_each_split_even_without_a_record(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="iemocap")
    sft = (run / "sft.jsonl").read_text().splitlines()
    dropped = json.loads(sft[-1])["id"]  # a session-5 utterance whose gold trace was rejected: no SFT record
    (run / "sft.jsonl").write_text("\n".join(sft[:-1]) + "\n")
    export_folds(run, "swift", "loso:all", out_dir=tmp_path / "folds")
    utterances = list(iter_utterances(run / "utterances.jsonl"))
    for session in "12345":
        fold = tmp_path / "folds" / f"fold_{session}"
        assignment = assign_splits(utterances, parse_split(f"loso:{session}"))
        for split in ("train", "validation", "test"):
            listed = (fold / f"{split}.ids").read_text().splitlines()
            assert listed == [u.id for u in utterances if assignment[u.id] == split]
    assert dropped in (tmp_path / "folds" / "fold_5" / "test.ids").read_text().splitlines()
    assert dropped not in _ids(tmp_path / "folds" / "fold_5" / "sft_test.jsonl")


def test_folds_of_crema_d_actors_and_the_command_line(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="crema-d", speakers=CREMA_ACTORS)
    out = run / "export" / "llamafactory"
    # A one-split export left files at the top: the folds export removes them so nobody reads them as a fold.
    assert CliRunner().invoke(get_app(), ["export", "--format", "llamafactory", "--in", str(run)]).exit_code == 0
    assert json.loads((out / "export.json").read_text())["split"] == "folds:5:1"
    result = CliRunner().invoke(
        get_app(), ["export", "--format", "llamafactory", "--in", str(run), "--split", "folds:5"]
    )
    assert result.exit_code == 0, result.output
    assert "fold_5" in result.output and "folds.json" in result.output
    assert not (out / "sft_train.jsonl").exists() and not (out / "export.json").exists()
    speakers = {u.id: u.speaker for u in iter_utterances(run / "utterances.jsonl")}
    tested_speakers: list[set[str]] = []
    for k in range(1, 6):
        fold = out / f"fold_{k}"
        assert (fold / "dataset_info.json").exists() and (fold / "README.md").exists()
        by_split = {s: {speakers[i] for i in _ids(fold / f"sft_{s}.jsonl")} for s in ("train", "validation", "test")}
        assert not (by_split["train"] & by_split["test"]) and not by_split["validation"]
        assert len(by_split["train"]) + len(by_split["test"]) == len(CREMA_ACTORS)  # the other 4 folds all train
        tested_speakers.append(by_split["test"])
        readme = (fold / "README.md").read_text()
        assert f"Split protocol: speaker fold {k} of 5 (speakers dealt round-robin in sorted order): tests on" in readme
    assert sorted(s for group in tested_speakers for s in group) == sorted({a for a, _, _ in CREMA_ACTORS})
    assert [len(g) for g in tested_speakers] == [3, 2, 2, 2, 2]  # 11 actors dealt round-robin into 5 folds
    # Fewer folds later: the folders of the old protocol go, the new ones stay.
    assert (
        CliRunner()
        .invoke(get_app(), ["export", "--format", "llamafactory", "--in", str(run), "--split", "folds:3"])
        .exit_code
        == 0
    )
    assert sorted(p.name for p in out.glob("fold_*")) == ["fold_1", "fold_2", "fold_3"]


def test_loso_all_needs_sessions_and_export_data_refuses_several_folds(tmp_path: Path) -> None:
    run = make_run(tmp_path, corpus="crema-d", speakers=CREMA_ACTORS)
    with pytest.raises(CotgenError, match="has no session \\(use --split folds:N\\)"):
        export_folds(run, "trl", "loso:all")
    with pytest.raises(CotgenError, match="several folds"):
        export_run(run, "trl", split="folds:5")
    with pytest.raises(CotgenError, match="--format 'axolotl'"):
        export_folds(run, "axolotl", "folds:5")  # type: ignore[arg-type]
