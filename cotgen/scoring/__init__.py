"""Scoring against the human votes: corpus-level metrics, GRPO reward functions (and their ms-swift
plugin) and ``cotgen eval`` (docs/architecture.md). The per-utterance divergences live in
:mod:`cotgen.core.divergence`, because records, prompts and pairs use them too."""
