"""GRPO reward functions: distribution match and format, callable exactly as the trainers call them.

TRL's GRPOTrainer calls each reward function with keyword arguments only:
``prompts=``, ``completions=`` (strings, or for conversational data a list holding one assistant
message dict per completion), ``completion_ids=``, every other dataset column as a list
(``target_distribution=[...]``, ``id=[...]``) and ``trainer_state=``; it expects ``list[float]``.
ms-swift calls ``reward(completions, **columns)`` with completions as strings and also passes
``trainer_state`` and ``messages``. Both therefore take ``completions`` first, read
``target_distribution`` by name and ignore everything else.

Targets arrive in three shapes: a plain mapping; a mapping where Arrow filled absent classes with
None (datasets unify struct columns across rows); or a JSON string (some exporters serialise
nested columns). :func:`read_distribution` accepts all three.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from typing import Any, Literal

import numpy as np

from cotgen.core.divergence import as_vector, js, kl
from cotgen.records.answer import TEXT, AnswerContract, read_label_words
from cotgen.records.stages import DEFAULT_ORDER, stage_order, tagged_order
from cotgen.records.trace import (
    TraceParseError,
    decode_distribution,
    parse_sections,
    read_distribution_object,
    scan_tags,
    strip_fences,
)

Divergence = Literal["js", "kl"]
RewardFunction = Callable[..., list[float]]

# The fewest words each reasoning stage (acoustic, lexical, ambiguity) must hold for format_reward.
MIN_STAGE_WORDS = 5
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _expected_tags(order: Sequence[str]) -> tuple[tuple[bool, str], ...]:
    """The only tag sequence format_reward accepts: each stage opened and closed once, in order, none nested."""
    return tuple((closing, name) for name in tagged_order(order) for closing in (False, True))


class DistributionValueError(ValueError):
    """A value that cannot be read as a probability distribution over class codes."""


def read_distribution(value: Any) -> dict[str, float]:
    """A distribution as data carries it (mapping, None-filled Arrow struct, or JSON text) as code -> float.

    Keys whose value is None are classes absent from this row and are dropped; every other value
    must be a finite number.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DistributionValueError(f"distribution text is not JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise DistributionValueError(f"expected a mapping of class code to probability, got {type(value).__name__}")
    out: dict[str, float] = {}
    for code, prob in value.items():
        if prob is None:
            continue
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not math.isfinite(prob):
            raise DistributionValueError(f"distribution[{code!r}] = {prob!r} is not a finite number")
        out[str(code)] = float(prob)
    if not out:
        raise DistributionValueError("distribution has no classes")
    return out


def completion_text(completion: Any) -> str:
    """The generated text of one completion: a string, or the last message of a conversational completion.

    A message's content may itself be a list of typed parts; the text parts are joined.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, Mapping) and part.get("type") == "text"
            )
    return ""


def read_targets(target_distribution: Sequence[Any] | None, n: int) -> list[dict[str, float] | None]:
    if target_distribution is None:
        return [None] * n
    if len(target_distribution) != n:
        raise ValueError(f"{n} completions but {len(target_distribution)} target distributions")
    return [read_distribution(t) if t is not None else None for t in target_distribution]


def read_orders(stages: Sequence[Any] | None, n: int) -> list[tuple[str, ...]]:
    """Each row's order of the reasoning stages from the ``stages`` column (grpo.jsonl); the default without one."""
    if stages is None:
        return [DEFAULT_ORDER] * n
    if len(stages) != n:
        raise ValueError(f"{n} completions but {len(stages)} stage orders")
    return [stage_order(row) if row else DEFAULT_ORDER for row in stages]


def _parsed(text: str, classes: Sequence[str] | None, order: Sequence[str] = DEFAULT_ORDER) -> dict[str, float] | None:
    try:
        return parse_sections(text, classes, order).distribution
    except TraceParseError:
        return None


def _valid_free_distribution(distribution: Mapping[str, float]) -> bool:
    """Without a target: values in [0, 1] summing to 1 (the same 0.02 tolerance as trace validation)."""
    values = list(distribution.values())
    return bool(values) and all(0.0 <= v <= 1.0 for v in values) and abs(sum(values) - 1.0) <= 0.02


def format_problem(
    text: str,
    classes: Sequence[str] | None = None,
    contract: AnswerContract = TEXT,
    order: Sequence[str] = DEFAULT_ORDER,
) -> str | None:
    """Why ``text`` breaks the strict output format, or None when it keeps it (docs/pairs-grpo-eval.md).

    The format: each of the four tags opened and closed exactly once, in the order acoustic, lexical,
    ambiguity, distribution (or the run's ``order`` of the reasoning stages), none inside another; each
    reasoning stage holding at least :data:`MIN_STAGE_WORDS` words; nothing but whitespace before the first
    tag; a distribution over
    ``classes`` (or, without them, values in [0, 1] summing to 1 within 0.02); and after
    ``</distribution>`` only what the answer contract allows: nothing, or one label line naming the
    distribution's top class (required when ``contract`` is in ``label`` mode). A code fence around the
    whole answer is allowed. A GRPO policy must not be able to collect the format reward with empty
    stages, repeated tags or prose after the answer. Linear in the length of the text.
    """
    cleaned = strip_fences(text)
    expected = _expected_tags(order)
    tags = list(islice(scan_tags(cleaned), len(expected) + 1))  # one more than allowed is already wrong
    found = tuple((tag.closing, tag.name) for tag in tags)
    if found != expected:
        shown = " ".join(f"<{'/' if closing else ''}{name}>" for closing, name in found) or "none"
        more = " …" if len(found) > len(expected) else ""
        return f"tags must be each stage opened and closed once, in order, none nested; found {shown}{more}"
    if cleaned[: tags[0].start].strip():
        return f"text before <{order[0]}>"
    for i, name in enumerate(order):
        body = cleaned[tags[2 * i].end : tags[2 * i + 1].start]
        words = len(_WORD.findall(body))
        if words < MIN_STAGE_WORDS:
            return f"<{name}> holds {words} word(s); at least {MIN_STAGE_WORDS} are required"
    try:
        distribution = read_distribution_object(decode_distribution(cleaned[tags[6].end : tags[7].start]), classes)
    except TraceParseError:
        return "<distribution> is not a distribution over the classes"
    if classes is None and not _valid_free_distribution(distribution):
        return "<distribution> values must lie in [0, 1] and sum to 1"
    return contract.tail_problem(cleaned[tags[7].end :], distribution)


def read_contracts(label_words: Sequence[Any] | None, n: int) -> list[AnswerContract]:
    """Each row's answer contract: a row with ``label_words`` was exported in label mode and needs its line."""
    if label_words is None:
        return [TEXT] * n
    if len(label_words) != n:
        raise ValueError(f"{n} completions but {len(label_words)} label_words values")
    contracts = []
    for value in label_words:
        words = read_label_words(value)
        contracts.append(TEXT if words is None else AnswerContract(mode="label", label_words=words))
    return contracts


def format_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    label_words: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """1.0 when a completion keeps the strict format of :func:`format_problem`, else 0.0.

    With a target the distribution must be keyed by exactly the target's classes; without one any
    distribution with values in [0, 1] summing to 1 counts. A row carrying ``label_words`` (the column
    ``cotgen export --answer label`` writes) must end with the label line in that vocabulary; other rows
    may end with one in class codes. A row's ``stages`` (the run's order of the reasoning stages) is the order
    its tags must follow.
    """
    targets = read_targets(target_distribution, len(completions))
    contracts = read_contracts(label_words, len(completions))
    orders = read_orders(stages, len(completions))
    return [
        0.0 if format_problem(completion_text(completion), list(target) if target else None, contract, order) else 1.0
        for completion, target, contract, order in zip(completions, targets, contracts, orders)
    ]


def _distribution_rewards(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None,
    divergence: Divergence,
    stages: Sequence[Any] | None = None,
) -> list[float]:
    if target_distribution is None:
        raise ValueError("distribution reward needs the dataset column 'target_distribution'")
    rewards = []
    targets = read_targets(target_distribution, len(completions))
    for completion, target, order in zip(completions, targets, read_orders(stages, len(completions))):
        if target is None:
            rewards.append(0.0)
            continue
        classes = list(target)
        parsed = _parsed(completion_text(completion), classes, order)
        if parsed is None:
            rewards.append(0.0)
            continue
        human, model = as_vector(target, classes), as_vector(parsed, classes)
        human = human / human.sum()
        score = 1.0 - float(js(human, model)) if divergence == "js" else float(np.exp(-float(kl(human, model))))
        rewards.append(score)
    return rewards


def distribution_reward(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """1 - JS(target, completion) in bits (in [0, 1]); 0 for a completion whose distribution cannot be read."""
    return _distribution_rewards(completions, target_distribution, "js", stages)


def distribution_reward_kl(
    completions: Sequence[Any],
    target_distribution: Sequence[Any] | None = None,
    stages: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """exp(-KL(target || completion)) with the project's 1e-6 smoothing (in (0, 1]); 0 when unreadable."""
    return _distribution_rewards(completions, target_distribution, "kl", stages)


def make_distribution_reward(divergence: Divergence = "js") -> RewardFunction:
    """The distribution reward for ``divergence`` ('js': 1 - JS, 'kl': exp(-KL))."""
    if divergence == "js":
        return distribution_reward
    if divergence == "kl":
        return distribution_reward_kl
    raise ValueError(f"unknown divergence {divergence!r}; expected 'js' or 'kl'")
