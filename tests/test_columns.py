"""One reader for mapping columns: a dict, a None-filled Arrow struct or JSON text read alike; bad values named."""

from __future__ import annotations

import pytest

from cotgen.records.answer import AnswerContractError, read_label_words
from cotgen.records.columns import mapping_column
from cotgen.scoring.reasoning_rewards import read_cue_levels


@pytest.mark.parametrize("value", [{"pitch": "high", "pauses": None}, '{"pitch": "high", "pauses": null}'])
def test_the_shapes_data_libraries_hand_over_read_alike(value: object) -> None:
    assert read_cue_levels(value) == {"pitch": "high", "pauses": None}
    assert read_label_words({"neu": "neutral", "ang": None}) == read_label_words('{"neu": "neutral"}')


def test_a_missing_column_is_none_and_a_malformed_one_is_named() -> None:
    assert mapping_column(None, "cue_levels", "cue to level") is None
    with pytest.raises(ValueError, match="cue_levels is not JSON"):
        read_cue_levels("{pitch")
    with pytest.raises(AnswerContractError, match="label_words must map class code to word, got list"):
        read_label_words(["neu"])
