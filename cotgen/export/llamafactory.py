"""LLaMA-Factory rows and the ``dataset_info.json`` that registers them.

Checked against LLaMA-Factory's ``data/README.md`` (sharegpt format, ``tags`` with role_tag /
content_tag / user_tag / assistant_tag / system_tag, the ``audios`` column, preference datasets with
``ranking: true`` whose ``chosen`` and ``rejected`` are single message objects) and
``data/dataset_info.json`` (``mllm_audio_demo``). Its ``SharegptDatasetConverter`` takes the system
prompt from the first message when ``system_tag`` matches, then requires user/assistant turns to
alternate, ending on the assistant for SFT and on the user for ranking data; its ``openai``
formatting would rewrite system prompts, so sharegpt with explicit tags it is. One ``<audio>`` tag
per file goes at the start of the user text. Relative audio paths resolve against ``media_dir``,
which defaults to ``dataset_dir``, the folder of ``dataset_info.json`` (the export folder).
LLaMA-Factory has no GRPO stage, so no GRPO rows.
"""

from __future__ import annotations

from typing import Any

from cotgen.export.messages import RowContext
from cotgen.export.tagged import prompt_messages, sft_row
from cotgen.records.run_records import DPORecord

__all__ = ["KINDS", "dataset_entry", "dataset_name", "dpo_row", "sft_row"]

KINDS: tuple[str, ...] = ("sft", "dpo")
DATASET_INFO = "dataset_info.json"
TAGS: dict[str, str] = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def dpo_row(record: DPORecord, ctx: RowContext, where: str) -> dict[str, Any] | None:
    """Turns ending on the user, ``chosen``/``rejected`` as single assistant messages; None if they match."""
    texts = ctx.pair(record.chosen, record.rejected, where)
    if texts is None:
        return None
    chosen, rejected = texts
    parts = ctx.prompt(record.id, record.prompt, where)
    row: dict[str, Any] = {
        "id": record.id,
        "messages": prompt_messages(parts),
        "chosen": {"role": "assistant", "content": chosen},
        "rejected": {"role": "assistant", "content": rejected},
        "audios": parts.audios,
    }
    row.update(ctx.label_columns(record.human_distribution))
    return row


def dataset_entry(kind: str, file_name: str) -> dict[str, Any]:
    """The ``dataset_info.json`` entry of one written file."""
    columns = {"messages": "messages", "audios": "audios"}
    entry: dict[str, Any] = {"file_name": file_name, "formatting": "sharegpt"}
    if kind == "dpo":
        entry["ranking"] = True
        columns.update(chosen="chosen", rejected="rejected")
    entry["columns"] = columns
    entry["tags"] = dict(TAGS)
    return entry


def dataset_name(kind: str, split: str) -> str:
    """The name to put after ``dataset:`` in a LLaMA-Factory config."""
    return f"cotgen_{kind}_{split}"
