"""Trace validation, rendering and parsing: round trip, tolerance, and the reason on failure."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cotgen.core.divergence import round_distribution
from cotgen.core.errors import CotgenError
from cotgen.records.stages import stage_order
from cotgen.records.trace import (
    _STAGE_TAG_IN_TEXT,
    ACOUSTIC_CUES,
    INTONATION_LEVELS,
    LEVELS,
    Trace,
    TraceError,
    TraceParseError,
    _one_line,
    parse_sections,
    parse_trace,
    printed,
    render_trace,
    validate_trace,
)

CLASSES = ["neu", "hap", "ang", "sad"]
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: s.strip()
)
codes = st.lists(st.sampled_from(CLASSES), max_size=3, unique=True)


@st.composite
def traces(draw):
    cues = []
    for cue in draw(st.lists(st.sampled_from(ACOUSTIC_CUES), min_size=1, max_size=4, unique=True)):
        level = draw(st.sampled_from(INTONATION_LEVELS if cue == "intonation" else LEVELS))
        cues.append({"cue": cue, "level": level, "observation": draw(text), "suggests": draw(codes)})
    lexical = [
        {"cue": draw(text), "observation": draw(text), "suggests": draw(codes)} for _ in range(draw(st.integers(1, 3)))
    ]
    level = draw(st.sampled_from(["low", "medium", "high"]))
    competing = draw(st.lists(st.sampled_from(CLASSES), min_size=2 if level != "low" else 0, max_size=4, unique=True))
    weights = draw(st.lists(st.floats(0, 1), min_size=4, max_size=4).filter(lambda w: sum(w) > 0.01))
    dist = {c: w / sum(weights) for c, w in zip(CLASSES, weights)}
    data = {
        "acoustic": {"cues": cues, "summary": draw(text)},
        "lexical": {"cues": lexical, "summary": draw(text)},
        "ambiguity": {"level": level, "competing": competing, "explanation": draw(text)},
        "distribution": dist,
    }
    return printed(validate_trace(data, CLASSES, has_transcript=True))


@given(traces())
def test_parse_inverts_render(trace):
    assert parse_trace(render_trace(trace), CLASSES) == trace


@given(traces())
def test_parser_tolerates_fences_whitespace_and_trailing_text(trace):
    noisy = "Sure!\n```xml\n  " + render_trace(trace).replace("\n", "\n   ") + "\n```\nHope this helps."
    assert parse_trace(noisy, CLASSES) == trace


def _valid():
    return {
        "acoustic": {
            "cues": [{"cue": "pitch", "level": "high", "observation": "o", "suggests": ["ang"]}],
            "summary": "s",
        },
        "lexical": {"cues": [{"cue": "no", "observation": "o", "suggests": []}], "summary": "s"},
        "ambiguity": {"level": "medium", "competing": ["ang", "sad"], "explanation": "e"},
        "distribution": {"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4},
    }


@pytest.mark.parametrize(
    ("mutate", "reason", "needle"),
    [
        (lambda d: d["distribution"].update(ang=0.8), "distribution_invalid", "sums to 1.3"),
        (lambda d: d["distribution"].update(neu=-0.1, ang=0.7), "distribution_invalid", "outside [0, 1]"),
        (lambda d: d["distribution"].pop("neu"), "distribution_invalid", "missing ['neu']"),
        (lambda d: d["ambiguity"].update(competing=["ang"]), "schema_invalid", "at least two"),
        (lambda d: d["acoustic"]["cues"][0].update(level="rising"), "schema_invalid", "level 'rising'"),
        (
            lambda d: d["acoustic"]["cues"][0].update(suggests=["xyz"]),
            "schema_invalid",
            "acoustic.cues.0.suggests: unknown",
        ),
        (
            lambda d: d["lexical"]["cues"][0].update(suggests=["x"]),
            "schema_invalid",
            "lexical.cues.0.suggests: unknown",
        ),
        (lambda d: d["ambiguity"].update(competing=["ang", "x"]), "schema_invalid", "ambiguity.competing: unknown"),
        (lambda d: d["lexical"].update(cues=[]), "schema_invalid", "at least one lexical cue"),
        (lambda d: d.pop("ambiguity"), "schema_invalid", "ambiguity"),
        (lambda d: d["acoustic"]["cues"][0].update(observation=" \n "), "schema_invalid", "only whitespace"),
    ],
)
def test_validation_names_reason(mutate, reason, needle):
    data = _valid()
    mutate(data)
    with pytest.raises(TraceError) as info:
        validate_trace(data, CLASSES, has_transcript=True)
    assert info.value.reason == reason
    assert needle in str(info.value)


def test_renormalises_within_tolerance_and_accepts_no_lexical_cue_without_transcript():
    data = _valid()
    data["distribution"]["ang"] = 0.51
    data["lexical"]["cues"] = []
    trace = validate_trace(data, CLASSES, has_transcript=False)
    assert sum(trace.distribution.values()) == pytest.approx(1.0)
    assert trace.distribution["ang"] == pytest.approx(0.51 / 1.01)


def test_malformed_json_reason():
    with pytest.raises(TraceError) as info:
        validate_trace('{"acoustic": ', CLASSES, True)
    assert info.value.reason == "malformed_json"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<acoustic>a</acoustic><lexical>b</lexical><distribution>{}</distribution>", "missing <ambiguity>"),
        (
            "<lexical>b</lexical><acoustic>a</acoustic><ambiguity>c</ambiguity><distribution>{}</distribution>",
            "out of order",
        ),
        (
            "<acoustic>a</acoustic><lexical>b</lexical><ambiguity>c</ambiguity><distribution>[1]</distribution>",
            "not an object",
        ),
        (
            "<acoustic>a</acoustic><lexical>b</lexical><ambiguity>c</ambiguity><distribution>{x</distribution>",
            "not a JSON",
        ),
    ],
)
def test_parse_sections_says_why(text, needle):
    with pytest.raises(TraceParseError, match=needle):
        parse_sections(text, CLASSES)


orders = st.permutations(["acoustic", "lexical", "ambiguity"]).map(tuple)


@given(traces(), orders)
def test_parse_inverts_render_in_any_declared_stage_order(trace, order):
    text = render_trace(trace, order)
    tags = [text.index(f"<{name}>") for name in (*order, "distribution")]
    assert tags == sorted(tags)
    assert parse_trace(text, CLASSES, order=order) == trace


def test_a_text_in_another_order_than_the_runs_is_out_of_order():
    trace = _example_trace()
    lexical_first = ("lexical", "acoustic", "ambiguity")
    with pytest.raises(TraceParseError, match="expected lexical, acoustic, ambiguity, distribution"):
        parse_sections(render_trace(trace), CLASSES, order=lexical_first)
    with pytest.raises(TraceParseError, match="expected acoustic, lexical, ambiguity, distribution"):
        parse_sections(render_trace(trace, lexical_first), CLASSES)


def _example_trace():
    return printed(validate_trace(_valid(), CLASSES, has_transcript=True))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ("acoustic", "lexical", "ambiguity")),
        ("lexical,acoustic,ambiguity", ("lexical", "acoustic", "ambiguity")),
        (" Lexical, acoustic ,ambiguity,distribution", ("lexical", "acoustic", "ambiguity")),
        (["ambiguity", "acoustic", "lexical"], ("ambiguity", "acoustic", "lexical")),
    ],
)
def test_stage_order_reads_a_declared_order(spec, expected):
    assert stage_order(spec) == expected


@pytest.mark.parametrize(
    "spec", ["lexical,acoustic", "lexical,acoustic,ambiguity,ambiguity", "distribution,lexical,acoustic,ambiguity", ""]
)
def test_stage_order_refuses_anything_but_the_three_stages_once_with_the_distribution_last(spec):
    with pytest.raises(CotgenError, match="expected each of acoustic, lexical, ambiguity once"):
        stage_order(spec)


_TAGGED = st.lists(st.sampled_from(["<", ">", "/", " ", "\n", "\t", "Acoustic", "distribution", "x", "‹"]), max_size=12)


@given(st.one_of(text, _TAGGED.map("".join)))
def test_free_text_without_a_tag_opener_is_only_collapsed(value):
    """_one_line skips the tag replacement for a text without "<": it gives what replacing in every text gives."""
    collapsed = " ".join(value.split())
    assert _one_line(value) == _STAGE_TAG_IN_TEXT.sub(r"‹\1›", collapsed)


# Printed already or not, summing to 1 or within the tolerance, with zeros of either sign.
_distributions = st.tuples(
    st.sampled_from(
        [(0.5, 0.5, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0), (0.33, 0.33, 0.34, 0.0), (1 / 3, 1 / 3, 1 / 3, 0.0)]
        + [(0.7, 0.2, 0.1, 0.0), (0.25, 0.25, 0.25, 0.25), (0.2, 0.2, 0.2, 0.39), (0.6, 0.4, 0.0, 0.0)]
    ),
    st.lists(st.booleans(), min_size=4, max_size=4),
).map(lambda pair: [-v if negate and v == 0.0 else v for v, negate in zip(*pair)])


@given(st.permutations(CLASSES), _distributions)
def test_a_trace_printed_or_ordered_already_is_kept_as_the_copy_would_be(order, values):
    """printed and validate_trace return the trace itself when the copy would hold the same floats (a -0.0 is not
    the same as a 0.0: it prints differently); what they return dumps as the copy does."""
    base = validate_trace(_valid(), CLASSES, has_transcript=True)
    raw = base.model_dump()
    raw["distribution"] = dict(zip(order, values))
    try:
        trace = validate_trace(raw, CLASSES, has_transcript=True)
    except TraceError:
        return  # off by more than the tolerance: nothing to compare
    unchecked = Trace.model_validate(raw)
    ordered = {code: unchecked.distribution[code] for code in CLASSES}
    total = sum(ordered.values())
    if abs(total - 1.0) > 1e-9:
        ordered = {code: value / total for code, value in ordered.items()}
    assert trace.model_dump_json() == unchecked.model_copy(update={"distribution": ordered}).model_dump_json()
    copy = trace.model_copy(update={"distribution": round_distribution(trace.distribution)})
    assert printed(trace).model_dump_json() == copy.model_dump_json()
