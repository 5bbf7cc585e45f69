"""The file ms-swift's ``--external_plugins`` names: importing it registers cotgen's rewards as ORMs.

The ORM classes live in :mod:`cotgen.scoring.swift_plugin`; this thin file keeps the documented path
``cotgen/swift_plugin.py`` (docs/architecture.md).
"""

from cotgen.scoring.swift_plugin import (
    CotgenAmbiguityReward,
    CotgenCoherenceReward,
    CotgenCueFaithfulnessReward,
    CotgenDistributionKLReward,
    CotgenDistributionReward,
    CotgenFormatReward,
    CotgenReasoningReward,
)

__all__ = [
    "CotgenAmbiguityReward",
    "CotgenCoherenceReward",
    "CotgenCueFaithfulnessReward",
    "CotgenDistributionKLReward",
    "CotgenDistributionReward",
    "CotgenFormatReward",
    "CotgenReasoningReward",
]
