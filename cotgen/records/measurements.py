"""Measured numbers in a trace's words: finding them, and the training text without them.

Why: the student hears one clip. It cannot measure "median pitch 134 Hz, +1.2 SD for a male voice in this corpus"
— that needs a pitch tracker and the speaker's other recordings — so a training text quoting it teaches the student
to invent numbers. The teacher sees the measurements and ``traces.jsonl`` keeps what it wrote (``trace``); the
text a student is trained on (``text`` of a trace record, and every SFT, DPO and GRPO text and corruption built
from it) is :func:`training_text`: the same trace with every measured number taken out of its words, unless the
run keeps them (``cotgen build --keep-numbers``, recorded in run.json, the card and the fingerprint).

What counts as a measured number (docs/build.md, "What the student can perceive"): a number with a unit of
measurement — Hz, dB, SD or standard deviations, semitones (per second), syllables per second, ms, seconds,
percent — a z-score (``z = 1.2``), an HNR value, and a signed deviation (``+1.2``). A parenthesis that holds one
goes as a whole ("pitch high for this speaker (median 231 Hz, +1.1 SD)" reads "pitch high for this speaker"); a
measurement in running text goes with the word that only introduces it ("median", "mean", "HNR", "SD", "at",
"of"). Numbers inside a quotation (the transcript's words) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cotgen.records.stages import DEFAULT_ORDER, stage_order
from cotgen.records.trace import Trace, render_trace

_NUM = r"[+\-−±]?\d+(?:[.,]\d+)?"
_UNIT = (
    r"(?:k?Hz|dB(?:\s*SPL)?|SDs?|standard\s+deviations?|semitones?(?:\s*(?:/\s*s|per\s+second))?|st(?:/s)?|"
    r"syllables?\s*(?:/\s*s|per\s+second)|syll(?:ables)?/s|syl/s|ms|milliseconds?|seconds?|s|%|per\s?cent)"
)
_MEASURE = (
    rf"(?:{_NUM}\s*{_UNIT}(?![A-Za-z])"  # 134 Hz, +1.2 SD, 12%, 5.1 syllables/s
    rf"|\bz(?:-score)?\s*(?:=|of|:)?\s*{_NUM}"  # z = 1.2, z-score of 0.8
    rf"|\bHNR\s*(?:of|=|:)?\s*{_NUM}"  # HNR 14
    r"|(?<![\w.])[+\-−±]\d+(?:\.\d+)?(?![\w.])"  # a signed deviation: +1.2
    r")"
)
MEASUREMENT = re.compile(_MEASURE, re.I)
_LEADING = r"(?:(?:median|mean|average|an?|at|of|about|around|roughly|with|HNR|SD|z)\s+)*"
_PARENTHESIS = re.compile(r"\s*\(([^()]*)\)")
_RUNNING = re.compile(rf"(?<!\w){_LEADING}{_MEASURE}", re.I)
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”")
_DIGIT = re.compile(r"\d")  # every measurement needs one: a text without a digit has nothing to take out
# _tidy's rules, compiled once: they run on a dozen texts of every trace of a build.
_EMPTY_BEFORE_SEPARATOR = re.compile(r"\s*,\s*(?=[,;.:)])")
_EMPTY_PARENTHESIS = re.compile(r"\(\s*[,;]?\s*\)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,;.:)])")
_LEADING_SEPARATORS = re.compile(r"^[\s,;]+")
_SPACES = re.compile(r"\s{2,}")
# What any of those rules (or the final strip) needs to change a text (:func:`_untidy`): a comma before a
# separator, an empty parenthesis, whitespace before a separator or whitespace, a separator or whitespace first,
# whitespace last. Searched one at a time: one regular expression of all five alternatives tries each of them at
# every position, several times slower on a text that has none.
_COMMA_BEFORE_SEPARATOR = re.compile(r",\s*[,;.:)]")
_SPACE_BEFORE_SEPARATOR = re.compile(r"\s[\s,;.:)]")
_SEPARATOR_FIRST = re.compile(r"[\s,;]")
_SPACE_LAST = re.compile(r"\s\Z")


def find_measurements(text: str) -> list[str]:
    """Every measured number a text states outside quotations (empty when it states none)."""
    bare = _QUOTED.sub(" ", text)
    return [m.group(0).strip() for m in MEASUREMENT.finditer(bare)]


def _strip_unquoted(text: str) -> str:
    text = _PARENTHESIS.sub(lambda m: "" if MEASUREMENT.search(m.group(1)) else m.group(0), text)
    return _RUNNING.sub("", text)


def _untidy(text: str) -> bool:
    """Whether any of :func:`_tidy`'s rules (or its final strip) would change ``text``."""
    return bool(
        ("," in text and _COMMA_BEFORE_SEPARATOR.search(text))
        or ("(" in text and _EMPTY_PARENTHESIS.search(text))
        or _SPACE_BEFORE_SEPARATOR.search(text)
        or _SEPARATOR_FIRST.match(text)
        or _SPACE_LAST.match(text, len(text) - 1)
    )


