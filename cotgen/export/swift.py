"""ms-swift rows: ``messages`` + ``audios`` (SFT), ``rejected_response`` (DPO), reward columns (GRPO).

Checked against ms-swift's ``docs/source_en/Customization/Custom-dataset.md`` (standard format:
``messages`` with one ``<audio>`` tag per entry of ``audios``; RLHF adds ``rejected_response``; GRPO
rows end on the user turn and every other column reaches the reward functions as a keyword
argument, which needs ``--remove_unused_columns false``). Relative audio paths resolve against the
working directory of the training run.
"""

from __future__ import annotations

from typing import Any

from cotgen.export.messages import AUDIO_TAG, Message, RowContext, StudentPrompt
from cotgen.records import DPORecord, GRPORecord, SFTRecord

KINDS: tuple[str, ...] = ("sft", "dpo", "grpo")


def prompt_messages(parts: StudentPrompt) -> list[Message]:
    """System + user turns; the user text starts with one ``<audio>`` tag per clip."""
    return [
        {"role": "system", "content": parts.system},
        {"role": "user", "content": AUDIO_TAG * len(parts.audios) + parts.user},
    ]


def sft_row(record: SFTRecord, ctx: RowContext, where: str) -> dict[str, Any]:
    """System, user and assistant turns and the clip list."""
    parts = ctx.prompt(record.id, record.prompt, where)
    row: dict[str, Any] = {
        "id": record.id,
        "messages": [*prompt_messages(parts), {"role": "assistant", "content": ctx.answer(record.completion, where)}],
        "audios": parts.audios,
    }
    if ctx.answer_mode == "label":
        row["target_distribution"] = record.distribution
    return row


def dpo_row(record: DPORecord, ctx: RowContext, where: str) -> dict[str, Any] | None:
    """The chosen answer as the last assistant turn, the rejected one beside it; None if they match."""
    chosen = ctx.answer(record.chosen, where)
    rejected = ctx.answer(record.rejected, where)
    if chosen == rejected:
        return None
    parts = ctx.prompt(record.id, record.prompt, where)
    row: dict[str, Any] = {
        "id": record.id,
        "messages": [*prompt_messages(parts), {"role": "assistant", "content": chosen}],
        "rejected_response": rejected,
        "audios": parts.audios,
    }
    if ctx.answer_mode == "label":
        row["target_distribution"] = record.human_distribution
    return row


def grpo_row(record: GRPORecord, ctx: RowContext, where: str) -> dict[str, Any]:
    """Turns ending on the user, the clips, and the reward columns."""
    parts = ctx.prompt(record.id, record.prompt, where)
    return {
        "id": record.id,
        "messages": prompt_messages(parts),
        "audios": parts.audios,
        "target_distribution": record.target_distribution,
        "gold_trace": record.gold_trace,
    }
