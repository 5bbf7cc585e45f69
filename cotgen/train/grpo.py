"""GRPO with the expert trace in the group (the paper's GRPO_z), through TRL's ``rollout_func``.

GRPO samples G completions of a prompt and pushes each by its advantage, its reward against the group's.
Early in training a student rarely writes a well-formed, calibrated answer, so every completion of a group
scores alike and nothing is learnt. GRPO_z puts the gold trace of the utterance into the group in place of
one sampled completion: it scores high, gets a positive advantage, and pulls the policy towards it while
the sampled completions are pushed by how they compare with it.

TRL's GRPOTrainer has no option for an off-policy completion, but it takes a ``rollout_func(prompts,
trainer)`` that returns the completions of a batch (experimental in TRL 1.x). :func:`gold_in_group` makes
one: it generates G − 1 completions per group exactly as the trainer would (its own prompt tokenisation and
generation, through the trainer's methods) and puts the record's gold trace, tokenised, in the group's last
slot. The gold's sampling logprobs are NaN (no sampling policy wrote it), which TRL reads as "no importance
correction" for those tokens. cotgen's GRPO rows (``cotgen export --format trl``) carry ``gold_trace`` beside
``prompt`` and ``target_distribution``, which is what it needs.

Limits, said where they bite: one process only (TRL may split a group over processes, and then no process
holds a whole group to put the gold into), and the trainer's private ``_tokenize_prompts`` and
``_generate_single_turn`` are used so that the sampled completions are the trainer's own; a TRL release that
renames them fails here loudly, not silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

GOLD_COLUMN = "gold_trace"
PROMPT_COLUMN = "prompt"
RolloutFunc = Callable[[list[Any], Any], dict[str, Any]]


def prompt_key(prompt: Any) -> str:
    """One text per prompt, conversational or plain, to find a prompt's gold trace by."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def gold_by_prompt(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each row's gold trace under its prompt; rows without one are left out (their groups are plain GRPO)."""
    golds: dict[str, str] = {}
    for row in rows:
        gold = row.get(GOLD_COLUMN)
        if isinstance(gold, str) and gold.strip():
            golds[prompt_key(row[PROMPT_COLUMN])] = gold
    if not golds:
        raise ValueError(f"no row has a {GOLD_COLUMN!r}: export GRPO rows with `cotgen export` (they carry it)")
    return golds


def _groups(prompts: Sequence[Any], size: int) -> list[range]:
    """The consecutive groups of identical prompts TRL's repeat sampler makes; an error if they are not."""
    if len(prompts) % size:
        raise ValueError(f"{len(prompts)} prompts are not whole groups of {size}")
    groups = [range(start, start + size) for start in range(0, len(prompts), size)]
    for group in groups:
        if len({prompt_key(prompts[i]) for i in group}) != 1:
            raise ValueError("a group of the batch mixes prompts; gold_in_group needs the trainer's repeat sampler")
    return groups


def gold_in_group(golds: Mapping[str, str]) -> RolloutFunc:
    """A TRL ``rollout_func`` that puts each prompt's gold trace into its group (see the module docstring)."""

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        if trainer.accelerator.num_processes > 1:
            raise NotImplementedError("gold_in_group runs on one process: TRL may split a group over processes")
        size = trainer.num_generations if trainer.model.training else trainer.num_generations_eval
        groups = _groups(prompts, size)
        prompt_ids, images, multimodal = trainer._tokenize_prompts(prompts)
        if multimodal:
            raise NotImplementedError("gold_in_group handles text prompts (TRL feeds no audio to the policy)")
        sampled = [i for group in groups for i in group if i != group[-1] or prompt_key(prompts[i]) not in golds]
        generated, logprobs = trainer._generate_single_turn(
            [prompt_ids[i] for i in sampled], None if images is None else [images[i] for i in sampled], {}, size - 1
        )
        completion_ids: list[list[int]] = [[] for _ in prompts]
        token_logprobs: list[list[float]] | None = None if logprobs is None else [[] for _ in prompts]
        for position, index in enumerate(sampled):
            completion_ids[index] = list(generated[position])
            if token_logprobs is not None:
                token_logprobs[index] = list(logprobs[position])
        tokenizer = trainer.processing_class
        gold_slots = []
        for group in groups:
            gold = golds.get(prompt_key(prompts[group[-1]]))
            if gold is None:
                continue
            ids = tokenizer(gold, add_special_tokens=False)["input_ids"]
            completion_ids[group[-1]] = [*ids, tokenizer.eos_token_id]
            if token_logprobs is not None:
                token_logprobs[group[-1]] = [math.nan] * len(completion_ids[group[-1]])
            gold_slots.append(group[-1])
        is_gold = [index in gold_slots for index in range(len(prompts))]
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": token_logprobs,
                "is_gold": is_gold}  # fmt: skip

    return rollout
