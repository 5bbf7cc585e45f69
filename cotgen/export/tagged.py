"""Rows shared by the formats that place audio with ``<audio>`` tags in the text (LLaMA-Factory, ms-swift).

Both read a ``messages`` list of role/content strings plus an ``audios`` list, and both count the
tags in the user text against that list, so their prompt and SFT rows are the same.
"""

from __future__ import annotations

from typing import Any

from cotgen.export.messages import AUDIO_TAG, Message, RowContext, StudentPrompt
from cotgen.records.run_records import SFTRecord


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
    row.update(ctx.label_columns(record.distribution))
    return row
