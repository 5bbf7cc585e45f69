"""Stable import path of the GRPO reward functions for trainer configs (``cotgen.rewards.distribution_reward``).

The functions live in :mod:`cotgen.scoring.rewards`; this thin re-export keeps the path that TRL
scripts and user configs name working (docs/architecture.md).
"""

from cotgen.scoring.reasoning_rewards import (
    DEFAULT_WEIGHTS,
    ambiguity_consistency_reward,
    cue_faithfulness_reward,
    evidence_coherence_reward,
    reasoning_reward,
)
from cotgen.scoring.rewards import (
    MIN_STAGE_WORDS,
    distribution_reward,
    distribution_reward_kl,
    format_problem,
    format_reward,
    make_distribution_reward,
    read_distribution,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "MIN_STAGE_WORDS",
    "ambiguity_consistency_reward",
    "cue_faithfulness_reward",
    "evidence_coherence_reward",
    "reasoning_reward",
    "distribution_reward",
    "distribution_reward_kl",
    "format_problem",
    "format_reward",
    "make_distribution_reward",
    "read_distribution",
]
