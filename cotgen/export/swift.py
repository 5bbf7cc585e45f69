"""ms-swift rows: ``messages`` + ``audios`` (SFT), ``rejected_response`` (DPO), reward columns (GRPO).

Checked against ms-swift's ``docs/source_en/Customization/Custom-dataset.md`` (standard format:
``messages`` with one ``<audio>`` tag per entry of ``audios``; RLHF adds ``rejected_response``; GRPO
rows end on the user turn and every other column reaches the reward functions as a keyword
argument, which needs ``--remove_unused_columns false``). Relative audio paths resolve against the
working directory of the training run.
"""

from __future__ import annotations

from typing import Any

from cotgen.export.messages import RowContext
from cotgen.export.tagged import prompt_messages, sft_row
from cotgen.records.run_records import DPORecord, GRPORecord

__all__ = ["KINDS", "dpo_row", "grpo_row", "sft_row"]

KINDS: tuple[str, ...] = ("sft", "dpo", "grpo")


def dpo_row(record: DPORecord, ctx: RowContext, where: str) -> dict[str, Any] | None:
    """The chosen answer as the last assistant turn, the rejected one beside it; None if they match."""
    texts = ctx.pair(record.chosen, record.rejected, where)
    if texts is None:
        return None
    chosen, rejected = texts
    parts = ctx.prompt(record.id, record.prompt, where)
    row: dict[str, Any] = {
        "id": record.id,
        "messages": [*prompt_messages(parts), {"role": "assistant", "content": chosen}],
        "rejected_response": rejected,
        "audios": parts.audios,
    }
    row.update(ctx.label_columns(record.human_distribution))
    return row


def grpo_row(record: GRPORecord, ctx: RowContext, where: str) -> dict[str, Any]:
    """Turns ending on the user, the clips, and the reward columns."""
    parts = ctx.prompt(record.id, record.prompt, where)
    return {
        "id": record.id,
        "messages": prompt_messages(parts),
        "audios": parts.audios,
        "target_distribution": record.target_distribution,
        "gold_trace": ctx.gold(record.gold_trace, where),
        "cue_levels": record.cue_levels,
        **ctx.label_columns(record.target_distribution),
    }
