"""The answer contract: how a student's answer ends, defined once for export, parser, rewards, eval and predict.

An answer is the tagged trace with ``<distribution>`` last, optionally followed by one label line
``Label: WORD``, where WORD names the class the printed distribution puts the most mass on. The word
is the class code by default; a run may map codes to other words (``label_words``), for instance
words that are single, distinct tokens for a student's tokenizer, so that a training loop can read
a distribution from the logits at the label position. Export writes the line with
:meth:`AnswerContract.render`; the format reward checks it with :meth:`AnswerContract.tail_problem`;
the trace parser hands the word back (:attr:`cotgen.records.trace.Sections.label`) and
:meth:`AnswerContract.code_of` turns it into a code. Eval and predict read the distribution through
that parser, so every mode export offers reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from cotgen.records.columns import mapping_column

AnswerMode = Literal["text", "label"]
ANSWER_MODES: tuple[str, ...] = get_args(AnswerMode)
LABEL_PREFIX = "Label:"


class AnswerContractError(ValueError):
    """A label vocabulary or answer mode that cannot be used; the message says which entry and why."""


def label_code(distribution: Mapping[str, float]) -> str:
    """The class the label line names: the most mass, the earlier class on a tie."""
    if not distribution:
        raise AnswerContractError("an empty distribution has no label")
    return max(distribution, key=lambda code: distribution[code])


def top_classes(distribution: Mapping[str, float], tolerance: float = 1e-9) -> set[str]:
    """Every class tied for the most mass (a label naming any of them agrees with the distribution)."""
    best = max(distribution.values())
    return {code for code, value in distribution.items() if value >= best - tolerance}


def label_word_in(tail: str) -> str | None:
    """The word of the label line that opens ``tail`` (the text after ``</distribution>``), or None.

    Blank lines before it are skipped; the word is the rest of that line, stripped. Plain string
    operations, so a hostile tail costs one pass.
    """
    line = tail.lstrip().partition("\n")[0].strip()
    if not line.startswith(LABEL_PREFIX):
        return None
    return line[len(LABEL_PREFIX) :].strip() or None


def read_label_words(value: Any) -> dict[str, str] | None:
    """A ``label_words`` column as data carries it (mapping, None-filled Arrow struct, JSON text or None)."""
    words = mapping_column(value, "label_words", "class code to word", AnswerContractError)
    if words is None:
        return None
    return {str(code): word for code, word in words.items() if word is not None}


def _checked_words(words: Mapping[str, Any]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for code, word in words.items():
        if not isinstance(word, str) or not word.strip():
            raise AnswerContractError(f"label word of {code!r} is {word!r}; expected a non-empty word")
        if word != word.strip() or "\n" in word or "\r" in word:
            raise AnswerContractError(
                f"label word of {code!r} is {word!r}; a label word is one line without surrounding spaces"
            )
        key = word.casefold()
        if key in seen:
            raise AnswerContractError(f"classes {seen[key]!r} and {code!r} share the label word {word!r}")
        seen[key] = str(code)
    return {str(code): word for code, word in words.items()}


@dataclass(frozen=True)
class AnswerContract:
    """One answer mode with its label vocabulary.

    ``mode`` ``text``: the trace alone (a label line is still accepted where answers are read, so a
    label-trained student's output counts everywhere); ``label``: the trace plus the label line, which
    the format check then requires. ``label_words`` maps class code -> the word written on the line
    (None: the code itself); words are distinct, ignoring case, so a word names one class.
    """

    mode: AnswerMode = "text"
    label_words: Mapping[str, str] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.mode not in ANSWER_MODES:
            raise AnswerContractError(f"answer mode {self.mode!r}: expected one of {', '.join(ANSWER_MODES)}")
        if self.label_words is not None:
            object.__setattr__(self, "label_words", MappingProxyType(_checked_words(self.label_words)))

    @property
    def requires_label(self) -> bool:
        return self.mode == "label"

    def word(self, code: str) -> str:
        """The word the label line writes for ``code``."""
        if self.label_words is None:
            return code
        if code not in self.label_words:
            raise AnswerContractError(
                f"no label word for class {code!r}; label_words covers {sorted(self.label_words)}"
            )
        return self.label_words[code]

    def words(self, classes: Sequence[str]) -> dict[str, str]:
        """Code -> label word for every class of a run (raises when the vocabulary misses one)."""
        return {code: self.word(code) for code in classes}

    def code_of(self, word: str, classes: Sequence[str]) -> str | None:
        """The class a label word names among ``classes`` (case-insensitive), or None when it names none."""
        wanted = word.strip().casefold()
        for code in classes:
            if self.word(code).casefold() == wanted:
                return code
        return None

    def label_line(self, distribution: Mapping[str, float]) -> str:
        """``Label: WORD`` for the class the distribution puts the most mass on."""
        return f"{LABEL_PREFIX} {self.word(label_code(distribution))}"

    def render(self, trace_text: str, distribution: Mapping[str, float]) -> str:
        """The answer as trained on: the trace, and in ``label`` mode its label line after it."""
        if self.mode == "text":
            return trace_text
        return f"{trace_text.rstrip()}\n{self.label_line(distribution)}"

    def tail_problem(self, tail: str, distribution: Mapping[str, float]) -> str | None:
        """Why the text after ``</distribution>`` breaks the contract, or None.

        Allowed: nothing (unless the mode requires the label), or exactly one label line naming a class
        of the distribution with the most mass. A label that names another class contradicts the
        distribution it follows, so it is not the contract's label line.
        """
        rest = tail.strip()
        if not rest:
            return "the label line is missing after </distribution>" if self.requires_label else None
        word = label_word_in(rest)
        if word is None or "\n" in rest or "\r" in rest:
            return "text after </distribution> (only one 'Label: WORD' line may follow it)"
        code = self.code_of(word, list(distribution))
        if code is None:
            known = ", ".join(self.words(list(distribution)).values())
            return f"label {word[:40]!r} names no class (expected one of {known})"
        if code not in top_classes(distribution):
            return f"label {word[:40]!r} is not the class the distribution puts the most mass on"
        return None


TEXT = AnswerContract()


def contract_for(mode: AnswerMode | AnswerContract, label_words: Mapping[str, str] | None = None) -> AnswerContract:
    """An :class:`AnswerContract` from a mode name (and optional words), or the contract itself."""
    if isinstance(mode, AnswerContract):
        return mode
    return AnswerContract(mode=mode, label_words=label_words)
