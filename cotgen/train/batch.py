"""Carrying each record's human distribution and its label position from the dataset to the loss.

A trainer's collator pads ``input_ids`` and ``labels`` and drops every other column. The KL term needs
two more things per sequence: the record's ``target_distribution`` (the column ``cotgen export --answer
label`` writes) and where its label token is. :class:`LabelCollator` wraps the trainer's own collator and
adds both as tensors. The label token is found in the tokenised sequence itself, as the last class token
among the trained (non-masked) tokens that follows the tokens of ``Label:`` — the answer ends with the
label line, and a class code quoted earlier in the trace ("Suggests: neu") is never the last. A sequence
with no label there (an export without ``--answer label``, a sequence truncated before its end) is an error
naming it, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cotgen.scoring.rewards import read_distribution
from cotgen.train.objective import IGNORE_INDEX

TARGET_COLUMN = "target_distribution"
LABEL_WORDS_COLUMN = "label_words"
LABEL_POSITION = "label_position"
# Columns of the export for this collator only: the trainer's own collator never sees them.
OWN_COLUMNS: tuple[str, ...] = (TARGET_COLUMN, LABEL_WORDS_COLUMN)


class LabelNotFoundError(ValueError):
    """A training sequence without the label token where the label line should be."""


def label_position(
    input_ids: Sequence[int], labels: Sequence[int], class_token_ids: Sequence[int], prefix: Sequence[int]
) -> int:
    """The index of the label token: the last trained class token that follows ``prefix`` (``Label:``'s ids)."""
    classes = set(class_token_ids)
    width = len(prefix)
    for index in range(len(input_ids) - 1, width - 1, -1):
        if labels[index] == IGNORE_INDEX or input_ids[index] not in classes:
            continue
        if list(input_ids[index - width : index]) == list(prefix):
            return index
    raise LabelNotFoundError("no 'Label: WORD' line with a class token among the trained tokens")


def target_vector(value: Any, classes: Sequence[str]) -> list[float]:
    """A record's target distribution in class order (mapping, Arrow struct or JSON text); must cover the classes."""
    distribution = read_distribution(value)
    missing = [code for code in classes if code not in distribution]
    if missing:
        raise ValueError(f"target_distribution lacks classes {missing} (has {sorted(distribution)})")
    return [distribution[code] for code in classes]


@dataclass
class LabelCollator:
    """The trainer's collator, plus ``target_distribution`` ``[B, C]`` and ``label_position`` ``[B]``.

    The label positions are found in the collated ``input_ids`` and ``labels``, so any collator that makes
    them works underneath, one that tokenises itself (an audio model's processor) as well as TRL's.
    """

    base: Callable[[list[dict[str, Any]]], dict[str, Any]]
    classes: Sequence[str]
    class_token_ids: Sequence[int]
    prefix: Sequence[int]

    def __call__(self, examples: list[Mapping[str, Any]]) -> dict[str, Any]:
        batch = self.base([{k: v for k, v in e.items() if k not in OWN_COLUMNS} for e in examples])
        targets, positions = [], []
        for number, example in enumerate(examples):
            if example.get(TARGET_COLUMN) is None:
                raise ValueError(
                    f"example {number} of the batch has no {TARGET_COLUMN!r}: export with `cotgen export --answer "
                    "label` and keep the column (remove_unused_columns=False)"
                )
            targets.append(target_vector(example[TARGET_COLUMN], self.classes))
            input_ids, labels = batch["input_ids"][number].tolist(), batch["labels"][number].tolist()
            try:
                positions.append(label_position(input_ids, labels, self.class_token_ids, self.prefix))
            except LabelNotFoundError as exc:
                raise LabelNotFoundError(
                    f"example {number} of the batch: {exc} (export with --answer label; is it truncated by max_length?)"
                ) from None
        batch[TARGET_COLUMN] = torch.tensor(targets, dtype=torch.float32)
        batch[LABEL_POSITION] = torch.tensor(positions, dtype=torch.long)
        return batch
