"""The paper's objective, CE + λ·KL on the label token, on a tiny randomly initialised Qwen2-style model.

Two kinds of evidence: a unit test that the KL term's gradient reaches the logits of the label position's
class tokens and nothing else, and two training runs of TRL's SFTTrainer through
:class:`cotgen.train.DistributionSFTTrainer` from the same seed, one with the KL term and one with CE alone,
compared by the mean KL between the label-token distribution and the human distributions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra (pip install 'cotgen[train]') is not installed")
pytest.importorskip("transformers", reason="the train extra (pip install 'cotgen[train]') is not installed")
pytest.importorskip("trl", reason="the train extra (pip install 'cotgen[train]') is not installed")

from tiny_tokenizer import trained  # noqa: E402

from cotgen.core.divergence import kl as smoothed_kl  # noqa: E402
from cotgen.train import DistributionSFTTrainer, label_kl  # noqa: E402
from cotgen.train.batch import LabelNotFoundError, label_position  # noqa: E402
from cotgen.train.objective import label_logits, objective  # noqa: E402

CLASSES = ["neu", "hap", "ang", "sad"]
# Three kinds of clip, each with its own human distribution; four records of each.
KINDS = {
    "calm": {"neu": 0.7, "hap": 0.1, "ang": 0.1, "sad": 0.1},
    "shouting": {"neu": 0.1, "hap": 0.1, "ang": 0.6, "sad": 0.2},
    "smiling": {"neu": 0.2, "hap": 0.5, "ang": 0.0, "sad": 0.3},
}
STEPS = 40


def test_the_kl_gradient_reaches_only_the_label_positions_class_logits() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=generator, requires_grad=True)
    positions = torch.tensor([6, 3, 5])
    class_ids = torch.tensor([2, 5, 9, 10])
    targets = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    label_kl(label_logits(logits, positions, class_ids), targets).sum().backward()
    grad = logits.grad
    assert grad is not None
    touched = torch.zeros_like(grad, dtype=torch.bool)
    for b, position in enumerate(positions.tolist()):
        touched[b, position - 1, class_ids] = True  # the logits that predict the label token
    assert torch.count_nonzero(grad[~touched]) == 0
    assert torch.all(grad[touched] != 0)
    # And it is the KL of the project's divergences (theirs smooths by 1e-6, hence the tolerance).
    q = torch.softmax(label_logits(logits, positions, class_ids), dim=-1).detach().numpy()
    ours = label_kl(label_logits(logits, positions, class_ids), targets).detach().numpy()
    for b in range(3):
        assert ours[b] == pytest.approx(float(smoothed_kl(targets[b].numpy(), q[b])), abs=1e-4)


def test_ce_alone_leaves_the_kl_term_out_and_the_label_is_found_after_label_prefix() -> None:
    logits = torch.randn(1, 6, 8)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6]])
    parts = objective(logits, labels, torch.tensor([5]), torch.tensor([5, 6]), torch.tensor([[0.5, 0.5]]), 0.0)
    assert parts.loss.item() == pytest.approx(parts.ce.item())
    assert parts.kl.item() > 0  # still measured and logged
    # ids: ... 'Suggests' ':' ' neu' ... 'Label' ':' ' hap' eos; the label is the class token after Label:
    input_ids = [1, 20, 21, 5, 9, 30, 21, 6, 0]
    labels_list = [-100, 20, 21, 5, 9, 30, 21, 6, 0]
    assert label_position(input_ids, labels_list, [5, 6], [30, 21]) == 7
    with pytest.raises(LabelNotFoundError):
        label_position(input_ids[:7], labels_list[:7], [5, 6], [30, 21])


def _records() -> list[dict]:
    rows = []
    for i in range(12):
        kind = list(KINDS)[i % 3]
        target = KINDS[kind]
        top = max(target, key=target.__getitem__)
        printed = json.dumps({c: round(v, 2) for c, v in target.items()})
        completion = (
            f"<ambiguity>The voice is {kind}. Suggests: {top}.</ambiguity>\n"
            f"<distribution>{printed}</distribution>\nLabel: {top}"
        )
        rows.append({"prompt": f"Clip {i}: the speaker sounds {kind}.\n", "completion": completion,
                     "target_distribution": target})  # fmt: skip
    return rows


def _tokenizer(rows: list[dict]):
    from transformers import PreTrainedTokenizerFast

    # The BPE learns from the records and from a label line of every class (as a real vocabulary has them all).
    texts = [r["prompt"] + r["completion"] for r in rows] * 20 + [f"\nLabel: {code}" for code in CLASSES] * 20
    return PreTrainedTokenizerFast(
        tokenizer_object=trained(texts, vocab_size=400), eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def _mean_kl(trainer: DistributionSFTTrainer) -> float:
    """Mean KL(human ‖ label-token softmax) over the training records, with the model as it is now."""
    model = trainer.model.eval()
    rows = list(trainer.train_dataset)
    batch = trainer.data_collator(rows)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    class_ids = torch.tensor([trainer.label_layout.token_ids[c] for c in CLASSES])
    values = label_kl(label_logits(logits, batch["label_position"], class_ids), batch["target_distribution"])
    model.train()
    return float(values.mean())


def _train(tmp_path: Path, kl_weight: float) -> tuple[float, float, list[dict]]:
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM, set_seed
    from trl import SFTConfig

    rows = _records()
    tokenizer = _tokenizer(rows)
    set_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    args = SFTConfig(
        output_dir=str(tmp_path / f"kl{kl_weight}"), max_steps=STEPS, per_device_train_batch_size=4,
        learning_rate=3e-3, lr_scheduler_type="constant", logging_steps=5, save_strategy="no", report_to=[],
        seed=0, use_cpu=True, dataloader_num_workers=0, max_length=256, disable_tqdm=True,
    )  # fmt: skip
    trainer = DistributionSFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, kl_weight=kl_weight
    )
    before = _mean_kl(trainer)
    trainer.train()
    return before, _mean_kl(trainer), [entry for entry in trainer.state.log_history if "kl" in entry]


def test_the_kl_term_halves_the_label_kl_and_beats_ce_alone(tmp_path: Path) -> None:
    before, with_kl, log = _train(tmp_path, kl_weight=1.0)
    same_start, ce_only, _ = _train(tmp_path, kl_weight=0.0)
    print(f"mean KL at the label: start {before:.4f}, CE+KL {with_kl:.4f}, CE alone {ce_only:.4f}")
    assert same_start == pytest.approx(before)  # the same seed: the same model before training
    assert with_kl <= before / 2
    assert with_kl < ce_only
    # The KL is logged at every logging step beside the CE.
    assert len(log) == STEPS // 5 and all(math.isfinite(e["kl"]) and math.isfinite(e["ce"]) for e in log)
    assert np.mean([e["kl"] for e in log[-2:]]) < np.mean([e["kl"] for e in log[:2]])


# A chat template in Qwen2's layout that renders the export's typed content parts (the audio as a placeholder).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}"
    "{% if p.type == 'text' %}{{ p.text }}{% else %}<|audio|>{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_the_trl_export_trains_with_each_rows_own_label_and_target(tmp_path: Path, cache: Path, cotgen) -> None:
    """The rows of `cotgen export --format trl --answer label`, as written, through TRL's own tokenisation."""
    from datasets import Dataset
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, set_seed
    from trl import SFTConfig

    from cotgen.build import BuildConfig, run_build

    run = tmp_path / "run"
    run_build(BuildConfig(out=run, cache=cache, progress=False, limit=8))
    shown = cotgen("export", "--in", str(run), "--format", "trl", "--answer", "label", "--out", str(tmp_path / "x"))
    assert shown.code == 0, shown.err
    rows = [
        json.loads(line) for p in sorted((tmp_path / "x").glob("sft_*.jsonl")) for line in p.read_text().splitlines()
    ]
    texts = [json.dumps(r["prompt"]) + r["completion"][0]["content"] for r in rows] * 10
    texts += [f"\nLabel: {code}" for code in CLASSES] * 20
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trained(texts, vocab_size=500), eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    set_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048)  # fmt: skip
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4, report_to=[],
                     save_strategy="no", use_cpu=True, logging_steps=1, disable_tqdm=True, max_length=2048)  # fmt: skip
    trainer = DistributionSFTTrainer(model=Qwen2ForCausalLM(config), args=args, train_dataset=Dataset.from_list(rows),
                                     processing_class=tokenizer)  # fmt: skip
    prepared = list(trainer.train_dataset)
    batch = trainer.data_collator(prepared)
    by_id = {r["id"]: r for r in rows}
    for number, example in enumerate(prepared):
        row = by_id[example["id"]]
        written = row["completion"][0]["content"].rsplit("Label: ", 1)[1]
        position = int(batch["label_position"][number])
        # The position found in TRL's tokenisation of the chat is the row's own label word, after 'Label:'.
        assert tokenizer.decode(batch["input_ids"][number][position]) == f" {written}"
        assert tokenizer.decode(batch["input_ids"][number][position - 2 : position]) == "Label:"
        expected = [row["target_distribution"][c] for c in CLASSES]
        assert batch["target_distribution"][number].tolist() == pytest.approx(expected)
    trainer.train()
    logged = [e for e in trainer.state.log_history if "kl" in e]
    assert len(logged) == 2 and all(math.isfinite(e["kl"]) and e["kl"] > 0 for e in logged)
