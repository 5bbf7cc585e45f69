"""GRPO rewards that only reasoning can win: ambiguity consistency, cue faithfulness, evidence coherence, combined.

Why: the format reward and the distribution reward both pay 1.0 to a completion that writes boilerplate in every
stage and the right numbers at the end, or reasons to "everyone would hear happiness" over a target of neutral
and anger. These rewards read what a completion *claims* (:mod:`cotgen.records.claims`) and judge it by the rules
the gold traces pass, so the policy is paid for reasoning that holds together and matches the clip:

- :func:`ambiguity_consistency_reward`: the mean of three checks on the completion's own distribution — the stated
  ambiguity level (rule 1 of :mod:`cotgen.records.consistency`), the stated competing classes (rule 2) and every
  share it quotes for a class (rule 4). A level or competing list it does not state fails its check.
- :func:`cue_faithfulness_reward`: the faithfulness score the build's gate uses
  (:class:`cotgen.records.trace.FaithfulnessParts`: exact, within one step, salient recall) of the levels the
  acoustic stage claims against the clip's measured levels (the GRPO record's ``cue_levels``). A cue claimed at
  several levels ("pitch very high, very low, moderate") agrees with nothing; citing no measured cue scores 0.
- :func:`evidence_coherence_reward`: rule 3's coherence score of the classes the cues point to (``Suggests:``, or
  the classes a cue line names) against the completion's distribution, divided by the gate gold traces pass
  (:data:`cotgen.records.consistency.MIN_COHERENCE`) and capped at 1: evidence as coherent as an accepted gold's is
  paid in full, evidence pointing away from the answer falls to 0, and no evidence pointing anywhere scores 0.
  (Raw coherence would pay the demo's template golds 0.25–0.95: their cues point where the sound does, and an
  ambiguous answer rightly spreads its mass beyond them.)
- :func:`reasoning_reward`: the combination, ``format × distribution^w_d × ambiguity^w_a × faithfulness^w_f ×
  coherence^w_c`` with :data:`DEFAULT_WEIGHTS` (all 1). A product, because each part guards a different shortcut:
  a weighted sum would still pay most of the reward to a completion that games one part (stuffed cue lists, say)
  and gets the others right. A weight below 1 softens a part, 0 leaves it out.

Each is a pure function of the text and the row's columns, callable as TRL and ms-swift call rewards
(``completions`` first, columns by keyword). A row whose clip has no measured cue (``cue_levels`` absent or all
null) has no faithfulness to judge: the faithfulness reward is 0 for every completion of that prompt (a constant
gives GRPO no advantage either way) and the combined reward leaves the part out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotgen.core.durable_files import read_run_json, update_run_json
from cotgen.core.run_lock import run_lock
from cotgen.records.claims import Claims, read_claims
from cotgen.records.columns import mapping_column
from cotgen.records.consistency import (
    MIN_COHERENCE,
    coherence,
    competing_violation,
    level_violation,
    shares_violation,
)
from cotgen.records.run_records import GRPORecord
from cotgen.records.stages import DEFAULT_ORDER
from cotgen.records.trace import cited_faithfulness
from cotgen.scoring.rewards import (
    completion_text,
    distribution_reward,
    format_problem,
    format_reward,
    read_contracts,
    read_orders,
    read_targets,
)

# Exponents of the combined reward's parts (1: as is; below 1: softer; 0: left out).
DEFAULT_WEIGHTS: dict[str, float] = {
    "distribution": 1.0,
    "ambiguity": 1.0,
    "faithfulness": 1.0,
    "coherence": 1.0,
}
_SUMMARY_BATCH = 512  # gold traces scored per call by gold_reward_summary
# The level a cue claimed at several levels is recorded at: on no scale, so it agrees with no measurement.
CONTRADICTORY = "contradictory"


@dataclass(frozen=True)
class ReasoningScores:
    """The three reasoning parts of one completion; ``faithfulness`` None when the clip has no measured cue."""

    ambiguity: float
    faithfulness: float | None
    coherence: float


def read_cue_levels(value: Any) -> dict[str, str | None] | None:
    """A ``cue_levels`` column as data carries it (mapping, Arrow struct with nulls, JSON text or None)."""
    levels = mapping_column(value, "cue_levels", "cue to level")
    if levels is None:
        return None
    return {str(cue): (None if level is None else str(level)) for cue, level in levels.items()}


def ambiguity_score(claims: Claims) -> float:
    """Mean of: level stated and consistent, competing stated and consistent, quoted shares consistent."""
    distribution = claims.distribution
    checks = [
        claims.level is not None and level_violation(claims.level, distribution) is None,
        claims.competing is not None and competing_violation(claims.competing, distribution) is None,
        shares_violation([(s.value, s.code) for s in claims.shares], distribution) is None,
    ]
    return sum(checks) / len(checks)


def faithfulness_score(claims: Claims, measured: Mapping[str, str | None] | None) -> float | None:
    """The gate's faithfulness score of the claimed levels; 0 when nothing measured is cited, None when unmeasured."""
    if not measured or all(level is None for level in measured.values()):
        return None
    cited = {**claims.cue_levels, **dict.fromkeys(claims.contradictory_cues, CONTRADICTORY)}
    score = cited_faithfulness(cited, measured).score
    return 0.0 if score is None else score


