"""Acoustic features: Praat prosody and voice quality per utterance, and speaker-relative cues in words.

Public API (see the README's features section):

- :func:`extract_features` — (id, audio path) pairs -> one row per item (``id``, FEATURE_COLUMNS, ``error``).
- :func:`run_features_stage` — utterances -> ``features.parquet`` in a run folder, through the shared cache.
- :func:`speaker_cues` / :class:`CueProfile` / :data:`CUE_FEATURES` — levels and z-scores per cue.
- :func:`verbalise` — a cue profile as the short phrase quoted in teacher prompts.
"""

from cotgen.acoustics.cues import CUE_FEATURES, CueProfile, speaker_cues
from cotgen.acoustics.parallel import extract_features
from cotgen.acoustics.settings import EXTRACTOR_VERSION, FEATURE_COLUMNS, AnalysisSettings
from cotgen.acoustics.stage import run_features_stage
from cotgen.acoustics.table import FEATURES_FILE, read_features, write_features
from cotgen.acoustics.verbalise import cue_phrases, verbalise

__all__ = [
    "CUE_FEATURES",
    "EXTRACTOR_VERSION",
    "FEATURES_FILE",
    "FEATURE_COLUMNS",
    "AnalysisSettings",
    "CueProfile",
    "extract_features",
    "read_features",
    "run_features_stage",
    "speaker_cues",
    "cue_phrases",
    "verbalise",
    "write_features",
]
