"""What a new user met on a first run (issue 21 item 6), each one now saying what happened and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shared_data
from test_bad_inputs import build_args, demo_rows, write_manifest

from cotgen.export.splits import parse_split, split_warnings
from cotgen.report.card import render_card


def test_votes_separated_by_commas_get_the_separator_hint_and_corpus_fails(cotgen, tmp_path: Path) -> None:
    rows = [{**row, "votes": row["votes"].replace(";", ", ")} for row in demo_rows()[:3]]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path / "run"))
    assert shown.code == 2  # every row dropped: not a success
    assert "no utterance kept from manifest (malformed row: 3)" in shown.err
    flat = " ".join(shown.out.replace("│", " ").split())
    separated = rows[0]["votes"].replace(", ", ";")
    assert f"votes are separated by ';', as in '{separated}'" in flat
    assert not (tmp_path / "run" / "utterances.jsonl").exists()


def test_a_misspelt_corpus_name_gets_the_nearest_name(cotgen) -> None:
    line = cotgen("corpus", "--corpus", "iemocapp").one_error_line()
    assert "unknown corpus 'iemocapp'; did you mean 'iemocap'?" in line
    assert "did you mean" not in cotgen("corpus", "--corpus", "timit").one_error_line()


def test_the_features_warning_names_the_clip(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    rows = demo_rows()[:4]
    rows[2] = {**rows[2], "audio": str(tmp_path / "gone.wav")}
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen(*build_args(manifest, tmp_path / "run", feature_cache, "--allow-missing-audio"))
    assert shown.code == 0, shown.err
    warning = next(line for line in shown.err.splitlines() if "could not be measured" in line)
    assert f"1 of 4 utterances could not be measured: {rows[2]['id']} ({tmp_path / 'gone.wav'}: " in warning
    assert "reason 'features'" in warning


def test_eval_of_an_empty_predictions_file_says_it_is_empty(cotgen, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cotgen("corpus", "--out", str(run)).code == 0
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    shown = cotgen("eval", "--pred", str(tmp_path / "empty.jsonl"), "--in", str(run))
    assert shown.code == 1
    error = shown.err.strip().splitlines()[-1]
    assert "the predictions file has no line" in error and "parse-failure reasons above" not in error


def test_skip_reasons_name_the_path_they_looked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shared_data, "VOTES_FILE", tmp_path / "nowhere" / "tabulatedVotes.csv")
    reason = shared_data.crema_d_skip_reason()
    assert str(tmp_path / "nowhere" / "tabulatedVotes.csv") in reason
    assert "COTGEN_CREMA_D_LABELS" in reason and "README" not in reason


def test_the_card_counts_faithful_traces_at_the_builds_gate(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    run = tmp_path / "run"
    manifest = write_manifest(tmp_path / "m.csv", demo_rows()[:6])
    assert cotgen(*build_args(manifest, run, feature_cache, "--min-faithfulness", "0")).code == 0
    traces = [json.loads(line) for line in (run / "traces.jsonl").read_text(encoding="utf-8").splitlines()]
    scores = [t["faithfulness"] for t in traces]
    # Gate off: the card still counts at the default gate, 0.75, the number the build would have rejected below.
    card = render_card(run)
    share = sum(s >= 0.75 for s in scores) / len(scores)
    assert f"share ≥ the gate, 0.75 | {sum(scores) / len(scores):.3f} / {share:.3f} |" in card
    assert "score at least 0.75, the gate the build applied" in card
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    info["config"]["min_faithfulness"] = 0.5
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    share = sum(s >= 0.5 for s in scores) / len(scores)
    assert f"share ≥ the gate, 0.5 | {sum(scores) / len(scores):.3f} / {share:.3f} |" in render_card(run)


def test_split_warnings_for_a_share_far_from_asked_or_an_empty_split() -> None:
    spec = parse_split("speaker:0.1,0.1", 0)
    assert split_warnings(spec, {"train": 18, "validation": 3, "test": 3}) == []  # 12.5 %: within twice 10 %
    far = split_warnings(spec, {"train": 12, "validation": 6, "test": 6})
    assert len(far) == 2 and "validation holds 6 of 24 utterances (25%), more than twice the 10% asked" in far[0]
    empty = split_warnings(parse_split("speaker:0.1,0.1", 0), {"train": 20, "validation": 4, "test": 0})
    assert empty == ["split speaker:0.1,0.1 --seed 0: test is empty (0 of 24 utterances); its files are not "
                     "written, choose another --split or more speakers"]  # fmt: skip
    assert split_warnings(parse_split("speaker:0.1,0", 0), {"train": 20, "validation": 4, "test": 0}) == []


def test_export_says_which_files_it_could_not_write_and_why(cotgen, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cotgen("corpus", "--out", str(run)).code == 0
    assert cotgen("grpo", "--in", str(run)).code == 0
    shown = cotgen("export", "--format", "trl", "--in", str(run))
    assert shown.code == 0, shown.err
    assert "no sft file written: the run has no sft.jsonl (run `cotgen build` first)" in shown.err
    assert "no dpo file written: the run has no dpo.jsonl (run `cotgen pairs` first)" in shown.err
    assert "validation holds 6 of 24 utterances (25%), more than twice the 10% asked" in shown.err
    recorded = json.loads((run / "export" / "trl" / "export.json").read_text(encoding="utf-8"))["warnings"]
    assert len(recorded) == 4 and all(w in shown.err for w in recorded)
