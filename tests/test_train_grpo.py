"""GRPO_z: the gold trace in every group, wired into TRL's GRPOTrainer through its rollout_func, on a tiny model.

A randomly initialised model writes nothing the rewards accept, so in plain GRPO every completion of a group
scores 0, every advantage is 0 and the policy does not move. With the gold trace in the group, the gold
scores high, gets the one positive advantage, and its likelihood under the policy rises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the train extra (pip install 'cotgen[train]') is not installed")
pytest.importorskip("transformers", reason="the train extra (pip install 'cotgen[train]') is not installed")
pytest.importorskip("trl", reason="the train extra (pip install 'cotgen[train]') is not installed")

from tiny_tokenizer import trained  # noqa: E402

from cotgen.rewards import distribution_reward, format_reward  # noqa: E402
from cotgen.train.grpo import gold_by_prompt, gold_in_group  # noqa: E402

GROUP = 4
STEPS = 3
TARGETS = [
    {"neu": 0.6, "hap": 0.1, "ang": 0.2, "sad": 0.1},
    {"neu": 0.1, "hap": 0.1, "ang": 0.7, "sad": 0.1},
]


def _gold(target: dict[str, float]) -> str:
    return (
        "<acoustic>The pitch stays level and the voice is rather quiet throughout.</acoustic>\n"
        "<lexical>The words themselves carry no strong feeling either way here.</lexical>\n"
        "<ambiguity>Two readings compete, so the answer stays spread over classes.</ambiguity>\n"
        f"<distribution>{json.dumps(target)}</distribution>"
    )


def _rows() -> list[dict[str, Any]]:
    return [
        {"prompt": f"Clip {i}: how does the speaker feel?\n", "gold_trace": _gold(t), "target_distribution": t}
        for i, t in enumerate(TARGETS)
    ]


def _gold_logprob(model: Any, tokenizer: Any, row: dict[str, Any]) -> float:
    prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
    gold = [*tokenizer(row["gold_trace"], add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    ids = torch.tensor([prompt + gold])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    targets = ids[0, 1:]
    return float(logps[torch.arange(len(targets)), targets][len(prompt) - 1 :].sum())


def _run(tmp_path: Path, with_gold: bool) -> tuple[float, float, list[dict[str, Any]]]:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, set_seed
    from trl import GRPOConfig, GRPOTrainer

    rows = _rows()
    texts = [r["prompt"] + r["gold_trace"] for r in rows] * 20
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trained(texts, vocab_size=400), eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    set_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    seen: list[dict[str, Any]] = []

    def recorded(completions: list[str], **columns: Any) -> list[float]:
        """format + distribution reward, each completion's noted with whether it was the gold."""
        scores = [
            f + d for f, d in zip(format_reward(completions, **columns), distribution_reward(completions, **columns))
        ]
        golds = columns.get("is_gold") or [False] * len(completions)
        seen.extend({"text": c, "reward": s, "gold": g} for c, s, g in zip(completions, scores, golds))
        return scores

    args = GRPOConfig(
        output_dir=str(tmp_path / ("z" if with_gold else "plain")), max_steps=STEPS, num_generations=GROUP,
        per_device_train_batch_size=GROUP * 2, max_completion_length=24, learning_rate=3e-3, beta=0.0,
        logging_steps=1, save_strategy="no", report_to=[], seed=0, use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=model, reward_funcs=[recorded], args=args, train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer, rollout_func=gold_in_group(gold_by_prompt(rows)) if with_gold else None,
    )  # fmt: skip
    before = sum(_gold_logprob(trainer.model, tokenizer, r) for r in rows)
    trainer.train()
    after = sum(_gold_logprob(trainer.model, tokenizer, r) for r in rows)
    return before, after, seen


def test_the_gold_trace_is_in_every_group_and_pulls_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    before, after, seen = _run(tmp_path, with_gold=True)
    golds = {r["gold_trace"] for r in _rows()}
    groups = [seen[i : i + GROUP] for i in range(0, len(seen), GROUP)]
    assert len(groups) == STEPS * 2
    for group in groups:
        gold = [entry for entry in group if entry["gold"]]
        assert len(gold) == 1 and gold[0]["text"] in golds  # decoded back to the exact gold text
        assert gold[0]["reward"] > 1.9  # format 1 + distribution 1 - JS(target, its own printing)
        assert all(entry["reward"] < gold[0]["reward"] for entry in group if not entry["gold"])
    plain_before, plain_after, plain_seen = _run(tmp_path, with_gold=False)
    print(
        f"gold log-likelihood: GRPO_z {before:.2f} -> {after:.2f}; plain GRPO {plain_before:.2f} -> {plain_after:.2f}"
    )
    assert plain_before == pytest.approx(before)  # the same seed, the same starting model
    assert not any(entry["gold"] for entry in plain_seen) and all(e["reward"] == 0 for e in plain_seen)
    # Measured: GRPO_z -1233.2 -> -1101.9 nats over the two golds' tokens; plain GRPO moved by 0.01 (all its
    # advantages are 0, so only the optimiser's weight decay acts).
    assert after - before > 20.0
    assert abs(plain_after - plain_before) < 0.05 * (after - before)
