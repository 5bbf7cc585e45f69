"""The paper's training objective for TRL (``pip install 'cotgen[train]'``): CE + λ · KL on the label token.

Importing this package imports torch, transformers and trl; nothing else of cotgen does.
"""

from cotgen.train.objective import label_kl, objective
from cotgen.train.sft import DistributionSFTTrainer, label_layout_for

__all__ = ["DistributionSFTTrainer", "label_kl", "label_layout_for", "objective"]
