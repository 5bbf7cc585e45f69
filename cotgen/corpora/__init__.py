"""Corpus recipes: emotion corpora on disk -> utterance records with human label distributions.

One small module per corpus reads files into raw entries; :mod:`cotgen.corpora.entries` applies the
shared rules (class sets, unique ids, missing audio) and :mod:`cotgen.corpora.registry` maps names and
roots to recipes. Other stages import :func:`load_corpus` and :func:`resolve_root` from here.
"""

import csv

from cotgen.corpora.entries import CorpusLoad, Dropped
from cotgen.corpora.registry import CORPORA, CorpusRecipe, canonical_name, load_corpus, resolve_root
from cotgen.corpora.summary import CorpusSummary

# Fields of any length: the csv module refuses a field over 131,072 characters by default (a long transcript, a
# distribution of many classes, a hostile cell) with a traceback; every corpus reader here reads through it.
csv.field_size_limit(2**31 - 1)

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
