"""Acoustic features: Praat prosody and voice quality per utterance, and speaker-relative cues in words.

Public API (see the README's features section):

- :func:`extract_features` — (id, audio path) pairs -> one row per item (``id``, FEATURE_COLUMNS, ``error``).
- :func:`run_features_stage` — utterances -> ``features.parquet`` in a run folder, through the shared cache.
- :func:`speaker_cues` / :class:`CueReferences` / :class:`CueProfile` / :data:`CUE_FEATURES` — levels and
  z-scores per cue.
- :func:`verbalise` — a cue profile as the short phrase quoted in teacher prompts.

The cue maths (numpy only) is imported here; the table and extraction names are resolved on first
use (PEP 562), because importing any submodule runs this file first: importing them here would load
pandas and pyarrow (about 80 MB) into every process that only needs the cues, including each feature
worker and a build before its corpus is loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cotgen.acoustics.cues import CUE_FEATURES, CueProfile, CueReferences, speaker_cues
from cotgen.acoustics.settings import EXTRACTOR_VERSION, FEATURE_COLUMNS, AnalysisSettings
from cotgen.acoustics.verbalise import cue_phrases, verbalise

_LAZY = {
    "extract_features": "parallel",
    "run_features_stage": "stage",
    "FEATURES_FILE": "table",
    "read_features": "table",
    "write_features": "table",
}

__all__ = [
    "CUE_FEATURES",
    "EXTRACTOR_VERSION",
    "FEATURES_FILE",
    "FEATURE_COLUMNS",
    "AnalysisSettings",
    "CueProfile",
    "CueReferences",
    "cue_phrases",
    "extract_features",
    "read_features",
    "run_features_stage",
    "speaker_cues",
    "verbalise",
    "write_features",
]

if TYPE_CHECKING:
    from cotgen.acoustics.parallel import extract_features
    from cotgen.acoustics.stage import run_features_stage
    from cotgen.acoustics.table import FEATURES_FILE, read_features, write_features


def __getattr__(name: str) -> Any:
    submodule = _LAZY.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
