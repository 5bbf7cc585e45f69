"""Every reader of model text is linear: a 1 MB hostile completion costs what 1 MB of ordinary trace costs.

The readers: the tolerant section parser (predict, eval, pairs), the strict trace parser, and the rewards
(format, distribution, and the reasoning rewards, which parse cues). Each hostile text below once took
quadratic time somewhere (a lazy ``<tag>(.*?)</tag>`` search restarted at every repeated opening tag, a
``<\\s*/?\\s*`` pattern retried every split of a run of spaces, a ``cue → obs`` pattern every arrow) or would
have reached the JSON decoder's recursion limit (nested braces).

Timing is CPU time (``time.process_time``) measured side by side in this run: the cost per byte of each hostile
text against the cost per byte of parsing a normal trace, so a slow or busy machine scales both. A quadratic
reader is hundreds of times over the bound at 1 MB; the linear ones measure 0.04-1.0 (docs/reliability-performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cotgen.records.trace import TraceError, TraceParseError, parse_sections, parse_trace
from cotgen.rewards import distribution_reward, format_problem, format_reward, reasoning_reward

CLASSES = ["neu", "hap", "ang", "sad"]
TARGET = {"neu": 0.4, "hap": 0.0, "ang": 0.6, "sad": 0.0}
NORMAL = (
    "<acoustic>\n- pitch: high. The pitch rises well above the usual. Suggests: ang.\nSummary: A tense, raised voice.\n"
    "</acoustic>\n<lexical>\n- 'now' → An insistent demand for action. Suggests: ang.\nSummary: The words demand "
    "action.\n</lexical>\n<ambiguity>\nLevel: medium. Competing: ang, neu. Anger leads but a calm reading remains "
    'possible.\n</ambiguity>\n<distribution>{"neu": 0.4, "hap": 0.0, "ang": 0.6, "sad": 0.0}</distribution>'
)
LEVELS = {"pitch": "high", "loudness": "very high", "speech_rate": "moderate", "intonation": "rising"}
SIZE = 1_000_000
# Cost per byte of a hostile text over that of the normal trace; measured 0.04-1.0, quadratic readers > 100.
PER_BYTE_BOUND = 5.0
STAGES_BEFORE_DISTRIBUTION = "<acoustic>a</acoustic><lexical>b</lexical><ambiguity>c</ambiguity><distribution>"


def _fill(unit: str) -> str:
    return unit * (SIZE // len(unit))


HOSTILE: dict[str, str] = {
    "repeated opening tag": _fill("<acoustic>"),
    "unclosed stages after one closed": "<acoustic>x</acoustic>" + _fill("<lexical>"),
    "angle bracket before runs of spaces": _fill("<" + " " * 50 + "/" + " " * 50),
    "nested braces, unclosed": STAGES_BEFORE_DISTRIBUTION + _fill("{"),
    "nested objects, closed tag": STAGES_BEFORE_DISTRIBUTION + _fill('{"a":') + "</distribution>",
    "nested arrays": STAGES_BEFORE_DISTRIBUTION + _fill("[") + "</distribution>",
    "Suggests repeated in a cue line": NORMAL.replace("- pitch: high. ", "- pitch: high. " + _fill("Suggests: a ")),
    "arrows in a lexical line": NORMAL.replace("- 'now' → ", "- 'now' → " + _fill("a → ")),
    "label line of a million words": NORMAL + "\nLabel: " + _fill("a "),
    "fence lines": _fill("```json\n"),
    "one hyphenated word": NORMAL.replace("The pitch rises", _fill("don't-")),
    "every level in a cue line": NORMAL.replace("The pitch rises", _fill("pitch very high, very low, moderate, ")),
    "free-text cue line of names and levels": NORMAL.replace(
        "- pitch: high. The pitch rises", "- " + _fill("pitch loudness speech rate very high ")
    ),
    "shares everywhere": NORMAL.replace("Anger leads", _fill("0.40 angry, 60% neutral, 3 of 5 ")),
}


def _every_reader(text: str) -> None:
    for parse in (lambda: parse_sections(text, CLASSES), lambda: parse_trace(text, CLASSES)):
        try:
            parse()
        except (TraceParseError, TraceError):
            pass
    format_problem(text, CLASSES)
    format_reward([text], target_distribution=[TARGET])
    distribution_reward([text], target_distribution=[TARGET])
    reasoning_reward([text], target_distribution=[TARGET], cue_levels=[LEVELS])  # claims: cues, shares, evidence


def _cpu(work: Callable[[], None], repeats: int) -> float:
    start = time.process_time()
    for _ in range(repeats):
        work()
    return (time.process_time() - start) / repeats


@pytest.fixture(scope="module")
def normal_cost_per_byte() -> float:
    return min(_cpu(lambda: _every_reader(NORMAL), 200) for _ in range(3)) / len(NORMAL)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_megabyte_costs_what_a_megabyte_of_trace_costs(name: str, normal_cost_per_byte: float) -> None:
    text = HOSTILE[name]
    assert len(text) >= SIZE * 0.99
    cost = min(_cpu(lambda: _every_reader(text), 1) for _ in range(2))
    ratio = cost / len(text) / normal_cost_per_byte
    assert ratio < PER_BYTE_BOUND, f"{name}: {cost:.2f} s CPU, {ratio:.1f}x the per-byte cost of a normal trace"


# Well-formed, only long: the format holds (the reasoning rewards judge what they say).
WELL_FORMED = {
    "Suggests repeated in a cue line",
    "arrows in a lexical line",
    "one hyphenated word",
    "every level in a cue line",
    "free-text cue line of names and levels",
    "shares everywhere",
}


@pytest.mark.parametrize("name", sorted(set(HOSTILE) - WELL_FORMED))
def test_a_broken_hostile_text_is_refused_with_a_reason_not_a_crash(name: str) -> None:
    problem = format_problem(HOSTILE[name], CLASSES)
    assert problem is not None and format_reward([HOSTILE[name]], target_distribution=[TARGET]) == [0.0]
    assert len(problem) < 400  # the reason names the fault; it does not echo the megabyte


def test_nested_json_is_refused_before_the_decoder_recurses() -> None:
    for name in ("nested braces, unclosed", "nested objects, closed tag", "nested arrays"):
        text = HOSTILE[name] if HOSTILE[name].endswith("</distribution>") else HOSTILE[name] + "</distribution>"
        with pytest.raises(TraceParseError, match="one flat JSON object"):
            parse_sections(text, CLASSES)
