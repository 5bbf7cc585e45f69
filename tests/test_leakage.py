"""The target-leak detector (cotgen/records/leakage.py): a table of leaking and legitimate phrasings."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.records.leakage import _PATTERNS, _RULE_WORDS, find_leaks, leak_detail, trace_leaks, trace_texts
from cotgen.records.trace import validate_trace

TARGET = {"neu": 0.6, "hap": 0.0, "ang": 0.4, "sad": 0.0}

LEAKING = [
    ("As the provided distribution shows, 3 of 5 annotators (60%) heard neutral.", "annotation"),
    ("Three of the five listeners heard anger.", "people"),
    ("Most listeners labelled it as sad.", "annotation"),
    ("The annotators split between neutral and anger.", "annotation"),
    ("The human labels lean towards neutral.", "given_target"),
    ("The majority vote is neutral.", "annotation"),
    ("From what I was given, anger is the minority reading.", "given_target"),
    ("The target distribution puts most of its mass on neutral.", "given_target"),
    ("The listeners heard frustration rather than anger.", "people"),
    ("Neutral sits at 0.60 because the delivery is flat.", "target_value"),
    ("About 40% of the weight goes to anger.", "target_value"),
    ("Raters disagreed about this one.", "annotation"),
    ("Two listeners chose neutral and one chose anger.", "people"),
    ("This explains why half of the listeners perceived anger.", "people"),
    ("The ground truth is neutral.", "annotation"),
    ("Listeners' judgements are divided.", "people"),
    ("60% of people heard it as neutral.", "people"),
    ("Two out of three chose neutral.", "share_of_people"),
    ("The answer provided to me is mostly neutral.", "given_target"),
    ("The reference distribution favours neutral over anger.", "given_target"),
    ("Anger gets .4 since the voice is tense.", "target_value"),
]

LEGITIMATE = [
    "A listener might hear anger in the raised pitch.",
    "The word 'given' in the transcript frames it as a concession.",
    'The phrase "only 40% of it" stresses how little was done.',
    "Saying only 40% was done sounds like a complaint.",
    "Given the rising pitch, surprise is plausible.",
    "Listeners could reasonably hear more than one emotion.",
    "Most listeners would hear this as calm.",
    "The voice is louder than this speaker usually speaks.",
    "Pitch is high for a female voice in this corpus.",
    "The speaker says she will vote tomorrow, a plain statement.",
    "Long pauses suggest hesitation, which fits sadness.",
    "Two cues point to anger and one to neutral.",
    "The exclamation mark raises the intensity.",
    "Anger and neutral compete; the words lean towards neutral.",
    "People often raise their voice when angry.",
    "Pitch is well above this speaker's usual (z = 0.60).",
    "An attentive listener would notice the tremor.",
    "The loudness is about 1.5 times the usual level.",
]

TRANSCRIPT = "I will vote tomorrow, only 40% of it was done, given that nobody helped!"
SHOWN = "pitch high for this speaker (median 231 Hz, z = 0.60)"


@pytest.mark.parametrize(("text", "kind"), LEAKING)
def test_leaking_phrasings_are_caught(text: str, kind: str) -> None:
    leaks = find_leaks(text, TARGET, transcript="I am not sure.", shown=SHOWN.replace("0.60", "1.10"))
    assert [leak.kind for leak in leaks] == [kind]
    assert leaks[0].sentence == text


@pytest.mark.parametrize("text", LEGITIMATE)
def test_legitimate_phrasings_are_not_caught(text: str) -> None:
    assert find_leaks(text, TARGET, transcript=TRANSCRIPT, shown=SHOWN) == []


def test_the_table_is_large_enough() -> None:
    assert len(LEAKING) >= 15 and len(LEGITIMATE) >= 15


def test_only_the_leaking_sentence_is_quoted_and_every_field_is_read() -> None:
    trace = validate_trace(
        {
            "acoustic": {
                "cues": [
                    {"cue": "pitch", "level": "high", "observation": "Raised. Most listeners heard it.", "suggests": []}
                ],
                "summary": "Tense voice.",
            },
            "lexical": {"cues": [{"cue": "wording", "observation": "Plain.", "suggests": []}], "summary": "Plain."},
            "ambiguity": {"level": "medium", "competing": ["neu", "ang"], "explanation": "Neutral at 0.6 leads."},
            "distribution": TARGET,
        },
        list(TARGET),
        has_transcript=True,
    )
    leaks = trace_leaks(trace, TARGET)
    assert [(leak.where, leak.sentence) for leak in leaks] == [
        ("acoustic.cues.0.observation", "Most listeners heard it."),
        ("ambiguity.explanation", "Neutral at 0.6 leads."),
    ]
    detail = leak_detail(leaks)
    assert "'Most listeners heard it.'" in detail and "do not mention listeners" in detail
    assert "listeners' distribution" not in detail


def test_values_of_zero_or_one_and_other_numbers_are_not_target_values() -> None:
    assert find_leaks("Anger is 1.0 step above; 0.25 of a second of silence.", {"ang": 1.0, "neu": 0.0}) == []
    assert [leak.kind for leak in find_leaks("Anger at 0.25.", {"ang": 0.25, "neu": 0.75})] == ["target_value"]


def test_measurements_with_units_are_not_target_values() -> None:
    target = {"neu": 0.2, "hap": 0.8}
    for text in (
        "Mean intensity 78 dB, +0.8 SD for a male voice.",
        "Pitch well above usual (z = 0.8).",
        "A 0.2 s gap.",
    ):
        assert find_leaks(text, target) == [], text
    assert [leak.kind for leak in find_leaks("Happy takes 0.8 of it.", target)] == ["target_value"]


# Words of the rules' patterns, fillers, numbers and separators: sentences of these exercise every rule.
_RULE_VOCABULARY = sorted(
    {w for text, _ in LEAKING for w in re.findall(r"[\w'’/%.]+", text)}
    | {w for text in LEGITIMATE for w in re.findall(r"[\w'’/%.]+", text)}
    | set(
        "of out the these 3 5 2/3 3 / 5 60% people's listeners' raters annotated voting labellers ground-truth "
        "crowd-sourced crowdworkers inter-rater gold label majority given shown told provided supplied stated true "
        "actual expected known emotion probability scores percentages numbers shares split I was we were am are to "
        "me us above here in prompt most many some few all every each several both half a minority plurality none "
        "nobody everyone might could would may can will tend likely hearers humans judges evaluators participants "
        "respondents observers coders voters listener hearer judge evaluator annotator rater participant "
        "respondent observer heard hears rated chose chosen picked perceived said gave marked selected judged voted "
        "thought disagreed agreed went with opted assigned classified identified reported tagged one two twelve".split()
    )
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_RULE_VOCABULARY), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_a_sentence_without_a_rules_words_cannot_match_that_rule(words: list[str], rnd: random.Random) -> None:
    """The shortcut that skips a rule's regex for a sentence lacking the rule's words never skips a match."""
    sentence = " ".join(w.upper() if rnd.random() < 0.2 else w.capitalize() if rnd.random() < 0.2 else w for w in words)
    low = sentence.lower()
    for kind, pattern in _PATTERNS:
        if pattern.search(sentence):
            assert _RULE_WORDS[kind](low), (kind, sentence)


def test_every_leaking_phrasing_contains_its_rules_words() -> None:
    for text, kind in LEAKING:
        if kind != "target_value":
            assert _RULE_WORDS[kind](text.lower()), text


_TEXT_WORDS = [*_RULE_VOCABULARY, "anger", "neutral", "0.6", "0.40", "Ärger", "“quoted", "words”", "."]
# Most traces have no rule's words and no number at all: a vocabulary without them, with one word that has.
_PLAIN_WORDS = ["The", "voice", "sounds", "calm,", "tense", "(flat)", "Ärger", "neutral", "0.6", "votes", "."]
_texts = st.one_of(
    st.lists(st.sampled_from(_TEXT_WORDS), min_size=1, max_size=8),
    st.lists(st.sampled_from(_PLAIN_WORDS[:-3]), min_size=1, max_size=6) | st.lists(st.sampled_from(_PLAIN_WORDS)),
).map(lambda words: " ".join(words) or "Flat.")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_texts, min_size=5, max_size=5),
    st.sampled_from(["", "Three people said it 0.6 times."]),
    st.sampled_from(["", "pitch z 0.40"]),
)
def test_a_trace_is_checked_as_each_of_its_texts_alone(texts: list[str], transcript: str, shown: str) -> None:
    """Looking a rule's words up once in the whole trace finds every leak the texts' own checks find, in order."""
    observation, summary, lexical, lexical_summary, explanation = texts
    trace = validate_trace(
        {
            "acoustic": {
                "cues": [{"cue": "pitch", "level": "high", "observation": observation, "suggests": []}],
                "summary": summary,
            },
            "lexical": {
                "cues": [{"cue": "wording", "observation": lexical, "suggests": []}],
                "summary": lexical_summary,
            },
            "ambiguity": {"level": "medium", "competing": ["neu", "ang"], "explanation": explanation},
            "distribution": TARGET,
        },
        list(TARGET),
        has_transcript=True,
    )
    alone = [leak for where, text in trace_texts(trace) for leak in find_leaks(text, TARGET, transcript, shown, where)]
    assert trace_leaks(trace, TARGET, transcript, shown) == alone
    written: list[str] = []  # what else the prompt showed: written once, if a text gets past the early return

    def write_shown() -> str:
        written.append(shown)
        return shown

    assert trace_leaks(trace, TARGET, transcript, write_shown) == alone
    assert len(written) <= 1
