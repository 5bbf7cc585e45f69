"""TRL's SFTTrainer with the paper's objective: CE over the answer + λ · KL on the label token.

Use it where you would use ``trl.SFTTrainer``, on the rows of ``cotgen export --format trl --answer label``
(their ``target_distribution`` column is the human distribution of each utterance)::

    from cotgen.train import DistributionSFTTrainer
    trainer = DistributionSFTTrainer(model=model, args=SFTConfig(...), train_dataset=rows,
                                     processing_class=tokenizer, kl_weight=1.0)
    trainer.train()

What it adds to SFTTrainer, and nothing else:

- it keeps the ``target_distribution`` column through TRL's dataset preparation and the trainer's column
  pruning, and wraps the collator (:class:`~cotgen.train.batch.LabelCollator`) so each batch carries the
  targets and the label positions;
- it checks, on the tokenizer it trains with, that every class's label word is one token of its own
  where the answer writes it (:mod:`cotgen.records.label_layout`), and refuses to start otherwise;
- its loss is :func:`cotgen.train.objective.objective`, computed from the model's logits, with ``ce`` and
  ``kl`` (the batch's mean KL at the label position) logged at every logging step beside TRL's metrics.

Packing and padding-free batches put several records in one row, which moves their label positions; they
are refused rather than supported half-way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from trl import SFTTrainer

from cotgen.records.answer import read_label_words
from cotgen.records.label_layout import LabelLayout, choose_label_words, encoder_of, prefix_ids
from cotgen.scoring.rewards import read_distribution
from cotgen.train.batch import LABEL_POSITION, LABEL_WORDS_COLUMN, TARGET_COLUMN, LabelCollator
from cotgen.train.objective import objective


def label_layout_for(tokenizer: Any, classes: Sequence[str], words: Mapping[str, str] | None = None) -> LabelLayout:
    """The label layout of ``classes`` (labels ``words``, default the codes) for a transformers fast tokenizer.

    Only the given words are tried: the trainer must read the labels the export wrote, not better ones.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError("the KL term needs a fast tokenizer (tokenizer.json); got a slow one")
    chosen = {code: [(words or {}).get(code, code)] for code in classes}
    return choose_label_words(encoder_of(backend), classes, type(tokenizer).__name__, "in memory", chosen)


def _dataset_classes(dataset: Any) -> list[str]:
    """The class codes of the dataset's first ``target_distribution``, in its order."""
    first = next(iter(dataset))
    target = first.get(TARGET_COLUMN) if isinstance(first, Mapping) else None
    if target is None:
        raise ValueError(
            f"the training rows have no {TARGET_COLUMN!r} column: export them with `cotgen export --answer label`"
        )
    return list(read_distribution(target))


def _dataset_label_words(dataset: Any) -> dict[str, str] | None:
    """The label words the export wrote (its ``label_words`` column), or None: the class codes."""
    first = next(iter(dataset))
    return read_label_words(first.get(LABEL_WORDS_COLUMN)) if isinstance(first, Mapping) else None


class DistributionSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss is CE + ``kl_weight`` · KL(human ‖ label-token softmax); see the module docstring."""

    def __init__(
        self,
        *args: Any,
        kl_weight: float = 1.0,
        classes: Sequence[str] | None = None,
        label_words: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if kl_weight < 0:
            raise ValueError(f"kl_weight must not be negative, got {kl_weight}")
        super().__init__(*args, **kwargs)
        if getattr(self.args, "packing", False) or getattr(self.args, "padding_free", False):
            raise ValueError("packing and padding_free move the label positions; turn them off for the KL term")
        self.kl_weight = kl_weight
        self.classes = list(classes) if classes is not None else _dataset_classes(self.train_dataset)
        words = label_words if label_words is not None else _dataset_label_words(self.train_dataset)
        self.label_layout = label_layout_for(self.processing_class, self.classes, words)
        word = self.label_layout.words[self.classes[0]]
        encode = encoder_of(self.processing_class.backend_tokenizer)
        self.data_collator = LabelCollator(
            base=self.data_collator,
            classes=self.classes,
            class_token_ids=[self.label_layout.token_ids[code] for code in self.classes],
            prefix=prefix_ids(encode, word),
        )
        self._class_token_ids = torch.tensor([self.label_layout.token_ids[code] for code in self.classes])

    def _set_signature_columns_if_needed(self) -> None:
        # The trainer prunes the columns its model's forward does not take; the targets must reach the collator.
        super()._set_signature_columns_if_needed()
        if self._signature_columns is not None:
            kept = [c for c in (TARGET_COLUMN, LABEL_WORDS_COLUMN) if c not in self._signature_columns]
            self._signature_columns = [*self._signature_columns, *kept]

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: int | torch.Tensor | None = None,
    ) -> Any:
        targets = inputs.pop(TARGET_COLUMN)
        positions = inputs.pop(LABEL_POSITION)
        labels = inputs.pop("labels")
        forward = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}
        outputs = model(**forward, use_cache=False)
        parts = objective(
            outputs.logits,
            labels,
            positions.to(outputs.logits.device),
            self._class_token_ids.to(outputs.logits.device),
            targets.to(outputs.logits.device),
            self.kl_weight,
            num_items_in_batch,
        )
        mode = "train" if model.training else "eval"
        self._metrics[mode]["ce"].append(parts.ce.detach().item())
        self._metrics[mode]["kl"].append(parts.kl.detach().item())
        return (parts.loss, outputs) if return_outputs else parts.loss
