"""What one build item ends as: a :class:`TraceRecord` or a :class:`RejectRecord`.

An item is one (utterance, sample): sample 0 the gold rationalize trace, 1..K predict samples.
This module turns a teacher's answer into the record that ``traces.jsonl`` or ``rejects.jsonl``
holds, in one place for every teacher, so the template teacher and a model are scored the same
way: the stored trace and text carry the distribution *as printed* (two decimals summing to
1.00), and kl/js are computed from that printed distribution against the human one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cotgen.core.divergence import as_vector, format_distribution, js, kl
from cotgen.records.consistency import MIN_COHERENCE, Violation, trace_coherence, trace_violations
from cotgen.records.faithfulness_gate import DEFAULT_MIN_FAITHFULNESS
from cotgen.records.leakage import Shown, leak_detail, trace_leaks
from cotgen.records.measurements import DEFAULT_STYLE, TextStyle
from cotgen.records.run_records import RejectReason, RejectRecord, TemplateRef, TraceRecord, Usage
from cotgen.records.trace import (
    SALIENT_SIDES,
    FaithfulnessParts,
    Trace,
    faithfulness_parts,
    is_vocal_event,
    printed,
    validate_trace,
)
from cotgen.records.utterance import Utterance

if TYPE_CHECKING:
    from cotgen.prompts.templates import PromptInputs

Mode = Literal["rationalize", "predict"]
ModeChoice = Literal["rationalize", "predict", "both"]
ItemKey = tuple[str, int]
# How far a printed two-decimal value may lie from the value it rounds (one hundredth, plus float noise).
ROUNDING_SLACK = 0.01 + 1e-9


@dataclass(frozen=True)
class Item:
    """One unit of build work: an utterance and a sample number (0 = gold rationalize, 1..K = predict)."""

    utterance: Utterance
    sample: int
    mode: Mode
    fingerprint: str | None = None  # of its inputs (cotgen.build.fingerprint); recorded on its trace or reject
    redraw: bool = False  # ask the teacher again instead of reading the cached answers (--resample)
    # What its prompt shows, when computed for its fingerprint: its prompt and checks read the same, not a second copy.
    inputs: PromptInputs | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> ItemKey:
        return (self.utterance.id, self.sample)

    @property
    def classes(self) -> list[str]:
        return self.utterance.classes

    @property
    def has_transcript(self) -> bool:
        return bool(self.utterance.transcript and self.utterance.transcript.strip())


@dataclass(frozen=True)
class Unfinished:
    """An item the server failed (out of retries on a 5xx, timeout, 429 or broken answer): written nowhere.

    The failure is the server's, not the item's, so it is never a reject: the item stays to do and a
    plain rerun asks it again. The build counts these and says so (``reason`` is the client's, ``detail``
    its one line, e.g. naming ``--timeout``).
    """

    key: ItemKey
    reason: str
    detail: str


def sample_numbers(samples: int, mode: ModeChoice) -> list[int]:
    """The sample numbers each utterance is taught under: 0 (gold) for rationalize, 1..K for predict."""
    numbers: list[int] = []
    if mode in ("rationalize", "both"):
        numbers.append(0)
    if mode in ("predict", "both"):
        numbers.extend(range(1, samples + 1))
    return numbers


def mode_of(sample: int) -> Mode:
    """Sample 0 is the gold rationalize trace; every other sample is a predict sample."""
    return "rationalize" if sample == 0 else "predict"


_WHOLE_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n[ \t]*```\s*$", re.S)
# The value of an answer whose JSON part does not decode.
_NOT_JSON = object()


@dataclass(frozen=True)
class Answer:
    """A raw teacher answer with its JSON part found and decoded once.

    The shape check (:meth:`wrong_shape`) and the validation (:meth:`trace`) both read the decoded value, so
    an answer is decoded once instead of once per reader (four times per cached item before): on a cached
    rerun every other cost of an item is as small as a decode. ``value`` is what ``json.loads(body)`` gives,
    or a marker when it raises.
    """

    text: str
    body: str
    value: Any

    @classmethod
    def read(cls, text: str) -> Answer:
        """The JSON part of ``text`` (:func:`response_json`) and its decoded value."""
        fenced = _WHOLE_FENCE.match(text)
        body = fenced["body"] if fenced else text
        try:
            return cls(text, body, json.loads(body))
        except (ValueError, RecursionError):  # not JSON, or JSON Python will not read (:func:`validate_trace`)
            start, end = body.find("{"), body.rfind("}")
            if 0 <= start < end:
                body = body[start : end + 1]
            else:
                return cls(text, body, _NOT_JSON)
        try:
            return cls(text, body, json.loads(body))
        except (ValueError, RecursionError):
            return cls(text, body, _NOT_JSON)

    def wrong_shape(self, classes: Sequence[str]) -> str | None:
        """:func:`wrong_shape` of this answer."""
        if not self.text.strip():
            return "an empty answer"
        if len({tag.lower() for tag in _STUDENT_TAG.findall(self.text)}) >= 2:
            return "the tagged student format (<acoustic>...</acoustic> ... <distribution>), not the JSON trace object"
        decoded = self.value
        if decoded is _NOT_JSON:
            return None if "{" in self.text else "prose without a JSON object"
        if not isinstance(decoded, dict):
            return f"a JSON {type(decoded).__name__}, not the JSON trace object"
        if decoded and set(decoded) <= set(classes):
            return "a bare distribution (class code -> probability) without the reasoning stages"
        return None

    def trace(self, item: Item, events: bool = False) -> Trace:
        """:func:`parse_answer` of this answer: the decoded value validated (the body, for its decode error)."""
        data = self.body if self.value is _NOT_JSON else self.value
        return validate_trace(data, item.classes, item.has_transcript, events)


def response_json(text: str) -> str:
    """The JSON part of a model answer: a whole-answer code fence is removed, surrounding prose cut off."""
    return Answer.read(text).body


_STUDENT_TAG = re.compile(r"<(acoustic|lexical|ambiguity|distribution)>", re.I)


def wrong_shape(text: str, classes: Sequence[str]) -> str | None:
    """The recognisable wrong shape of an answer, in words; None when it is (or tries to be) the JSON trace object.

    docs/teacher-contract.md shows the one shape asked for. These are the shapes a teacher that never read it
    answers in: the tagged student format (what ``cotgen prompt`` shows the student, and a fine-tuned model
    writes), a bare distribution, prose, nothing. Broken JSON is not among them: that is an answer trying,
    whose repair turn can fix it. Linear in the answer's length (one regular-expression scan, one decode).
    """
    return Answer.read(text).wrong_shape(classes)


def parse_answer(text: str, item: Item, events: bool = False) -> Trace:
    """Validate a raw teacher answer against the item's classes; raises :class:`TraceError` with the reject reason.

    ``events``: the teacher was sent the clip, so it may cite vocal events it heard.
    """
    return Answer.read(text).trace(item, events)


@dataclass(frozen=True)
class Printed:
    """A valid trace as printed (its distribution two decimals summing to 1.00, the text a student reads), the
    faithfulness of its cited cues to the measurements and the coherence of its evidence with its distribution.

    Computed once per answer and read by the content checks (:func:`content_problem`) and the record
    (:func:`printed_record`); both computed these themselves before, twice per item.
    """

    trace: Trace
    parts: FaithfulnessParts
    coherence: float | None  # of its cited evidence with its distribution (trace_coherence)

    @classmethod
    def of(cls, trace: Trace, measured_levels: Mapping[str, str | None]) -> Printed:
        shown = printed(trace)
        return cls(shown, faithfulness_parts(shown, measured_levels), trace_coherence(shown))


def trace_record(
    item: Item,
    trace: Trace,
    teacher: str,
    template: TemplateRef,
    measured_levels: Mapping[str, str | None],
    usage: Usage,
    style: TextStyle = DEFAULT_STYLE,
) -> TraceRecord:
    """The traces.jsonl line of a valid trace, scored on its printed distribution.

    ``trace`` keeps what the teacher wrote; ``text`` is the training text in the run's ``style`` (its stage order,
    and no measured number unless the run keeps them).
    """
    return printed_record(item, Printed.of(trace, measured_levels), teacher, template, usage, style)


def printed_record(
    item: Item, answer: Printed, teacher: str, template: TemplateRef, usage: Usage, style: TextStyle = DEFAULT_STYLE
) -> TraceRecord:
    """:func:`trace_record` of a trace already printed and scored (:meth:`Printed.of`)."""
    shown = answer.trace
    parts = answer.parts
    classes = item.classes
    human = as_vector(item.utterance.distribution, classes)
    mine = as_vector(shown.distribution, classes)
    return TraceRecord(
        id=item.utterance.id,
        sample=item.sample,
        mode=item.mode,
        teacher=teacher,
        template=template,
        trace=shown,
        text=style.render(shown),
        distribution=shown.distribution,
        kl=float(kl(human, mine)),
        js=float(js(human, mine)),
        faithfulness=parts.score,
        faithfulness_parts=parts,
        coherence=answer.coherence,
        vocal_events=[cue.cue for cue in shown.acoustic.cues if is_vocal_event(cue.cue)],
        usage=usage,
        fingerprint=item.fingerprint,
    )


def reject_record(
    item: Item, stage: str, reason: RejectReason, detail: str, attempts: int, raw: str | None = None
) -> RejectRecord:
    """The rejects.jsonl line of an item that yielded no valid trace."""
    return RejectRecord(
        id=item.utterance.id,
        sample=item.sample,
        mode=item.mode,
        stage=stage,
        reason=reason,
        detail=detail,
        attempts=attempts,
        raw=raw,
        fingerprint=item.fingerprint,
    )


def unfaithful_detail(
    record: TraceRecord, minimum: float | None, measured: Mapping[str, str | None] | None = None
) -> str | None:
    """Why a trace falls below ``--min-faithfulness`` (None when it passes or cannot be checked).

    With ``measured`` the detail lists the cues it got wrong beside their measured levels, so a repair turn tells
    the teacher exactly what to correct instead of asking it to guess.
    """
    if record.faithfulness_parts is None:
        return None
    trace = record.trace
    return _unfaithful(
        record.faithfulness_parts, minimum, lambda: "" if measured is None else wrong_cues(trace, measured)
    )


def _unfaithful(parts: FaithfulnessParts, minimum: float | None, wrong: Callable[[], str]) -> str | None:
    """The detail of a trace below ``minimum``; ``wrong`` names its wrong cues, asked only then (most traces pass)."""
    if minimum is None or parts.score is None or parts.score >= minimum:
        return None
    named = {"exact": parts.exact, "within one step": parts.within_one, "salient-cue recall": parts.salient_recall}
    shares = ", ".join(f"{k} {v:.2f}" for k, v in named.items() if v is not None)
    return (
        f"faithfulness {parts.score:.2f} ({shares}) < {minimum:.2f}: "
        f"the cited cue levels disagree with the measurements{wrong()}"
    )


def wrong_cues(trace: Trace, measured: Mapping[str, str | None]) -> str:
    """The cues a trace cites off their measured level and the salient ones it leaves out, in words; "" when none."""
    cited = {cue.cue: cue.level for cue in trace.acoustic.cues}
    off = [
        f"{cue} cited {level!r}, measured {measured[cue]!r}"
        for cue, level in cited.items()
        if measured.get(cue) is not None and level != measured[cue]
    ]
    missed = [
        f"{cue} measured {level!r}, not cited"
        for cue, level in measured.items()
        if level in SALIENT_SIDES and cue not in cited
    ]
    listed = off + missed
    return f": {'; '.join(listed)}" if listed else ""


def inconsistent_detail(violations: list[Violation]) -> str:
    """The reject detail and repair-turn text of a self-contradicting trace: each broken rule, named."""
    return "the trace contradicts itself: " + "; ".join(f"{v.rule}: {v.detail}" for v in violations)


# The version of the content checks' rules, part of every fingerprint: records validated under other rules (before
# the consistency and leak checks) are redone on a rerun, for free from the response cache.
CHECKS_VERSION = "consistency-leaks-1"
# Content problems get one repair turn each (within --repairs); a second failure of the same check is final.
ONE_REPAIR: frozenset[str] = frozenset({"inconsistent", "leaks_target", "unfaithful"})


def reject_stage(reason: RejectReason) -> str:
    """The stage a content reject is recorded under: faithfulness for ``unfaithful``, else validation."""
    return "faithfulness" if reason == "unfaithful" else "validation"


@dataclass(frozen=True)
class Checks:
    """The content checks every valid trace passes after its schema: the gold match, consistency, no leaked target,
    faithfulness (docs/build.md, "Validation and repair")."""

    gold_tolerance: float = 0.01
    min_faithfulness: float | None = DEFAULT_MIN_FAITHFULNESS
    min_coherence: float | None = MIN_COHERENCE


def content_problem(
    item: Item,
    answer: Printed,
    measured: Mapping[str, str | None],
    checks: Checks,
    shown: Shown = "",
) -> tuple[RejectReason, str] | None:
    """The first content check a valid trace fails, as (reject reason, detail), or None when it passes them all.

    In order: a gold's distribution must match the human one (``distribution_mismatch``); no trace may contradict
    itself (``inconsistent``, :mod:`cotgen.records.consistency`); a gold may not narrate the target it was shown
    (``leaks_target``, :mod:`cotgen.records.leakage`; ``shown`` is what else its prompt showed, whose numbers it
    may quote, or how to write it: it is written only for a trace that states a number); the cited cues must be
    faithful to the measurements (``unfaithful``). Each is checked on the trace as printed (``answer``,
    :meth:`Printed.of` with the same ``measured``), the text a student would read.
    """
    shown_trace = answer.trace
    mismatch = _printed_mismatch(item, shown_trace.distribution, checks.gold_tolerance)
    if mismatch is not None:
        return "distribution_mismatch", mismatch
    broken = trace_violations(shown_trace, checks.min_coherence, answer.coherence)
    if broken:
        return "inconsistent", inconsistent_detail(broken)
    if item.mode == "rationalize":
        leaks = trace_leaks(shown_trace, item.utterance.distribution, item.utterance.transcript, shown)
        if leaks:
            return "leaks_target", leak_detail(leaks)
    why = _unfaithful(answer.parts, checks.min_faithfulness, lambda: wrong_cues(shown_trace, measured))
    if why is not None:
        return "unfaithful", why
    return None


def gold_mismatch(item: Item, trace: Trace, tolerance: float) -> str | None:
    """Why a gold trace's own distribution does not match the human one (None when it does, or for predict items).

    A gold trace is checked, never overwritten: its reasoning argues for the distribution it wrote,
    so pasting the human numbers over it would make the text contradict itself. It matches when its
    printed (two-decimal) distribution is a two-decimal rounding of the human one (each value within
    one hundredth: whichever class the teacher gave the odd hundredth of 1/3, 1/3, 1/3 to), or lies
    within ``tolerance`` bits of JS divergence of the human one. The message quotes the target, so a
    repair turn tells the teacher exactly what to write.
    """
    if item.mode != "rationalize":
        return None
    return _printed_mismatch(item, printed(trace).distribution, tolerance)


def _printed_mismatch(item: Item, shown: Mapping[str, float], tolerance: float) -> str | None:
    """:func:`gold_mismatch` of a printed distribution."""
    if item.mode != "rationalize":
        return None
    human = item.utterance.distribution
    if all(abs(shown[code] - human[code]) <= ROUNDING_SLACK for code in item.classes):
        return None
    divergence = float(js(as_vector(human, item.classes), as_vector(shown, item.classes)))
    if divergence <= tolerance:
        return None
    return (
        f"the distribution to explain is {format_distribution(human)}, but the answer's is "
        f"{format_distribution(shown)} (JS {divergence:.3f} bits > {tolerance:g}); write exactly these values in "
        '"distribution" and make the reasoning arrive at them from the voice and the words, without mentioning '
        "where they come from"
    )
