"""Byte-level BPE tokenizers like Qwen2's, made inside the tests (nothing downloaded).

Qwen2's tokenizer splits text with one regular expression (words keep the space before them, as in
`` neu``), maps bytes to printable characters (``Ġ`` for the space) and merges pairs by BPE.
:func:`trained` learns the merges from the test's own text, as the tokenizers library trains any BPE;
:func:`with_words` builds the merges by hand so that exactly the given words are single tokens and no
prefix of them is (merging from the end of each word), which is how a test makes codes that a real
vocabulary might split, and split alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

# Qwen2's pre-tokenizer pattern (its tokenizer.json, "Split" pre-tokenizer).
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _skeleton(model: models.BPE) -> Tokenizer:
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def trained(texts: Iterable[str], vocab_size: int = 600) -> Tokenizer:
    """A byte-level BPE trained on ``texts``."""
    tokenizer = _skeleton(models.BPE())
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    return tokenizer


def _byte_chars(text: str) -> list[str]:
    mapping = _byte_map()
    return [mapping[b] for b in text.encode("utf-8")]


def _byte_map() -> dict[int, str]:
    """GPT-2's byte -> printable character table (the one ByteLevel uses)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def with_words(words: Iterable[str]) -> Tokenizer:
    """A byte-level BPE whose only multi-byte tokens are ``words`` and their suffixes (merged from the end)."""
    vocab: dict[str, int] = {}
    for token in [*SPECIALS, *sorted(_byte_map().values())]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in words:
        chars = _byte_chars(word)
        right = chars[-1]
        for left in reversed(chars[:-1]):
            pair = (left, right)
            right = left + right
            if right not in vocab:
                vocab[right] = len(vocab)
                merges.append(pair)
    return _skeleton(models.BPE(vocab=vocab, merges=merges))


def save(tokenizer: Tokenizer, folder: Path) -> Path:
    """Write ``tokenizer.json`` into ``folder`` (as a transformers fast tokenizer saves it); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder
