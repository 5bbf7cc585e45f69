"""ms-swift reward plugin: registers cotgen's rewards as ms-swift ORMs.

Use with ``swift rlhf --rlhf_type grpo --external_plugins /path/to/cotgen/swift_plugin.py
--reward_funcs cotgen_distribution cotgen_format`` (``cotgen_distribution_kl`` for exp(-KL)), and the rewards only
reasoning can win: ``cotgen_ambiguity``, ``cotgen_cue_faithfulness`` (reads the ``cue_levels`` column),
``cotgen_coherence`` and ``cotgen_reasoning`` (all of them combined; docs/pairs-grpo-eval.md).
ms-swift imports the file as a top-level module (it puts the file's folder on ``sys.path`` and
imports it by name), instantiates each ORM class with no arguments and calls it as
``orm(completions, **columns)`` with completions as strings and the dataset columns
(``target_distribution`` among them) as lists, plus ``trainer_state``. The ORM base and registry
live in ``swift.rewards.orm`` from ms-swift 4 and in ``swift.plugin.orm`` before; both are tried.
"""

from __future__ import annotations

from typing import Any

from cotgen.scoring.reasoning_rewards import (
    ambiguity_consistency_reward,
    cue_faithfulness_reward,
    evidence_coherence_reward,
    reasoning_reward,
)
from cotgen.scoring.rewards import distribution_reward, distribution_reward_kl, format_reward

try:
    from swift.rewards.orm import ORM, orms
except ImportError:
    from swift.plugin.orm import ORM, orms


class CotgenDistributionReward(ORM):
    """1 - JS(target, completion) in bits; 0 when the completion's distribution cannot be read."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return distribution_reward(completions, **kwargs)


class CotgenDistributionKLReward(ORM):
    """exp(-KL(target || completion)) with 1e-6 smoothing; 0 when the completion's distribution cannot be read."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return distribution_reward_kl(completions, **kwargs)


class CotgenFormatReward(ORM):
    """1 when the completion has the four stages in order with a valid distribution, else 0."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return format_reward(completions, **kwargs)


class CotgenAmbiguityReward(ORM):
    """Share of the ambiguity checks (level, competing classes, quoted shares) the completion passes."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return ambiguity_consistency_reward(completions, **kwargs)


class CotgenCueFaithfulnessReward(ORM):
    """Faithfulness of the cue levels the completion claims to the clip's measured ``cue_levels``."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return cue_faithfulness_reward(completions, **kwargs)


class CotgenCoherenceReward(ORM):
    """Coherence of the classes the completion's cues point to with its distribution."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return evidence_coherence_reward(completions, **kwargs)


class CotgenReasoningReward(ORM):
    """format x distribution x ambiguity x faithfulness x coherence (cotgen.rewards.reasoning_reward)."""

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        return reasoning_reward(completions, **kwargs)


orms["cotgen_distribution"] = CotgenDistributionReward
orms["cotgen_distribution_kl"] = CotgenDistributionKLReward
orms["cotgen_format"] = CotgenFormatReward
orms["cotgen_ambiguity"] = CotgenAmbiguityReward
orms["cotgen_cue_faithfulness"] = CotgenCueFaithfulnessReward
orms["cotgen_coherence"] = CotgenCoherenceReward
orms["cotgen_reasoning"] = CotgenReasoningReward
