"""The target-leak detector: does a gold trace narrate the vote it was shown instead of reasoning from evidence?

Why: a gold (rationalize) trace is written by a teacher that sees the human distribution, but it is the text a
student learns to write from one clip and a transcript, with no vote in sight. "As the provided distribution shows,
3 of 5 annotators (60%) heard neutral" teaches the student to narrate something it never sees. Every gold is run
through :func:`trace_leaks`; a hit gets one repair turn quoting the sentence, then the reject ``leaks_target``.

What counts as a leak (docs/build.md, "Target leaks"), in text with quoted spans ("…", '…', “…”) removed, since a
quotation is the transcript's words, and ignoring any word or number the transcript itself contains:

- ``annotation`` — vocabulary that only describes labelling: annotator, annotation, rater, rating(s) by people,
  vote/voted/voter, labelled/labeller, "the label(s)", ground truth, crowd workers;
- ``given_target`` — the distribution, labels or answer called provided, given, supplied, shown, target,
  reference, human, gold, true or actual ("the provided distribution", "the labels given");
- ``people`` — listeners or other people as an aggregate that judged: a count, share or quantifier ("3 listeners",
  "most listeners", "half of the people", "60% of raters"), "the listeners", "listeners'", or listeners with a
  past-tense judgement ("listeners heard", "people chose"). A hypothetical listener ("a listener might hear anger",
  "listeners could hear it either way") is reasoning about perception and is not a leak;
- ``share_of_people`` — a count of a count with a judgement ("3 of 5 heard", "two out of three chose");
- ``target_value`` — a decimal or a percentage equal (to the hundredth) to a value of the target distribution
  strictly between 0 and 1, anywhere outside the distribution ("neutral at 0.60", "60% neutral"), unless the
  number appears in what the prompt showed besides the target (the measurements) or in the transcript, or reads
  as a measurement (followed by a unit such as SD, Hz, dB, semitones, syllables, or a z-score).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from cotgen.records.trace import Trace

LeakKind = Literal["annotation", "given_target", "people", "share_of_people", "target_value"]

_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’|(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")

_PEOPLE_PLURAL = (
    r"(?:listeners|hearers|people|humans|judges|evaluators|annotators|raters|participants|respondents|observers|"
    r"coders|labell?ers|voters)"
)
_PEOPLE = rf"(?:{_PEOPLE_PLURAL}|listener|hearer|judge|evaluator|annotator|rater|participant|respondent|observer)"
_COUNT = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+(?:\.\d+)?\s*%|\d+)"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+)"
_SOME = (
    r"(?:most|many|some|few|all|every|each|several|both|half|(?:a|the)\s+(?:majority|minority|plurality)|"
    r"majority|minority|none|nobody|everyone)"
)
# "most listeners would hear anger" reasons about perception; "most listeners heard anger" reports a vote.
_HEDGE = r"(?!\s+(?:\w+\s+)?(?:might|could|would|may|can|will|tend|are\s+likely|is\s+likely)\b)"
_JUDGED = (
    r"(?:heard|hears|labell?ed|rated|chose|chosen|picked|perceived|said|gave|marked|selected|judged|voted|"
    r"thought|split|disagreed|agreed|went\s+with|opted|assigned|classified|identified|reported|tagged)"
)

_PATTERNS: tuple[tuple[LeakKind, re.Pattern[str]], ...] = (
    (
        "annotation",
        re.compile(
            r"\b(?:annotat\w*|raters?|vot(?:e|es|ed|ing|ers?)|labell?ed|labell?ers?|ground[-\s]truth|"
            r"crowd[-\s]?(?:sourc\w*|workers?)|the\s+labels?|gold\s+labels?|majority\s+label|inter-?rater)\b",
            re.I,
        ),
    ),
    (
        "given_target",
        re.compile(
            r"\b(?:provided|given|supplied|shown|stated|target|reference|human|gold|true|actual|expected|known)\s+"
            r"(?:emotion\s+|label\s+|probability\s+)?(?:distribution|labels?|answer|probabilities|shares|split|"
            r"percentages|numbers|scores?)\b"
            r"|\b(?:distribution|labels?|answer|probabilities)\s+(?:\w+\s+)?(?:provided|given|supplied|shown)\s+"
            r"(?:to\s+me|to\s+us|above|here|in\s+the\s+prompt)"
            r"|\b(?:I\s+was|we\s+were|we\s+are|I\s+am)\s+(?:given|told|shown|provided)\b",
            re.I,
        ),
    ),
    (
        "people",
        re.compile(
            rf"\b{_COUNT}\s+(?:of\s+)?(?:the\s+|these\s+|those\s+)?(?:\w+\s+)?{_PEOPLE}\b"
            rf"|\b{_SOME}\s+(?:of\s+)?(?:the\s+|these\s+|those\s+)?(?:\w+\s+)?{_PEOPLE}\b{_HEDGE}"
            rf"|\bthe\s+{_PEOPLE_PLURAL}\b{_HEDGE}"
            rf"|\b{_PEOPLE_PLURAL}['’]"
            rf"|\b{_PEOPLE}\s+(?!(?:might|could|would|may|can|will)\b)(?:\w+\s+)?{_JUDGED}\b",
            re.I,
        ),
    ),
    (
        "share_of_people",
        re.compile(
            rf"\b{_NUMBER_WORD}\s+(?:out\s+)?of\s+(?:the\s+)?{_NUMBER_WORD}\b(?:\s+\w+){{0,2}}\s+{_JUDGED}\b"
            rf"|\b{_NUMBER_WORD}\s*/\s*{_NUMBER_WORD}\s+(?:of\s+)?(?:the\s+)?{_PEOPLE}\b",
            re.I,
        ),
    ),
)

_PEOPLE_STEMS = tuple(
    "listener hearer people human judge evaluator annotator rater participant respondent observer coder label "
    "voter".split()
)
_JUDGED_STEMS = tuple(
    "heard hears label rated chose picked perceived said gave marked selected judged voted thought split agreed went "
    "opted assigned classified identified reported tagged".split()
)
# What every match of a rule contains, in lower case. The rules' regexes are most of a check's cost and almost no
# sentence matches one, so a sentence in ASCII (where matching ignoring case is comparing lower case) is tried only
# against the rules whose words it contains; any other sentence against every rule. tests/test_leakage.py holds
# these against the patterns.
_RULE_WORDS: dict[LeakKind, Callable[[str], bool]] = {
    "annotation": lambda low: _any_in(low, ("annotat", "rater", "vot", "label", "ground", "crowd")),
    "given_target": lambda low: _any_in(
        low,
        ("distribution", "label", "answer", "probabilit", "share", "split", "percentage", "number", "score")
        + ("given", "told", "shown", "provided"),
    ),
    "people": lambda low: _any_in(low, _PEOPLE_STEMS),
    "share_of_people": lambda low: (
        ("of" in low and _any_in(low, _JUDGED_STEMS)) or ("/" in low and _any_in(low, _PEOPLE_STEMS))
    ),
}


def _any_in(low: str, words: Iterable[str]) -> bool:
    return any(map(low.__contains__, words))


_DIGIT = re.compile(r"\d")  # every target value is written with one


_Rules = Sequence[tuple[LeakKind, re.Pattern[str]]]


def _rules_for(bare: str, among: _Rules = _PATTERNS) -> _Rules:
    """The rules of ``among`` a sentence (quotations blanked) could match: those whose words it contains, all of
    ``among`` if it is not ASCII."""
    if not bare.isascii():
        return among
    low = bare.lower()
    return [(kind, pattern) for kind, pattern in among if _RULE_WORDS[kind](low)]


_NUMBER = re.compile(r"(?<![\w.])(?P<num>\d*\.\d+|\d+)(?P<pct>\s*(?:%|per\s?cent\b|percent\b))?")
# A number with a unit, or a z-score, is a measurement the teacher read, not a share of the target.
_UNIT_AFTER = re.compile(
    r"\s*(?:SD|Hz|dB|semitones?|st|syllables?|syll|ms|s|seconds?|times|x|standard\s+deviations?)\b", re.I
)
_Z_BEFORE = re.compile(r"\b(?:z|z-score|z\s+score)\s*(?:=|of|:)?\s*[+-]?$", re.I)


@dataclass(frozen=True)
class Leak:
    """One sentence that leaks the target: which rule, the words that matched, the sentence, and where it is."""

    kind: LeakKind
    match: str
    sentence: str
    where: str = ""


def _unquoted(text: str) -> str:
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _numbers_in(text: str) -> set[float]:
    """Every number a text contains, as written and as a share when it is a percentage."""
    found: set[float] = set()
    for m in _NUMBER.finditer(text):
        value = float(m["num"])
        found.add(round(value, 4))
        if m["pct"]:
            found.add(round(value / 100, 4))
    return found


def _target_values(target: Mapping[str, float]) -> list[float]:
    return [round(float(v), 2) for v in target.values() if 0.005 <= float(v) <= 0.995]


def _value_leak(sentence: str, values: Sequence[float], exempt: set[float]) -> str | None:
    for m in _NUMBER.finditer(sentence):
        raw = float(m["num"])
        if round(raw, 4) in exempt:
            continue
        if not m["pct"] and (_UNIT_AFTER.match(sentence, m.end()) or _Z_BEFORE.search(sentence, 0, m.start())):
            continue
        if m["pct"]:
            share = raw / 100
        elif "." in m["num"] and raw < 1:
            share = raw
        else:
            continue  # a bare integer (a count, a year, a word's length) is not a probability
        if any(abs(share - v) < 0.005 for v in values):
            return m.group(0).strip()
    return None


def find_leaks(
    text: str,
    target: Mapping[str, float],
    transcript: str | None = None,
    shown: str = "",
    where: str = "",
) -> list[Leak]:
    """The leaking sentences of one free text (at most one hit per sentence, the first rule that matches).

    ``target`` is the distribution the teacher was shown; ``transcript`` and ``shown`` (what else the prompt
    showed: the measurements) exempt their own words and numbers.
    """
    return _Exemptions.of(target, transcript, shown).leaks(text, where)


# What else a prompt showed (its measurements in words and numbers), or how to write it: a text's numbers are held
# against it only when the text states one, so most traces never need it written.
Shown = str | Callable[[], str]


@dataclass(frozen=True)
class _Exemptions:
    """What one prompt lets a text say: the transcript's words, the numbers it and the measurements show, and the
    target values. Read once per trace, not once per text field (the measurements were re-scanned for each of a
    trace's dozen texts, the largest cost of a cached rerun), and only when a text needs them: most texts match
    no rule and state no number."""

    values: list[float]
    transcript: str
    shown: Shown

    @classmethod
    def of(cls, target: Mapping[str, float], transcript: str | None, shown: Shown) -> _Exemptions:
        return cls(values=_target_values(target), transcript=transcript or "", shown=shown)

    @cached_property
    def transcript_words(self) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-z]+", self.transcript)}

    @cached_property
    def exempt_numbers(self) -> set[float]:
        shown = self.shown if isinstance(self.shown, str) else self.shown()
        return _numbers_in(f"{self.transcript}\n{shown}")

    def leaks(self, text: str, where: str, among: _Rules = _PATTERNS) -> list[Leak]:
        """The leaking sentences of ``text``; ``among``: the rules it could match (:func:`trace_leaks`), else all."""
        if not _DIGIT.search(text) and not _rules_for(text, among):
            return []  # no number and no rule's words: none of its sentences (parts of it) can leak
        found: list[Leak] = []
        for sentence in _sentences(text):
            bare = _unquoted(sentence)
            hit: tuple[LeakKind, str] | None = None
            for kind, pattern in _rules_for(bare, among):
                for m in pattern.finditer(bare):
                    words = {w.lower() for w in re.findall(r"[A-Za-z]+", m.group(0))}
                    if words and words <= self.transcript_words:
                        continue  # the speaker's own words, repeated without quotes
                    hit = (kind, m.group(0))
                    break
                if hit:
                    break
            if hit is None and (number := _value_leak(bare, self.values, self.exempt_numbers)) is not None:
                hit = ("target_value", number)
            if hit is not None:
                found.append(Leak(kind=hit[0], match=hit[1], sentence=sentence, where=where))
        return found


def trace_texts(trace: Trace) -> Iterable[tuple[str, str]]:
    """(field path, free text) of every text a trace writes outside its distribution."""
    for i, cue in enumerate(trace.acoustic.cues):
        yield f"acoustic.cues.{i}.observation", cue.observation
    yield "acoustic.summary", trace.acoustic.summary
    for i, lex in enumerate(trace.lexical.cues):
        yield f"lexical.cues.{i}.cue", lex.cue
        yield f"lexical.cues.{i}.observation", lex.observation
    yield "lexical.summary", trace.lexical.summary
    yield "ambiguity.explanation", trace.ambiguity.explanation


def trace_leaks(
    trace: Trace, target: Mapping[str, float], transcript: str | None = None, shown: Shown = ""
) -> list[Leak]:
    """Every leaking sentence of a trace's free text (see the module docstring for the rules).

    A rule whose words appear nowhere in the trace appears in none of its sentences either (each is part of
    one text; blanking a quotation cannot create a word), so the words are looked for once in the whole trace
    and each text tries only the rules found there: most traces have none, and a text then costs one digit scan.
    """
    texts = list(trace_texts(trace))
    whole = "\n".join(text for _, text in texts)
    among = _rules_for(whole)
    if not among and not _DIGIT.search(whole):
        return []  # no rule's words and no number in any text: no sentence can leak
    exemptions = _Exemptions.of(target, transcript, shown)
    return [leak for where, text in texts for leak in exemptions.leaks(text, where, among)]


def leak_detail(leaks: Sequence[Leak]) -> str:
    """The reject detail and repair-turn text of a leaking trace: the offending sentence(s) and why."""
    quoted = "; ".join(f"{leak.where or 'text'}: {leak.sentence!r} ({leak.kind}: {leak.match!r})" for leak in leaks[:3])
    more = f" and {len(leaks) - 3} more" if len(leaks) > 3 else ""
    return (
        f"the reasoning refers to labels, listeners' judgements or the numbers of the distribution it explains: "
        f"{quoted}{more}. Reason only from what can be heard and read (the voice, the words), as if the answer "
        "were unknown; do not mention listeners, votes, annotators or being given a distribution, and do not "
        "repeat its numbers outside the distribution"
    )
