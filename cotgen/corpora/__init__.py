"""Corpus recipes: emotion corpora on disk -> utterance records with human label distributions.

One small module per corpus reads files into raw entries; :mod:`cotgen.corpora.entries` applies the
shared rules (class sets, unique ids, missing audio) and :mod:`cotgen.corpora.registry` maps names and
roots to recipes. Other stages import :func:`load_corpus` and :func:`resolve_root` from here.
"""

from cotgen.corpora.entries import CorpusLoad, Dropped
from cotgen.corpora.registry import CORPORA, CorpusRecipe, canonical_name, load_corpus, resolve_root
from cotgen.corpora.summary import CorpusSummary

__all__ = [
    "CORPORA",
    "CorpusLoad",
    "CorpusRecipe",
    "CorpusSummary",
    "Dropped",
    "canonical_name",
    "load_corpus",
    "resolve_root",
]
