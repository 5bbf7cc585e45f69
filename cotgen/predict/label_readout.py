"""The logprob readout: the class distribution at the label position, read from a served student's logprobs.

A student trained with the label line (``export --answer label``) ends its answer with ``Label: WORD``.
At the position where it writes WORD, its next-token distribution over the classes' label tokens is the
distribution the KL term of the training objective shaped, and it is a finer readout than the two-decimal
numbers the model writes in ``<distribution>`` (and one a base model that never learnt the tags still has).

An OpenAI-compatible server (OpenAI, vLLM) returns, for every generated token, its logprob and the
``top_logprobs`` most likely alternatives at that position. The reader finds the label line in the
generated text, the token that starts the label word, and takes from that position's alternatives the
logprob of each class's label token (its word with the same spacing). The classes' probabilities are
renormalised to sum to 1; the mass of the position that fell on no class token (other tokens, or
classes beyond the top-k) is recorded, and the classes absent from the top-k are named. A label written
as two tokens (`` neut`` + ``ral``) has no single position that stands for the class, so it is refused
with that reason rather than read from its first piece; a text without a label line is a parse failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cotgen.records.answer import LABEL_PREFIX
from cotgen.records.prediction import LogprobReadout

DISTRIBUTION_END = "</distribution>"


def _label_span(text: str) -> tuple[int, int] | None:
    """Where the label word of the label line after the last ``</distribution>`` lies in ``text``, or None."""
    end_tag = text.lower().rfind(DISTRIBUTION_END)
    if end_tag < 0:
        return None
    tail_start = end_tag + len(DISTRIBUTION_END)
    tail = text[tail_start:]
    stripped = tail.lstrip()
    if not stripped.startswith(LABEL_PREFIX):
        return None
    line_start = tail_start + len(tail) - len(stripped)
    rest = text[line_start + len(LABEL_PREFIX) :]
    word_start = line_start + len(LABEL_PREFIX) + len(rest) - len(rest.lstrip(" \t"))
    line = text[word_start:].partition("\n")[0].rstrip()
    if not line:
        return None
    return word_start, word_start + len(line)


def _failure(reason: str, detail: str, top_k: int, token: str | None = None) -> LogprobReadout:
    return LogprobReadout(distribution=None, error=f"{reason}: {detail}", top_k=top_k, token=token)


def read_label_logprobs(
    tokens: Sequence[Mapping[str, Any]] | None,
    classes: Sequence[str],
    label_words: Mapping[str, str] | None,
    top_k: int,
) -> LogprobReadout:
    """The class distribution at the label position of one answer's token logprobs (see the module docstring).

    ``tokens`` are the compact entries the client keeps (``token``, ``logprob``, ``top``: pairs of token and
    logprob); ``label_words`` maps class code -> the word the label line writes (None: the codes). The
    error reasons: ``no_logprobs`` (the server returned none), ``no_label`` (no label line after
    ``</distribution>``), ``label_split`` (the word is not one token of its own), ``label_unknown`` (the word
    names no class).
    """
    if not tokens:
        return _failure("no_logprobs", "the server returned no token logprobs (does it support logprobs?)", top_k)
    starts, text = [], ""
    for entry in tokens:
        starts.append(len(text))
        text += str(entry["token"])
    span = _label_span(text)
    if span is None:
        return _failure("no_label", "no 'Label: WORD' line after </distribution> in the generated tokens", top_k)
    word_start, word_end = span
    # The token that covers the word's first character (an empty token some servers send covers nothing).
    index = next(i for i, start in enumerate(starts) if start <= word_start < start + len(str(tokens[i]["token"])))
    token = str(tokens[index]["token"])
    token_start, token_end = starts[index], starts[index] + len(token)
    word = text[word_start:word_end]
    spacing = token[: word_start - token_start]
    if spacing.strip():
        return _failure("label_split", f"the label {word!r} shares the token {token!r} with 'Label:'", top_k, token)
    if token_end < word_end:
        pieces = [token]
        for entry in tokens[index + 1 :]:
            if starts[len(pieces) + index] >= word_end:
                break
            pieces.append(str(entry["token"]))
        shown = " + ".join(repr(p) for p in pieces)
        return _failure(
            "label_split",
            f"the label {word!r} is {len(pieces)} tokens ({shown}); the readout needs one token per class label "
            "(check the labels with `cotgen export --answer label --tokenizer DIR`)",
            top_k,
            token,
        )
    if token_end > word_end:
        return _failure("label_split", f"the label {word!r} shares the token {token!r} with what follows", top_k, token)
    words = {code: (label_words or {}).get(code, code) for code in classes}
    if word.casefold() not in {w.casefold() for w in words.values()}:
        return _failure("label_unknown", f"the label {word!r} names no class ({', '.join(words.values())})", top_k)
    return _distribution_at(tokens[index], spacing, words, top_k, token)


def _distribution_at(
    entry: Mapping[str, Any], spacing: str, words: Mapping[str, str], top_k: int, token: str
) -> LogprobReadout:
    """The renormalised class distribution of one position's alternatives (and its sampled token)."""
    alternatives: dict[str, float] = {}
    for alt, logprob in entry.get("top", []):
        # Two ids can decode to the same text; each is a way of writing that label, so their mass adds up.
        alternatives[str(alt)] = alternatives.get(str(alt), 0.0) + math.exp(float(logprob))
    if token not in alternatives:  # the sampled token is usually among the alternatives already
        alternatives[token] = math.exp(float(entry["logprob"]))
    mass = {code: alternatives.get(spacing + word, 0.0) for code, word in words.items()}
    found = sum(mass.values())
    if found <= 0.0:
        return _failure("label_unknown", f"no class label among the top {top_k} tokens at the label position", top_k)
    return LogprobReadout(
        distribution={code: value / found for code, value in mass.items()},
        error=None,
        outside_mass=max(0.0, 1.0 - found),
        missing=[code for code, word in words.items() if spacing + word not in alternatives],
        top_k=top_k,
        token=token,
    )
