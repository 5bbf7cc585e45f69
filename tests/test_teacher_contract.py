"""docs/teacher-contract.md shows the answer asked for: each example on the page is a valid trace as it stands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cotgen.build.outcome import wrong_shape
from cotgen.records.trace import response_schema, validate_trace

PAGE = Path(__file__).resolve().parent.parent / "docs" / "teacher-contract.md"
CLASSES = ["neu", "hap", "ang", "sad"]
EXAMPLES = re.findall(r"```json\n(.*?)\n```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_page_shows_one_example_per_mode() -> None:
    assert len(EXAMPLES) == 2


@pytest.mark.parametrize("example", EXAMPLES, ids=["rationalize", "predict"])
def test_each_example_is_a_valid_trace_in_the_right_shape(example: str) -> None:
    assert wrong_shape(example, CLASSES) is None
    trace = validate_trace(example, CLASSES, has_transcript=True)
    assert list(json.loads(example)) == ["acoustic", "lexical", "ambiguity", "distribution"]
    assert set(trace.distribution) == set(CLASSES)
    # The structured-outputs schema the request carries names the same four keys, in the same order.
    assert list(response_schema(CLASSES)["properties"]) == list(json.loads(example))
