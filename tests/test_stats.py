"""Run statistics (pure maths, property-tested) and ``cotgen stats`` with its PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread
from test_export_fixtures import make_run
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.divergence import entropy_bits
from cotgen.export.record_readers import load_run
from cotgen.records.utterance import Utterance, majority_of
from cotgen.report import stats as stats_module
from cotgen.report.stats import compute_stats

CLASSES = ["neu", "hap", "ang"]


def _utt(uid: str, probs: list[float], speaker: str = "s") -> Utterance:
    dist = dict(zip(CLASSES, probs))
    return Utterance(
        id=uid,
        corpus="t",
        audio="/a.wav",
        speaker=speaker,
        vote_counts=dist,
        distribution=dist,
        majority=majority_of(dist),
        n_annotators=4,
    )


_distributions = st.lists(st.integers(0, 10), min_size=3, max_size=3).filter(lambda v: sum(v) > 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(_distributions, min_size=1, max_size=20))
def test_vote_mass_sums_to_the_number_of_utterances(counts: list[list[int]]) -> None:
    utterances = [_utt(f"u{i}", [c / sum(v) for c in v]) for i, v in enumerate(counts)]
    mass = compute_stats(utterances, traces=[], pairs=[]).class_vote_mass
    assert sum(mass.values()) == pytest.approx(len(utterances))
    assert all(value >= 0 for value in mass.values())


def test_compute_stats_counts_ties_and_averages_entropy() -> None:
    utterances = [_utt("a", [1.0, 0.0, 0.0], "x"), _utt("b", [0.5, 0.5, 0.0], "y"), _utt("c", [0.0, 0.0, 1.0], "x")]
    stats = compute_stats(utterances, traces=[], pairs=[])
    assert stats.utterances == 3 and stats.speakers == 2
    assert stats.ties == 1
    assert stats.majority_counts == {"neu": 1, "hap": 0, "ang": 1}
    assert stats.mean_human_entropy_bits == pytest.approx(1 / 3)
    assert stats.mean_gold_js_bits is None and stats.mean_pair_margin is None


def test_compute_stats_on_a_run_separates_gold_from_samples(tmp_path: Path) -> None:
    data = load_run(make_run(tmp_path))
    stats = compute_stats(data.utterances, data.traces, data.dpo, sft=len(data.sft), grpo=len(data.grpo))
    assert stats.traces == 30 and stats.gold_traces == 15
    assert stats.mean_gold_js_bits == pytest.approx(np.mean([t.js for t in data.traces if t.sample == 0]))
    assert stats.mean_sample_js_bits > stats.mean_gold_js_bits
    assert stats.mean_pair_margin == pytest.approx(np.mean([p.score_rejected - p.score_chosen for p in data.dpo]))
    human = np.mean([entropy_bits(list(u.distribution.values())) for u in data.utterances])
    assert stats.mean_human_entropy_bits == pytest.approx(human)


def test_stats_command_writes_non_trivial_plots_and_records_itself(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = CliRunner().invoke(get_app(), ["stats", "--in", str(run)])
    assert result.exit_code == 0, result.output
    assert "mean sample js bits" in result.output
    names = {"vote_mass", "entropy", "trace_js", "pair_margins", "features_by_class"}
    assert {p.stem for p in (run / "plots").glob("*.png")} == names
    for name in names:
        image = imread(run / "plots" / f"{name}.png")
        height, width = image.shape[:2]
        assert height >= 300 and width >= 300
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20
    info = json.loads((run / "run.json").read_text())
    assert info["owner_key"] == "kept"
    assert info["stats"]["utterances"] == 15 and set(info["stats"]["plots"]) == names
    assert "](plots/entropy.png)\n\n*Figure 2. Entropy (bits)" in (run / "README.md").read_text()


def test_stats_skips_plots_whose_inputs_are_missing(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    for name in ("traces.jsonl", "dpo.jsonl", "features.parquet"):
        (run / name).unlink()
    result = CliRunner().invoke(get_app(), ["stats", "--in", str(run)])
    assert result.exit_code == 0, result.output
    assert {p.stem for p in (run / "plots").glob("*.png")} == {"vote_mass"}


@settings(max_examples=40, deadline=None)
@given(st.lists(_distributions, min_size=1, max_size=30), st.integers(1, 8))
def test_batched_entropy_mean_equals_the_mean_of_each_entropy(counts: list[list[int]], batch: int) -> None:
    vectors = [np.array([c / sum(v) for c in v]) for v in counts]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stats_module, "ENTROPY_BATCH", batch)
        batched = stats_module.EntropyMean()
        for vector in vectors:
            batched.add(vector)
        assert batched.mean() == pytest.approx(np.mean([entropy_bits(v) for v in vectors]), abs=1e-12)
        assert batched.pending == 0  # mean() took every pending vector in
