"""Annotator agreement: Krippendorff's alpha (nominal) via the package, checked against the textbook example and an
independent coincidence-matrix computation; normalised entropy; per-class figures; the real CREMA-D votes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from shared_data import SHARED_CREMA_D, needs_crema_d

from cotgen.corpora import load_corpus
from cotgen.corpora.agreement import alpha_nominal, measure, normalised_entropy
from cotgen.records.utterance import Utterance


def reference_alpha(counts: np.ndarray) -> float:
    """Krippendorff (2011), nominal: 1 - D_o / D_e from the coincidence matrix of pairable units."""
    counts = counts[counts.sum(axis=1) >= 2].astype(float)
    n_u = counts.sum(axis=1)
    coincidence = sum((np.outer(row, row) - np.diag(row)) / (m - 1) for row, m in zip(counts, n_u))
    n_c = coincidence.sum(axis=0)
    n = n_c.sum()
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n * n - (n_c**2).sum()) / (n - 1)
    return 1.0 - observed / expected


def test_textbook_example_gives_0_743() -> None:
    nan = np.nan
    coders = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    counts = np.array([[np.sum(coders[:, u] == v) for v in range(1, 6)] for u in range(12)])
    assert alpha_nominal(counts) == pytest.approx(0.743, abs=5e-4)


@settings(max_examples=80, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(2, 12), st.integers(2, 5)), elements=st.integers(0, 6)))
def test_alpha_matches_the_coincidence_matrix_formula(counts: np.ndarray) -> None:
    pairable = counts[counts.sum(axis=1) >= 2]
    used = pairable[:, pairable.sum(axis=0) > 0] if pairable.size else pairable
    value = alpha_nominal(counts)
    if used.shape[0] == 0 or used.shape[1] < 2:
        assert value is None
    else:
        assert value == pytest.approx(reference_alpha(used), abs=1e-9)


def test_perfect_agreement_is_one_and_one_value_is_undefined() -> None:
    assert alpha_nominal(np.array([[3, 0], [0, 4], [5, 0]])) == pytest.approx(1.0)
    assert alpha_nominal(np.array([[3, 0], [4, 0]])) is None
    assert alpha_nominal(np.array([[1, 0], [0, 1]])) is None  # no unit with two votes


def test_normalised_entropy_bounds() -> None:
    rows = np.array([[1.0, 0, 0, 0], [0.25] * 4, [0.5, 0.5, 0, 0]])
    assert normalised_entropy(rows) == pytest.approx([0.0, 1.0, 0.5])


def _utt(uid: str, counts: dict[str, float], n: int, classes: list[str]) -> Utterance:
    total = sum(counts.get(c, 0.0) for c in classes)
    dist = {c: counts.get(c, 0.0) / total for c in classes}
    top = max(dist.values())
    winners = [c for c, p in dist.items() if p == top]
    return Utterance(
        id=uid,
        corpus="t",
        audio="/a.wav",
        vote_counts=counts,
        distribution=dist,
        majority=winners[0] if len(winners) == 1 else None,
        n_annotators=n,
    )


def test_per_class_figures_and_out_of_set_votes_kept_as_one_value() -> None:
    classes = ["neu", "ang"]
    utts = [
        _utt("a", {"neu": 3.0}, 3, classes),
        _utt("b", {"ang": 2.0, "fru": 1.0}, 3, classes),  # fru is outside the set: a third value, not lost
        _utt("c", {"neu": 1.0, "ang": 1.0}, 2, classes),
        _utt("d", {"neu": 1.0}, 1, classes),  # one rater: not a unit
    ]
    result = measure(utts, classes, {"neu": "neu", "ang": "ang"})
    assert result.units == 3
    expected = reference_alpha(np.array([[3, 0, 0], [0, 2, 1], [1, 1, 0]]))
    assert result.alpha == pytest.approx(expected)
    neu = next(row for row in result.per_class if row.code == "neu")
    assert neu.alpha == pytest.approx(reference_alpha(np.array([[3, 0], [0, 3], [1, 1]])))
    assert neu.majorities == 2 and neu.mean_normalised_entropy == pytest.approx(0.0)  # a and d are one-class
    assert result.mean_normalised_entropy == pytest.approx(np.mean([0, 0, 1, 0]))


@needs_crema_d
def test_real_crema_d_voice_only_agreement() -> None:
    summary = load_corpus("crema-d", SHARED_CREMA_D, allow_missing_audio=True).summary()
    agreement = summary.agreement
    assert agreement is not None and agreement.units == 7442
    assert 0.2 < agreement.alpha < 0.4  # fair agreement on voice only (0.281 measured)
    assert 0.3 < agreement.mean_normalised_entropy < 0.6
    assert max(agreement.per_class, key=lambda row: row.alpha or 0).code == "ang"  # anger is the clearest


def test_card_states_agreement_single_labels_and_notes() -> None:
    from cotgen.report.card import agreement_sentences

    corpus = {
        "agreement": {
            "krippendorff_alpha_nominal": 0.2812,
            "alpha_units": 7442,
            "mean_normalised_entropy": 0.4631,
            "per_class": {"neu": {"alpha": 0.292}, "ang": {"alpha": 0.435}},
        },
        "single_label": 0,
        "notes": {"smoothing floor e (estimated, undone)": 0.01},
    }
    text = " ".join(agreement_sentences(corpus))
    assert "Krippendorff's alpha (nominal) 0.281 over 7442 utterances (per class: neu 0.292, ang 0.435)" in text
    assert "normalised entropy of the human distributions: 0.463" in text
    assert "Smoothing floor e (estimated, undone): 0.01." in text and "Single-label" not in text
    assert agreement_sentences({}) == []
