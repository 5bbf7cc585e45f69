"""Stable import path of the GRPO reward functions for trainer configs (``cotgen.rewards.distribution_reward``).

The functions live in :mod:`cotgen.scoring.rewards`; this thin re-export keeps the path that TRL
scripts and user configs name working (docs/architecture.md).
"""

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
    "MIN_STAGE_WORDS",
    "distribution_reward",
    "distribution_reward_kl",
    "format_problem",
    "format_reward",
    "make_distribution_reward",
    "read_distribution",
]
