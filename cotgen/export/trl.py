"""TRL rows: conversational prompt/completion (SFT), preference (DPO) and prompt-only (GRPO).

Checked against TRL's ``docs/source/dataset_formats.md`` (conversational prompt-completion,
preference with explicit prompt, prompt-only) and the chat templates audio-language models ship
(transformers' Qwen2-Audio ``default_chat_template`` tests ``'audio' in content``; the Qwen2.5-Omni
family tests ``content['type'] == 'audio' or 'audio' in content``). Two consequences:

- Every message ``content`` in a prompt is a list of typed parts (the system prompt too), so the
  column keeps one shape through a file; the assistant answers are plain strings, one shape too.
- Each part holds only its own keys (``{"type": "audio", "audio": PATH}``, ``{"type": "text",
  "text": ...}``). Giving text parts an explicit ``"audio": null`` would make ``'audio' in part``
  true for them and the template would emit an audio placeholder per text part. With parts of
  differing keys, ``datasets`` (5.x, as installed) stores the parts as ``Json`` and gives them back
  exactly as written, which ``tests/test_export_trl.py`` checks by rendering both template styles
  over the loaded rows.

TRL has no audio path of its own: a collator must load the ``audio`` parts (the README says so).
"""

from __future__ import annotations

from typing import Any

from cotgen.export.messages import Message, RowContext, StudentPrompt
from cotgen.records.run_records import DPORecord, GRPORecord, SFTRecord

KINDS: tuple[str, ...] = ("sft", "dpo", "grpo")


def prompt_messages(parts: StudentPrompt) -> list[Message]:
    """System + user messages with typed content parts (audio parts first, then the text)."""
    user: list[dict[str, Any]] = [{"type": "audio", "audio": path} for path in parts.audios]
    user.append({"type": "text", "text": parts.user})
    return [
        {"role": "system", "content": [{"type": "text", "text": parts.system}]},
        {"role": "user", "content": user},
    ]


def _assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def sft_row(record: SFTRecord, ctx: RowContext, where: str) -> dict[str, Any]:
    """Conversational prompt/completion: the prompt is masked from the loss by TRL's default."""
    row: dict[str, Any] = {
        "id": record.id,
        "prompt": prompt_messages(ctx.prompt(record.id, record.prompt, where)),
        "completion": _assistant(ctx.answer(record.completion, where)),
    }
    row.update(ctx.label_columns(record.distribution))
    return row


def dpo_row(record: DPORecord, ctx: RowContext, where: str) -> dict[str, Any] | None:
    """Preference row with explicit prompt; None when chosen and rejected read the same."""
    texts = ctx.pair(record.chosen, record.rejected, where)
    if texts is None:
        return None
    chosen, rejected = texts
    row: dict[str, Any] = {
        "id": record.id,
        "prompt": prompt_messages(ctx.prompt(record.id, record.prompt, where)),
        "chosen": _assistant(chosen),
        "rejected": _assistant(rejected),
    }
    row.update(ctx.label_columns(record.human_distribution))
    return row


def grpo_row(record: GRPORecord, ctx: RowContext, where: str) -> dict[str, Any]:
    """Prompt-only row plus the columns the reward functions read (GRPOTrainer passes them as kwargs)."""
    return {
        "id": record.id,
        "prompt": prompt_messages(ctx.prompt(record.id, record.prompt, where)),
        "target_distribution": record.target_distribution,
        "gold_trace": ctx.gold(record.gold_trace, where),
        "cue_levels": record.cue_levels,
        **ctx.label_columns(record.target_distribution),
    }