def _tidy(text: str) -> str:
    """Tidy what a removal leaves: doubled or dangling separators, spaces before punctuation, doubled spaces."""
    if not _untidy(text):
        return text
    text = _EMPTY_BEFORE_SEPARATOR.sub("", text)
    text = _EMPTY_PARENTHESIS.sub("", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _LEADING_SEPARATORS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def without_measurements(text: str) -> str:
    """``text`` with its measured numbers taken out (quotations kept as they are)."""
    result = _tidy(_strip_measurements(text) if _DIGIT.search(text) else text)
    return result[:1].upper() + result[1:] if text[:1].isupper() else result


def _strip_measurements(text: str) -> str:
    out, last = [], 0
    for m in _QUOTED.finditer(text):
        out.append(_strip_unquoted(text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_strip_unquoted(text[last:]))
    return "".join(out)


def _words(text: str) -> str:
    """The text without measurements, never empty (a cue line needs an observation)."""
    return without_measurements(text) or "Measured against its reference."


def perceivable(trace: Trace) -> Trace:
    """The trace with every free text stripped of measured numbers (levels, codes and distribution unchanged).

    A trace none of whose texts changes is returned as it is: validating it again (the text validators are
    idempotent) would only copy it, at a cost paid for every trace of a build. Most traces are seen to be such
    at once: no digit (every measurement has one) and nothing to tidy in their texts joined by newlines (a
    newline is whitespace, so an untidy start or end of one text is still untidy in the joined text), and no
    text's first letter changes (an upper-case letter is its own upper case).
    """
    texts = [cue.observation for cue in (*trace.acoustic.cues, *trace.lexical.cues)]
    texts += [trace.acoustic.summary, trace.lexical.summary, trace.ambiguity.explanation]
    whole = "\n".join(texts)
    if all(texts) and not _DIGIT.search(whole) and not _untidy(whole):
        return trace
    acoustic = [_words(cue.observation) for cue in trace.acoustic.cues]
    lexical = [_words(cue.observation) for cue in trace.lexical.cues]
    summaries = [_words(trace.acoustic.summary), _words(trace.lexical.summary), _words(trace.ambiguity.explanation)]
    if (
        acoustic == [cue.observation for cue in trace.acoustic.cues]
        and lexical == [cue.observation for cue in trace.lexical.cues]
        and summaries == [trace.acoustic.summary, trace.lexical.summary, trace.ambiguity.explanation]
    ):
        return trace
    data = trace.model_dump()
    for cue, text in zip(data["acoustic"]["cues"], acoustic, strict=True):
        cue["observation"] = text
    for cue, text in zip(data["lexical"]["cues"], lexical, strict=True):
        cue["observation"] = text
    data["acoustic"]["summary"], data["lexical"]["summary"], data["ambiguity"]["explanation"] = summaries
    return Trace.model_validate(data)


def training_text(trace: Trace, order: Sequence[str] = DEFAULT_ORDER, keep_numbers: bool = False) -> str:
    """The text a student is trained on: the rendered trace, without measured numbers unless the run keeps them."""
    return render_trace(trace if keep_numbers else perceivable(trace), order)


@dataclass(frozen=True)
class TextStyle:
    """How a run writes its training texts: the order of the reasoning stages and whether measured numbers stay.

    Every writer of a training text (build, corruptions, counterfactuals) renders through one style, and every
    reader of one (pairs, rewards, eval) parses with its ``order``; :meth:`of_run` reads it from ``run.json``'s
    ``config`` so a later command writes and reads what the build did.
    """

    order: tuple[str, ...] = DEFAULT_ORDER
    keep_numbers: bool = False

    def render(self, trace: Trace) -> str:
        """The training text of ``trace`` in this style."""
        return training_text(trace, self.order, self.keep_numbers)

    @classmethod
    def of_run(cls, config: Mapping[str, Any] | None) -> TextStyle:
        """The style a build recorded (``stages``, ``keep_numbers`` in run.json's config); the default when absent."""
        config = config or {}
        return cls(stage_order(config.get("stages")), bool(config.get("keep_numbers", False)))


DEFAULT_STYLE = TextStyle()
"""The default training-text style: stages in the default order, no measured numbers."""
