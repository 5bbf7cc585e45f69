"""What a build keeps of its corpus: a few compact columns, not one record per utterance.

The loaded corpus is written to ``utterances.jsonl`` and let go at once: at 100,000 utterances the
records take about 300 MB. The build keeps only what it needs for every utterance at the same time
(ids and audio paths for the features stage, speaker and gender for the cue references) as numpy
arrays, which live outside Python's small-object heap, so the heap pages the records used are
returned to the system. The records themselves are read back from ``utterances.jsonl`` one at a
time when they are taught.
"""

from __future__ import annotations

import logging
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cotgen.core.errors import CotgenError
from cotgen.core.id_index import IdColumnBuilder
from cotgen.corpora import load_corpus
from cotgen.corpora.dialogue import with_context
from cotgen.corpora.out_of_set import DEFAULT_RULE
from cotgen.records.utterance import Utterance, iter_utterances, write_utterances

UTTERANCES_FILE = "utterances.jsonl"

logger = logging.getLogger("cotgen.build.run")


class _Codes:
    """Values as indices into the list of distinct values (-1 for None), collected one value at a time."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.codes = array("i")

    def add(self, value: str | None) -> None:
        self.codes.append(-1 if value is None else self.names.setdefault(value, len(self.names)))

    def array(self) -> np.ndarray:
        return np.frombuffer(self.codes, dtype=np.int32).copy()


class _Collector:
    """The columns of a stream of utterances, gathered as each record passes (the record is not kept)."""

    def __init__(self) -> None:
        self.ids = IdColumnBuilder()
        self.speakers, self.genders = _Codes(), _Codes()
        self.with_context = 0

    def passing(self, utterances: Iterable[Utterance]) -> Iterator[Utterance]:
        """``utterances`` unchanged, each one's columns gathered on the way."""
        for u in utterances:
            self.ids.add(u.id)
            self.speakers.add(u.speaker)
            self.genders.add(u.gender)
            self.with_context += bool(u.context)
            yield u

    def columns(
        self, source: Path, corpus: str, classes: list[str], dropped: int, facts: dict[str, Any]
    ) -> CorpusColumns:
        return CorpusColumns(
            source=source,
            corpus=corpus,
            classes=list(classes),
            dropped=dropped,
            ids=self.ids.array(),
            speaker_codes=self.speakers.array(),
            speaker_names=list(self.speakers.names),
            gender_codes=self.genders.array(),
            gender_names=list(self.genders.names),
            facts=dict(facts),
        )


@dataclass(frozen=True)
class CorpusColumns:
    """The loaded corpus as columns in corpus order (the order of ``utterances.jsonl``), and its counts."""

    corpus: str
    classes: list[str]
    dropped: int
    source: Path  # the utterances.jsonl they were read from, which holds the rest of each record
    ids: np.ndarray  # UTF-8 bytes, fixed width (a quarter of numpy's fixed-width str)
    speaker_codes: np.ndarray  # int32 index into speaker_names, -1 when unknown
    speaker_names: list[str]
    gender_codes: np.ndarray  # int32 index into gender_names, -1 when unknown
    gender_names: list[str]
    facts: dict[str, Any] = field(default_factory=dict)  # agreement, single labels, notes (run.json)

    @classmethod
    def read(cls, source: Path) -> CorpusColumns:
        """The columns of a run's ``utterances.jsonl``, read one record at a time (corpus and classes: the first's)."""
        collector = _Collector()
        first: Utterance | None = None
        for utt in collector.passing(iter_utterances(source)):
            first = first or utt
        if first is None:
            raise CotgenError(f"{source}: no utterances")
        return collector.columns(source, first.corpus, first.classes, 0, {})

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def audio_items(self) -> Iterator[tuple[str, str]]:
        """(id, audio path) of every utterance, in corpus order, read back from :attr:`source`: the features
        stage's input. Not kept: paths are the longest column (100+ bytes per utterance in real corpora)."""
        return ((utt.id, utt.audio) for utt in iter_utterances(self.source))

    def position(self, utterance_id: str) -> int:
        """Where an utterance lies in corpus order; CotgenError when the corpus has no such id."""
        found = np.flatnonzero(self.ids == utterance_id.encode())
        if found.size == 0:
            raise CotgenError(f"corpus {self.corpus}: no utterance with id {utterance_id!r}")
        return int(found[0])


def load_columns(
    name: str,
    root: Path | None,
    classes: str | None,
    self_eval: bool,
    allow_missing_audio: bool,
    run_dir: Path,
    context: int = 0,
    out_of_set: str = DEFAULT_RULE,
    no_majority: bool = False,
) -> CorpusColumns:
    """Load a corpus, write ``run_dir/utterances.jsonl``, and keep only its columns (the records go).

    With ``context`` K > 0 every utterance of a dialogue carries its K previous turns (see
    :mod:`cotgen.corpora.dialogue`), so every later prompt (teacher, SFT, DPO, GRPO) quotes the same turns.
    """
    load = load_corpus(name, root, classes, self_eval, allow_missing_audio, out_of_set, no_majority)
    if not load.utterances:
        raise CotgenError(f"corpus {load.corpus}: no utterance left after loading ({len(load.dropped)} dropped)")
    logger.info(
        "corpus %s: %d utterances, %d dropped, classes %s",
        load.corpus,
        len(load.utterances),
        len(load.dropped),
        ",".join(load.classes),
    )
    if load.dropped:
        # On the terminal too: a build that quietly trains on 14 of 24 utterances is how a typo goes unseen.
        reasons = Counter(item.reason for item in load.dropped)
        logger.warning(
            "corpus %s: %d of %d entries dropped (%s); cotgen corpus lists each with its file and line",
            load.corpus,
            len(load.dropped),
            len(load.dropped) + len(load.utterances),
            ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()),
        )
    facts = load.summary().facts()
    # One record at a time from the load's spool, through the context, into the file and the columns.
    collector = _Collector()
    source = run_dir / UTTERANCES_FILE
    write_utterances(source, collector.passing(with_context(load.utterances, load.turns, context)))
    if context > 0:
        facts["context"] = {"turns": context, "with_context": collector.with_context}
    return collector.columns(source, load.corpus, load.classes, len(load.dropped), facts)
