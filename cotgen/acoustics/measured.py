"""The measured cue levels of a run's utterances, re-derived from its ``features.parquet`` as the build derived them.

Why here: the build, the review page and the GRPO records (whose cue-faithfulness reward compares a rollout's
claimed levels with these) must read one derivation — speaker, gender and corpus references over every measured
row (:class:`~cotgen.acoustics.cues.CueReferences`) — so a level can never mean one thing in a reward and another
on the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cotgen.acoustics.cues import CUE_FEATURES, CueProfile, CueReferences
from cotgen.acoustics.settings import FEATURE_COLUMNS
from cotgen.acoustics.table import FEATURES_FILE, read_features
from cotgen.records.utterance import Utterance


class MeasuredCues:
    """The cue profile of every measured utterance of a run, derived one utterance at a time."""

    def __init__(self, features: Any, speakers: dict[str, tuple[str | None, str | None]]) -> None:
        ids = [str(i) for i in features["id"]]
        self._position = {utterance_id: n for n, utterance_id in enumerate(ids)}
        self._values = features[FEATURE_COLUMNS].to_numpy(dtype=float)
        columns = {feature: self._values[:, FEATURE_COLUMNS.index(feature)] for feature in CUE_FEATURES.values()}
        who = [speakers.get(i, (None, None)) for i in ids]
        self._references = CueReferences.of(columns, [s for s, _ in who], [g for _, g in who])

    @classmethod
    def of_run(cls, run_dir: Path, speakers: dict[str, tuple[str | None, str | None]]) -> MeasuredCues | None:
        """The run's measured cues (``speakers``: id -> speaker and gender), or None without ``features.parquet``."""
        path = run_dir / FEATURES_FILE
        return cls(read_features(path), speakers) if path.exists() else None

    def profile(self, utterance: Utterance) -> CueProfile | None:
        """The utterance's measured cues; None when it has no feature row."""
        at = self._position.get(utterance.id)
        if at is None:
            return None
        values = dict(zip(FEATURE_COLUMNS, self._values[at]))
        return self._references.profile(values, utterance.speaker, utterance.gender)
