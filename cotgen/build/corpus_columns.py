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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cotgen.core.errors import CotgenError
from cotgen.corpora import load_corpus
from cotgen.corpora.dialogue import with_context
from cotgen.corpora.out_of_set import DEFAULT_RULE
from cotgen.records.utterance import Utterance, write_utterances

UTTERANCES_FILE = "utterances.jsonl"

logger = logging.getLogger("cotgen.build.run")


def _codes(values: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Each value as an index into the list of distinct values (-1 for None)."""
    names: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if value is None else names.setdefault(value, len(names)) for value in values),
        dtype=np.int32,
        count=len(values),
    )
    return codes, list(names)


@dataclass(frozen=True)
class CorpusColumns:
    """The loaded corpus as columns in corpus order (the order of ``utterances.jsonl``), and its counts."""

    corpus: str
    classes: list[str]
    dropped: int
    ids: np.ndarray  # UTF-8 bytes, fixed width (a quarter of numpy's fixed-width str)
    audio: np.ndarray  # UTF-8 bytes, fixed width
    speaker_codes: np.ndarray  # int32 index into speaker_names, -1 when unknown
    speaker_names: list[str]
    gender_codes: np.ndarray  # int32 index into gender_names, -1 when unknown
    gender_names: list[str]
    facts: dict[str, Any] = field(default_factory=dict)  # agreement, single labels, notes (run.json)

    @classmethod
    def of(
        cls,
        corpus: str,
        classes: list[str],
        dropped: int,
        utterances: Sequence[Utterance],
        facts: dict[str, Any] | None = None,
    ) -> CorpusColumns:
        speakers, speaker_names = _codes([u.speaker for u in utterances])
        genders, gender_names = _codes([u.gender for u in utterances])
        return cls(
            corpus=corpus,
            classes=list(classes),
            dropped=dropped,
            ids=np.array([u.id.encode() for u in utterances], dtype=bytes),
            audio=np.array([u.audio.encode() for u in utterances], dtype=bytes),
            speaker_codes=speakers,
            speaker_names=speaker_names,
            gender_codes=genders,
            gender_names=gender_names,
            facts=dict(facts or {}),
        )

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def audio_items(self) -> list[tuple[str, str]]:
        """(id, audio path) of every utterance, in corpus order: the features stage's input."""
        return [(i.decode(), a.decode()) for i, a in zip(self.ids.tolist(), self.audio.tolist())]

    def speakers(self) -> list[str | None]:
        """The speaker of every utterance (None when unknown), in corpus order."""
        return [self.speaker_names[c] if c >= 0 else None for c in self.speaker_codes.tolist()]

    def genders(self) -> list[str | None]:
        """The gender of every utterance (None when unknown), in corpus order."""
        return [self.gender_names[c] if c >= 0 else None for c in self.gender_codes.tolist()]

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
    utterances = with_context(load.utterances, load.turns, context)
    write_utterances(run_dir / UTTERANCES_FILE, utterances)
    facts = load.summary().facts()
    if context > 0:
        facts["context"] = {"turns": context, "with_context": sum(1 for u in utterances if u.context)}
    return CorpusColumns.of(load.corpus, load.classes, len(load.dropped), utterances, facts)