def coherence_score(claims: Claims) -> float:
    """Rule 3's coherence of the cited evidence with the distribution over the gold gate, capped at 1; 0 when no
    cue points to a class."""
    score = coherence(claims.suggests, claims.distribution)
    return 0.0 if score is None else min(1.0, score / MIN_COHERENCE)


def reasoning_scores(
    text: str,
    classes: Sequence[str],
    measured: Mapping[str, str | None] | None,
    order: Sequence[str] = DEFAULT_ORDER,
) -> ReasoningScores | None:
    """The three parts for one completion over ``classes``; None when its sections cannot be read in ``order``."""
    claims = read_claims(text, classes, order)
    if claims is None:
        return None
    return ReasoningScores(ambiguity_score(claims), faithfulness_score(claims, measured), coherence_score(claims))


Row = tuple[str, list[str] | None, dict[str, str | None] | None, tuple[str, ...]]


def _rows(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None,
    cue_levels: Sequence[Any] | None,
    stages: Sequence[Any] | None = None,
) -> list[Row]:
    n = len(completions)
    targets = read_targets(target_distribution, n)
    if cue_levels is not None and len(cue_levels) != n:
        raise ValueError(f"{n} completions but {len(cue_levels)} cue_levels values")
    levels = [read_cue_levels(v) for v in cue_levels] if cue_levels is not None else [None] * n
    orders = read_orders(stages, n)
    return [
        (completion_text(c), list(t) if t else None, m, o)
        for c, t, m, o in zip(completions, targets, levels, orders, strict=True)
    ]


def _scores(
    text: str, classes: list[str] | None, measured: dict[str, str | None] | None, order: Sequence[str]
) -> ReasoningScores | None:
    if classes is None:
        raise ValueError("the reasoning rewards need the dataset column 'target_distribution' (it names the classes)")
    return reasoning_scores(text, classes, measured, order)


def _part_rewards(
    part: str,
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None,
    cue_levels: Sequence[Any] | None,
    stages: Sequence[Any] | None,
) -> list[float]:
    """One part of :class:`ReasoningScores` per completion: 0 when its sections cannot be read or the part is None."""
    out = []
    for text, classes, measured, order in _rows(completions, target_distribution, cue_levels, stages):
        scores = _scores(text, classes, measured, order)
        value = None if scores is None else getattr(scores, part)
        out.append(0.0 if value is None else value)
    return out


def ambiguity_consistency_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """Share of the ambiguity checks the completion passes against its own distribution (0 when unreadable)."""
    return _part_rewards("ambiguity", completions, target_distribution, None, stages)


def cue_faithfulness_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    cue_levels: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """Faithfulness of the claimed cue levels to the clip's measured ``cue_levels`` (0 when unreadable/unmeasured)."""
    return _part_rewards("faithfulness", completions, target_distribution, cue_levels, stages)


def evidence_coherence_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """Coherence of the evidence the cues point to with the completion's distribution (0 when unreadable)."""
    return _part_rewards("coherence", completions, target_distribution, None, stages)


