"""Mapping columns of a training row read back whatever shape the data library handed them over in.

A GRPO or SFT row's ``label_words`` and ``cue_levels`` reach a reward function or a trainer as a dict (TRL, plain
JSON), as an Arrow struct whose absent keys are filled with None (``datasets``), or as JSON text (ms-swift's
columns, CSV round trips). One reader takes all three, so every consumer refuses the same malformed value with
the same message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def mapping_column(
    value: Any, column: str, maps: str, error: type[ValueError] = ValueError
) -> Mapping[Any, Any] | None:
    """``value`` as a mapping, None when the row has none; ``error`` names ``column`` and what it should map."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise error(f"{column} is not JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise error(f"{column} must map {maps}, got {type(value).__name__}")
    return value
