"""ms-swift reward plugin: registers cotgen's rewards as ms-swift ORMs.

Use with ``swift rlhf --rlhf_type grpo --external_plugins /path/to/cotgen/swift_plugin.py
--reward_funcs cotgen_distribution cotgen_format`` (``cotgen_distribution_kl`` for exp(-KL)).
ms-swift imports the file as a top-level module (it puts the file's folder on ``sys.path`` and
imports it by name), instantiates each ORM class with no arguments and calls it as
``orm(completions, **columns)`` with completions as strings and the dataset columns
(``target_distribution`` among them) as lists, plus ``trainer_state``. The ORM base and registry
live in ``swift.rewards.orm`` from ms-swift 4 and in ``swift.plugin.orm`` before; both are tried.
"""

from __future__ import annotations

from typing import Any

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


orms["cotgen_distribution"] = CotgenDistributionReward
orms["cotgen_distribution_kl"] = CotgenDistributionKLReward
orms["cotgen_format"] = CotgenFormatReward