def combine(
    format_ok: bool,
    distribution: float,
    scores: ReasoningScores,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
) -> float:
    """``format × distribution^w_d × ambiguity^w_a × faithfulness^w_f × coherence^w_c`` (faithfulness left out
    when the clip is unmeasured)."""
    if not format_ok:
        return 0.0
    parts = {"distribution": distribution, "ambiguity": scores.ambiguity, "coherence": scores.coherence}
    if scores.faithfulness is not None:
        parts["faithfulness"] = scores.faithfulness
    value = 1.0
    for name, part in parts.items():
        weight = weights.get(name, 1.0)
        if weight:
            value *= max(0.0, part) ** weight
    return value if math.isfinite(value) else 0.0


def reasoning_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    cue_levels: Sequence[Any] | None = None,
    label_words: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """The combined reward (:func:`combine` with :data:`DEFAULT_WEIGHTS`): 0 unless the format holds."""
    rows = _rows(completions, target_distribution, cue_levels, stages)
    contracts = read_contracts(label_words, len(completions))
    distribution = distribution_reward(completions, target_distribution=target_distribution, stages=stages)
    out = []
    for (text, classes, measured, order), contract, dist in zip(rows, contracts, distribution, strict=True):
        scores = _scores(text, classes, measured, order)
        ok = scores is not None and format_problem(text, classes, contract, order) is None
        out.append(combine(ok, dist, scores) if scores is not None else 0.0)
    return out


GOLD_REWARD_PARTS: tuple[str, ...] = ("format", "distribution", "ambiguity", "faithfulness", "coherence", "combined")


def gold_reward_summary(grpo_path: Path) -> dict[str, Any]:
    """What the rewards pay the gold traces of a ``grpo.jsonl``: the mean of each part and the lowest combined.

    Why: a gold that the combined reward pays little would teach against the rewards GRPO then optimises; the
    summary (``run.json["grpo"]["gold_rewards"]``, the card) shows that the golds are what the rewards ask for.
    Streams the file; golds are read in batches of :data:`_SUMMARY_BATCH`.
    """
    totals = dict.fromkeys(GOLD_REWARD_PARTS, 0.0)
    lowest: float | None = None
    golds = 0
    batch: list[GRPORecord] = []

    def flush() -> None:
        nonlocal lowest, golds
        texts = [r.gold_trace or "" for r in batch]
        columns = {
            "target_distribution": [r.target_distribution for r in batch],
            "cue_levels": [r.cue_levels for r in batch],
            "stages": [r.stages for r in batch],
        }
        targets, stages = columns["target_distribution"], columns["stages"]
        rewards = {
            "format": format_reward(texts, target_distribution=targets, stages=stages),
            "distribution": distribution_reward(texts, target_distribution=targets, stages=stages),
            "ambiguity": ambiguity_consistency_reward(texts, **columns),
            "faithfulness": cue_faithfulness_reward(texts, **columns),
            "coherence": evidence_coherence_reward(texts, **columns),
            "combined": reasoning_reward(texts, **columns),
        }
        for part, values in rewards.items():
            totals[part] += sum(values)
        lowest = min([*rewards["combined"], *([] if lowest is None else [lowest])])
        golds += len(batch)
        batch.clear()

    with grpo_path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = GRPORecord.model_validate_json(line)
            if record.gold_trace is not None:
                batch.append(record)
                if len(batch) == _SUMMARY_BATCH:
                    flush()
    if batch:
        flush()
    means = {part: (total / golds if golds else None) for part, total in totals.items()}
    return {"golds": golds, "mean": means, "lowest_combined": lowest}


def record_gold_rewards(run_dir: Path, grpo_path: Path) -> dict[str, Any]:
    """:func:`gold_reward_summary` of a run's ``grpo.jsonl``, recorded as ``run.json["grpo"]["gold_rewards"]``."""
    summary = gold_reward_summary(grpo_path)
    with run_lock(run_dir, "cotgen grpo"):
        section = read_run_json(run_dir).get("grpo")
        update_run_json(run_dir, "grpo", {**(section if isinstance(section, dict) else {}), "gold_rewards": summary})
    return summary
