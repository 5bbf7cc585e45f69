"""Properties of corruption and pair selection over generated distributions and scores."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pairs_support import CLASSES, make_trace

from cotgen.core.divergence import round_distribution
from cotgen.pairs.corrupt import CORRUPTIONS, corrupt_trace
from cotgen.pairs.select import select_pair
from cotgen.records.trace import parse_trace, render_trace
from cotgen.teachers.template import ambiguity

weights = st.lists(st.integers(0, 20), min_size=4, max_size=4).filter(lambda w: sum(w) > 0)


def _dist(w):
    return round_distribution({c: x / sum(w) for c, x in zip(CLASSES, w)})


@settings(max_examples=60, deadline=None)
@given(weights, weights)
def test_every_corruption_is_a_valid_trace_whose_ambiguity_agrees_with_its_distribution(gold_w, human_w):
    gold_dist, human = _dist(gold_w), _dist(human_w)
    stage = ambiguity(gold_dist)
    gold = make_trace(gold_dist, stage.level, tuple(stage.competing))
    majority = max(CLASSES, key=lambda c: (human[c], -CLASSES.index(c)))
    for kind in CORRUPTIONS:
        corrupted = corrupt_trace(kind, gold, human, majority, CLASSES, has_transcript=True)
        if corrupted is None:
            continue
        assert corrupted.distribution != gold.distribution
        assert parse_trace(render_trace(corrupted), CLASSES) == corrupted  # renders and reads back exactly
        # The template teacher's own rule wrote the gold's stage (make_trace's records say teacher "template").
        assert corrupted.ambiguity == ambiguity(corrupted.distribution)
        assert corrupted.acoustic == gold.acoustic and corrupted.lexical == gold.lexical
        if kind == "overconfident":
            assert corrupted.ambiguity.level == "low"
        if kind == "flat":
            assert corrupted.ambiguity.level == "high" and sorted(corrupted.ambiguity.competing) == sorted(CLASSES)


scores = st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=10)


@given(scores, st.floats(0, 2), st.floats(0, 5), st.sampled_from(["hardest", "worst", "random"]), st.integers(1, 4))
def test_selection_respects_margin_cap_and_distinct_texts(values, margin, cap, strategy, k):
    arr = np.array(values)
    texts = [f"t{i % 3}" for i in range(len(values))]  # some texts repeat
    readable = np.array([i % 4 != 3 for i in range(len(values))])
    pick = select_pair(arr, readable, texts, margin, cap, strategy, k, np.random.default_rng(0))
    again = select_pair(arr, readable, texts, margin, cap, strategy, k, np.random.default_rng(0))
    assert pick == again
    if pick.chosen is None:
        assert pick.reason in ("no_readable_candidate", "chosen_above_max")
        return
    assert readable[pick.chosen]
    assert arr[pick.chosen] == arr[readable].min()
    if pick.reason is None:
        assert 1 <= len(pick.rejected) <= k and len(set(pick.rejected)) == len(pick.rejected)
        assert arr[pick.chosen] <= cap + 1e-12
        for i in pick.rejected:
            assert arr[i] - arr[pick.chosen] >= margin - 1e-9
            assert texts[i] != texts[pick.chosen]
