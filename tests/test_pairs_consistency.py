"""Pairs only reasoning can win: every chosen and rejected text is consistent with itself, and no kind of negative
is shut out by the metric's arithmetic.

- A table of contradictory texts (the two issue 24 found among them) is caught by the shared consistency rules.
- The demo (template golds) and a loopback build with model golds: every text of every pair passes the check; the
  model golds get counterfactual negatives, never a partial rewrite of their words.
- Under the default settings the over-confident corruption is among the rejected on the demo; hardest-first with
  KL never picks it (the smoothing makes it "worse" than every other kind).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import LoopbackServer
from test_pairs_support import read_records

from cotgen.build.run import BuildConfig, run_build
from cotgen.pairs.build import PairOptions, build_pairs
from cotgen.pairs.select import select_pair
from cotgen.records.claims import claim_violations, read_claims
from cotgen.records.run_records import DPORecord

CLASSES = ["neu", "hap", "ang", "sad"]


def _text(acoustic: str, lexical: str, ambiguity: str, distribution: dict[str, float]) -> str:
    return (
        f"<acoustic>\n{acoustic}\n</acoustic>\n<lexical>\n{lexical}\n</lexical>\n<ambiguity>\n{ambiguity}\n"
        f"</ambiguity>\n<distribution>{json.dumps(distribution)}</distribution>"
    )


ACOUSTIC = "- pitch: high. The pitch rises above the usual. Suggests: ang.\nSummary: A tense voice."
LEXICAL = "- 'fine' → Curt agreement. Suggests: neu, ang.\nSummary: Terse words."
FLAT = {"neu": 0.25, "hap": 0.25, "ang": 0.25, "sad": 0.25}
SHIFTED = {"neu": 0.0, "hap": 0.6, "ang": 0.4, "sad": 0.0}
NEU_ANG = {"neu": 0.6, "hap": 0.0, "ang": 0.4, "sad": 0.0}

CONTRADICTORY = {
    # Issue 24: a flat negative whose model-written words still narrate the gold's reading.
    "flat, quoting the gold's reading": (
        _text(
            ACOUSTIC,
            LEXICAL,
            "Level: high. Competing: neu, hap, ang, sad. 3 of 5 annotators (60%) heard neutral, i.e. 0.25 neutral "
            "and 0.25 angry.",
            FLAT,
        ),
        "shares",
    ),
    # Issue 24: a shifted negative quoting shares that leave out the class now holding the most.
    "shifted, quoting neu and ang while hap holds 0.60": (
        _text(
            ACOUSTIC,
            LEXICAL,
            "Level: medium. Competing: hap, ang. Listeners split: 0.00 neutral and 0.40 angry.",
            SHIFTED,
        ),
        "shares",
    ),
    "low ambiguity over a split": (
        _text(ACOUSTIC, LEXICAL, "Level: low. Competing: neu. Clear.", NEU_ANG),
        "ambiguity_level",
    ),
    "high ambiguity over a certainty": (
        _text(
            ACOUSTIC, LEXICAL, "Level: high. Competing: ang, neu. Unclear.", {"neu": 0, "hap": 0, "ang": 1.0, "sad": 0}
        ),
        "ambiguity_level",
    ),
    "competing a class at 0.00": (
        _text(ACOUSTIC, LEXICAL, "Level: medium. Competing: neu, sad. Split.", NEU_ANG),
        "competing",
    ),
    "evidence for happiness, mass on neutral and anger": (
        _text(
            "- pitch: very high. Screaming, everyone would hear happiness. Suggests: hap.\nSummary: Joy.",
            "- 'yay' → Delight. Suggests: hap.\nSummary: Happy words.",
            "Level: medium. Competing: neu, ang. A split between neutral and anger.",
            NEU_ANG,
        ),
        "coherence",
    ),
    "a percentage that is not the class's share": (
        _text(ACOUSTIC, LEXICAL, "Level: medium. Competing: neu, ang. About 80% neutral in feel.", NEU_ANG),
        "shares",
    ),
    "anger quoted with the wrong share": (
        _text(ACOUSTIC, LEXICAL, "Level: medium. Competing: neu, ang. Neutral 0.60, anger (0.30).", NEU_ANG),
        "shares",
    ),
}
CONSISTENT = {
    "the template teacher's wording": _text(
        ACOUSTIC,
        LEXICAL,
        "Level: medium. Competing: neu, ang. Listeners would split (neutral 0.60, angry 0.40).",
        NEU_ANG,
    ),
    "no numbers at all": _text(
        ACOUSTIC, LEXICAL, "Level: medium. Competing: neu, ang. Calm words, a tense voice.", NEU_ANG
    ),
    "a number that is not a share of a class": _text(
        "- pitch: high. Pitch is 20% above the usual. Suggests: ang.\nSummary: Tense.",
        LEXICAL,
        "Level: medium. Competing: neu, ang. 2 of the 3 cues lean calm.",
        NEU_ANG,
    ),
}


@pytest.mark.parametrize("name", list(CONTRADICTORY))
def test_a_contradictory_text_is_caught_by_the_rule_it_breaks(name: str) -> None:
    text, rule = CONTRADICTORY[name]
    claims = read_claims(text, CLASSES)
    assert claims is not None
    assert rule in [v.rule for v in claim_violations(claims)], claims


@pytest.mark.parametrize("name", list(CONSISTENT))
def test_a_consistent_text_passes(name: str) -> None:
    claims = read_claims(CONSISTENT[name], CLASSES)
    assert claims is not None and claim_violations(claims) == []


def _every_text_passes(records: list[DPORecord]) -> None:
    for record in records:
        classes = list(record.human_distribution)
        for side in (record.chosen, record.rejected):
            claims = read_claims(side[0]["content"], classes)
            assert claims is not None and claim_violations(claims) == [], (record.id, record.source_rejected)


def test_demo_pairs_are_consistent_and_take_every_kind_of_negative(tmp_path: Path, cache: Path) -> None:
    run = tmp_path / "demo"
    run_build(BuildConfig(out=run, cache=cache, progress=False))
    stats = build_pairs(run, PairOptions(progress=False))
    records = read_records(run / "dpo.jsonl", DPORecord)
    _every_text_passes(records)
    rejected = Counter(r.source_rejected for r in records)
    assert rejected["corrupt:overconfident"] > 0  # the commonest failure of a student is taught against
    assert set(rejected) == {"corrupt:overconfident", "corrupt:flat", "corrupt:swapped", "corrupt:shifted"}
    assert max(rejected.values()) - min(rejected.values()) <= 1  # kinds in turn
    by_kind = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]["by_kind"]
    for kind, row in by_kind.items():
        assert row["chosen"] <= row["eligible"] - row["within_margin"] <= row["candidates"], kind
        assert row["chosen"] == rejected.get(kind, 0)
    assert sum(stats.inconsistent.values()) == sum(row["inconsistent"] for row in by_kind.values())
    # Hardest-first under KL: the 1e-6 smoothing makes a zero cost ~13.8 nats per unit of mass, so the
    # over-confident negative is never the nearest and never taken.
    build_pairs(run, PairOptions(rejected="hardest", progress=False))
    hardest = Counter(r.source_rejected for r in read_records(run / "dpo.jsonl", DPORecord))
    assert hardest["corrupt:overconfident"] == 0 and by_kind["corrupt:overconfident"]["eligible"] > 0


def test_model_golds_get_counterfactual_negatives_and_every_pair_is_consistent(tmp_path: Path, cache: Path) -> None:
    run = tmp_path / "run"
    with LoopbackServer() as srv:
        run_build(
            BuildConfig(teacher="openai:loopback", base_url=srv.base_url, out=run, cache=cache, progress=False, limit=6)
        )
        stats = build_pairs(run, PairOptions(max_chosen=10, margin=0.0, per_utterance=4, progress=False))
    records = read_records(run / "dpo.jsonl", DPORecord)
    assert records
    _every_text_passes(records)
    assert {r.source_rejected.split(":")[0] for r in records} == {"counterfactual"}  # never a partial rewrite
    golds = [json.loads(line) for line in (run / "traces.jsonl").read_text(encoding="utf-8").splitlines()]
    assert stats.model_golds_not_corrupted == sum(g["sample"] == 0 for g in golds) > 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]
    assert "counterfactual" in info["sources_used"] and info["counterfactual"]["items"] > 0


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("abc"), st.floats(0.2, 5.0)), min_size=1, max_size=6),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 3),
)
def test_balanced_takes_only_eligible_candidates_and_keeps_kinds_level(utterances, per_utterance) -> None:
    taken: Counter[str] = Counter()
    for offered in utterances:
        kinds = ["gold", *(kind for kind, _ in offered)]
        scores = np.array([0.0, *(score for _, score in offered)])
        texts = [str(i) for i in range(len(kinds))]
        pick = select_pair(
            scores, np.ones(len(kinds), bool), texts, 0.1, 0.1, "balanced", per_utterance,
            np.random.default_rng(0), 0, kinds, taken,
        )  # fmt: skip
        assert set(pick.rejected) <= set(pick.eligible) and len(pick.rejected) == min(per_utterance, len(offered))
        # Replayed: each pick is from a kind taken least so far (this utterance's picks counted) among the kinds
        # it still offers, so over a run the kinds stay level.
        counts, left = Counter(taken), list(pick.eligible)
        for i in pick.rejected:
            assert counts[kinds[i]] == min(counts[kinds[j]] for j in left)
            counts[kinds[i]] += 1
            left.remove(i)
        taken.update(kinds[i] for i in pick.rejected)
