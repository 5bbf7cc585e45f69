"""EMO-SUPERB label files: the smoothing floor is estimated and undone exactly, Split_Set kept as partition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.emo_superb import CLASSES_NOTE, FLOOR_NOTE, Smoothing, class_code, estimate_floor
from cotgen.corpora.entries import MALFORMED_ROW, MISSING_AUDIO

NAMES = ["angry", "sad", "disgust", "fear", "neutral", "happy"]
HEADER = "FileName," + ",".join(NAMES) + ",SpkrID,Gender,Split_Set"
FLOOR = 0.01
# raw distributions (what the raters said), in NAMES order
RAW = {
    "1037_IWL_HAP_XX.wav": ([0.4, 0, 0, 0, 0, 0.6], "1037", "Female", "Train"),
    "1064_TSI_FEA_XX.wav": ([0, 0, 0, 1, 0, 0], "1064", "Male", "Train"),
    "1082_IEO_HAP_LO.wav": ([0, 0, 0, 1 / 11, 5 / 11, 5 / 11], "1082", "Female", "Development"),
    "1045_WSI_FEA_XX.wav": ([0, 2 / 9, 1 / 9, 0, 6 / 9, 0], "1045", "Male", "Test"),
}


def smooth(p: float, k: int = 6, e: float = FLOOR) -> float:
    return p * (1 - k * e) + e


def write_tree(root: Path, extra_rows: list[str] | None = None, decimals: int = 6) -> Path:
    """data/CREMA-D/{Audios,Primary} as EMO-SUPERB lays it out; the CSV has a BOM and Windows line ends."""
    label_dir = root / "CREMA-D" / "Primary"
    label_dir.mkdir(parents=True)
    config = {"data_split_type": {"train": "Train"}, "categorical": {"emo_type": NAMES}}
    (label_dir / "config.json").write_text(json.dumps(config, indent=4))
    rows = [HEADER]
    for name, (raw, spk, gender, split) in RAW.items():
        values = ",".join(f"{round(smooth(p), decimals):g}" for p in raw)
        rows.append(f"{name},{values},{spk},{gender},{split}")
    rows += extra_rows or []
    (label_dir / "labels_consensus_3.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
    (root / "CREMA-D" / "Audios").mkdir()
    for name in RAW:
        (root / "CREMA-D" / "Audios" / name).write_bytes(b"RIFF")
    return label_dir / "labels_consensus_3.csv"


def test_floor_is_estimated_and_undone_to_the_raw_distribution(tmp_path: Path) -> None:
    load = load_corpus("emo-superb", write_tree(tmp_path))
    assert load.classes == ["neu", "hap", "ang", "sad", "fea", "dis"]
    utts = {u.id: u for u in load.utterances}
    for name, (raw, spk, gender, split) in RAW.items():
        utt = utts[Path(name).stem]
        expected = {class_code(n): p for n, p in zip(NAMES, raw)}
        assert utt.distribution == pytest.approx({c: expected[c] for c in load.classes}, abs=2e-6)
        assert (utt.speaker, utt.gender, utt.session) == (spk, gender[0], split)
        assert utt.n_annotators == 0 and utt.meta["emo_superb_corpus"] == "CREMA-D"
    summary = load.summary()
    assert summary.notes == {FLOOR_NOTE: FLOOR, CLASSES_NOTE: 6, "fold": 3}
    assert summary.agreement is not None and summary.agreement.alpha is None  # no counts behind distributions


def test_three_decimal_files_recover_within_their_rounding(tmp_path: Path) -> None:
    load = load_corpus("emo-superb", write_tree(tmp_path, decimals=3))
    fear = next(u for u in load.utterances if u.id == "1082_IEO_HAP_LO")
    assert fear.distribution["fea"] == pytest.approx(1 / 11, abs=1e-3)
    assert fear.distribution["ang"] == 0.0


def test_bad_rows_are_counted_and_kept_rows_unchanged(tmp_path: Path) -> None:
    extra = [
        "1001_DFA_ANG_XX.wav,NaN,0.01,0.01,0.01,0.01,0.95,1001,Male,Train",
        "1002_DFA_ANG_XX.wav,0.5,0.5,0.5,0.01,0.01,0.01,1002,Male,Train",  # sums to 1.53
        "1003_DFA_ANG_XX.wav,0.95,0.01,0.01,0.01,0.01,0.01,1003,Male,Validation",  # not a Split_Set name
        "1004_DFA_ANG_XX.wav,0.95,0.01,0.01,0.01,0.01,1004,Male,Train",  # a field short
        "1005_DFA_ANG_XX.wav,0.95,0.01,0.01,0.01,0.01,0.01,1005,Male,Train",  # no audio
    ]
    load = load_corpus("emo-superb", write_tree(tmp_path, extra))
    assert load.summary().dropped == {MALFORMED_ROW: 4, MISSING_AUDIO: 1}
    assert len(load.utterances) == len(RAW)


def test_folder_with_several_folds_asks_for_one_and_config_is_required(tmp_path: Path) -> None:
    path = write_tree(tmp_path)
    assert len(load_corpus("emo-superb", path.parent).utterances) == len(RAW)  # the only fold in the folder
    (path.parent / "labels_consensus_4.csv").write_text(HEADER + "\n")
    with pytest.raises(CotgenError, match="pass one of them"):
        load_corpus("emo-superb", path.parent)
    (path.parent / "config.json").unlink()
    with pytest.raises(CotgenError, match="config.json"):
        load_corpus("emo-superb", path)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(min_value=2, max_value=10),
    floor=st.sampled_from([0.0, 0.005, 0.01, 0.02]),
    counts=st.lists(st.integers(min_value=0, max_value=12), min_size=10, max_size=10),
)
def test_undo_inverts_the_smoothing(k: int, floor: float, counts: list[int]) -> None:
    counts = counts[:k]
    if sum(counts) == 0:
        counts[0] = 1
    raw = [c / sum(counts) for c in counts]
    smoothed = [smooth(p, k, floor) for p in raw]
    assert Smoothing(floor, k).undo(smoothed) == pytest.approx(raw, abs=1e-12)
    if 0 in counts:
        assert estimate_floor([smoothed], k) == pytest.approx(floor)
