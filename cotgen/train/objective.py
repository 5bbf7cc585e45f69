"""The paper's SFT objective as pure tensor functions: CE over the answer + λ · KL(human ‖ label-token softmax).

The student writes its answer and ends it with ``Label: WORD``. Cross-entropy trains every answer token,
the label token included, towards the one text of the gold trace; the KL term trains the model's
distribution over the classes *at the label position* towards the distribution of the human votes:

    KL(h ‖ q) = Σ_c h_c (log h_c − log q_c),  q = softmax(z_label[t_c] for each class c)

where ``z_label`` are the logits at the position that predicts the label token (one before it, the model
being causal) and ``t_c`` the single token of class c's label (:mod:`cotgen.records.label_layout`). Only
the class tokens' logits enter the softmax, so the term shapes how the model splits its label mass
among the classes and nothing else; it is exact (no smoothing: q > 0 always, and ``h_c = 0`` terms are 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def label_logits(logits: torch.Tensor, label_positions: torch.Tensor, class_token_ids: torch.Tensor) -> torch.Tensor:
    """The class tokens' logits at each sequence's label position: ``[B, C]`` from ``[B, T, V]``.

    ``label_positions[b]`` is the index of the label token in sequence b; its logits come from the
    position before it (causal shift).
    """
    rows = torch.arange(logits.shape[0], device=logits.device)
    at_label = logits[rows, label_positions - 1]
    return at_label[:, class_token_ids]


def label_kl(class_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """KL(target ‖ softmax(class_logits)) per sequence, in nats: ``[B]`` from ``[B, C]`` and ``[B, C]``."""
    log_q = F.log_softmax(class_logits.float(), dim=-1)
    p = targets.float() / targets.float().sum(dim=-1, keepdim=True)
    return (torch.xlogy(p, p) - p * log_q).sum(dim=-1)


def causal_ce(logits: torch.Tensor, labels: torch.Tensor, num_items: int | torch.Tensor | None = None) -> torch.Tensor:
    """Next-token cross-entropy summed over the trained tokens (labels != -100), divided by their number.

    ``num_items`` (the trained tokens of the whole accumulated batch, as transformers' Trainer passes it)
    replaces the local count so that gradient accumulation averages over tokens, not over micro-batches.
    """
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shifted_labels = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(shifted_logits, shifted_labels, ignore_index=IGNORE_INDEX, reduction="sum")
    count = num_items if num_items is not None else (shifted_labels != IGNORE_INDEX).sum()
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


@dataclass(frozen=True)
class ObjectiveParts:
    """The loss to minimise and its parts (CE, mean KL over the batch's sequences), for the log."""

    loss: torch.Tensor
    ce: torch.Tensor
    kl: torch.Tensor


def objective(
    logits: torch.Tensor,
    labels: torch.Tensor,
    label_positions: torch.Tensor,
    class_token_ids: torch.Tensor,
    targets: torch.Tensor,
    kl_weight: float,
    num_items: int | torch.Tensor | None = None,
) -> ObjectiveParts:
    """CE over the answer + ``kl_weight`` · mean KL at the label position (see the module docstring)."""
    ce = causal_ce(logits, labels, num_items)
    kl = label_kl(label_logits(logits, label_positions, class_token_ids), targets).mean()
    return ObjectiveParts(loss=ce + kl_weight * kl, ce=ce, kl=kl)
