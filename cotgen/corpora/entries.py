"""From what a corpus recipe read to utterance records: the steps every corpus shares.

Recipes (one module per corpus) only turn files into :class:`RawEntry` records or :class:`Dropped`
notes. :func:`assemble` then applies the rules that must be identical across corpora: ids that are safe
keys (:mod:`cotgen.core.ids`) and unique in NFC, the class set and its keep rule, the missing-audio policy,
and the vote mass -> distribution step, so a rule is written once and every dropped entry is accounted for
with its reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cotgen.core.errors import CotgenError
from cotgen.core.ids import id_problem, normal_id, shown_id
from cotgen.core.spool import Spool
from cotgen.corpora.classes import ClassSet, canonical_sort
from cotgen.corpora.dialogue import DialogueTurn, TurnIndex
from cotgen.corpora.out_of_set import NO_MAJORITY_REFERENCE, OutOfSetTally
from cotgen.corpora.summary import CorpusSummary, SummaryTally, summarize
from cotgen.records.utterance import VAD, Utterance, distribution_from_counts, majority_of

logger = logging.getLogger(__name__)

# Reasons an entry is dropped; the summary counts them.
DUPLICATE_ID = "duplicate id"
MISSING_AUDIO = "missing audio"
OUTSIDE_CLASS_SET = "label outside class set"
NO_VOTES = "no votes"
NO_VOTES_IN_SET = "no votes in class set"
MALFORMED_BLOCK = "malformed block"
MALFORMED_ROW = "malformed row"
UNKNOWN_LABEL = "unknown label"
INVALID_RECORD = "invalid record"
INVALID_ID = "invalid id"
ID_TWIN = "id twin"


@dataclass(frozen=True)
class Dropped:
    """A corpus entry that did not become an utterance: why, where (``file:line`` or id), and detail."""

    reason: str
    where: str
    detail: str = ""


@dataclass(frozen=True)
class RawEntry:
    """One utterance as a recipe read it, before class sets and distributions.

    ``reference`` is the corpus's own consensus label as a code (IEMOCAP's header label, MSP-Podcast's
    EmoClass, CREMA-D's intended emotion; ``xxx`` for no majority) or None; with a fixed class set an entry is
    kept only when its reference falls in the set, which is how the published benchmark subsets are defined
    (``--include-no-majority`` also keeps ``xxx``). Votes outside the set follow the class set's one rule
    (:mod:`cotgen.corpora.out_of_set`), whatever the reader.
    ``single_label`` marks corpora with one label per utterance (acted corpora, MELD): not ambiguity data.
    ``dialogue`` and ``turn`` place a conversational entry in its dialogue (:mod:`cotgen.corpora.dialogue`).
    """

    id: str
    where: str
    audio: Path
    vote_counts: Mapping[str, float]
    n_annotators: int
    votes: list[list[str]] | None = None
    reference: str | None = None
    speaker: str | None = None
    gender: str | None = None
    session: str | None = None
    transcript: str | None = None
    vad: VAD | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    single_label: bool = False
    dialogue: str | None = None
    turn: float | None = None


# What corpora write where they do not know the speaker (MSP-Podcast: "Unknown"), compared case-insensitively.
UNKNOWN_SPEAKERS = frozenset({"", "unknown", "na", "n/a", "none", "null", "-", "?"})


def known_speaker(speaker: str | None) -> str | None:
    """The speaker id, or None when the corpus says it does not know it.

    An "Unknown" kept as an id would make every such utterance one shared speaker: speaker splits would put
    them all in one group, and their cue levels would be measured against a pooled, mixed-gender "speaker".
    """
    if speaker is None or speaker.strip().lower() in UNKNOWN_SPEAKERS:
        return None
    return speaker.strip()


@dataclass
class CorpusLoad:
    """What loading a corpus produced: kept utterances, dropped entries with reasons, the class codes.

    ``folds`` maps every corpus code of the votes to the class it counts towards (agreement folds votes
    the same way); ``notes`` carries corpus-level facts the summary states (e.g. EMO-SUPERB's smoothing
    floor); ``turns`` indexes the dialogues for ``--context``; ``out_of_set`` what the votes outside the class
    set weighed and how the rule treated them (:class:`~cotgen.corpora.out_of_set.OutOfSetTally`).
    """

    corpus: str
    classes: list[str]
    utterances: Sequence[Utterance]  # a Spool when assembled: read back from disk one at a time
    dropped: list[Dropped]
    tally: SummaryTally
    missing_audio: list[str] = field(default_factory=list)
    folds: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    turns: TurnIndex = field(default_factory=lambda: TurnIndex({}, {}))
    out_of_set: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> CorpusSummary:
        """Counts for people: utterances kept, per-class mass and majorities, annotators, entropy, drops."""
        return summarize(self)


class AudioIndex:
    """Answers "does this audio file exist?" with one directory listing per folder, not one stat per file."""

    def __init__(self) -> None:
        self._listings: dict[str, frozenset[str]] = {}

    def exists(self, path: Path) -> bool:
        """True when ``path`` names an existing entry of its folder."""
        folder = str(path.parent)
        listing = self._listings.get(folder)
        if listing is None:
            try:
                listing = frozenset(os.listdir(folder))
            except (FileNotFoundError, NotADirectoryError):
                listing = frozenset()
            self._listings[folder] = listing
        return path.name in listing


def _outside_set(entry: RawEntry, class_set: ClassSet) -> str | None:
    """Why a fixed class set excludes this entry, or None when it is in."""
    members = ",".join(class_set.folds)
    kept_no_majority = class_set.no_majority and entry.reference == NO_MAJORITY_REFERENCE
    if entry.reference is not None and class_set.target(entry.reference) is None and not kept_no_majority:
        return f"reference label {entry.reference} not in {members}"
    if class_set.out_of_set == "drop-utterance":
        outside = [code for code, v in entry.vote_counts.items() if v > 0 and class_set.target(code) is None]
        return f"votes for {', '.join(outside)} not in {members} (--out-of-set drop-utterance)" if outside else None
    return None


def assemble(
    corpus: str,
    items: Iterable[RawEntry | Dropped],
    class_set: ClassSet,
    allow_missing_audio: bool = False,
    audio_index: AudioIndex | None = None,
) -> CorpusLoad:
    """Apply the shared rules to a recipe's output, in this order: unique id, any vote, class set, audio.

    Two passes, neither holding the corpus: the first reads the recipe once, checks ids and votes and keeps only
    the ids seen, the vote codes seen and the dialogue turns; the entries it keeps wait on disk (a
    :class:`~cotgen.core.spool.Spool`), because the class set (``all``: every code the corpus uses) is only
    known at the end. The second makes one utterance at a time from them, counts it into the summary and
    spools it: the load's ``utterances`` are read back from disk, in corpus order, by whoever needs them.
    """
    index = audio_index or AudioIndex()
    dropped: list[Dropped] = []
    candidates: Spool[RawEntry] = Spool()
    seen_ids: dict[str, str] = {}  # NFC id -> the spelling first read
    codes: dict[str, None] = {}  # every vote code of a kept entry, for an ``all`` class set
    voted: set[str] = set()  # the codes with a vote
    turns: list[tuple[str, DialogueTurn]] = []
    for item in items:
        if isinstance(item, Dropped):
            dropped.append(item)
            continue
        problem = id_problem(item.id)
        if problem is not None:
            dropped.append(Dropped(INVALID_ID, item.where, f"{shown_id(item.id)}: {problem}"))
            continue
        spelling = item.id
        if normal_id(spelling) != spelling:
            item = replace(item, id=normal_id(spelling))
        if item.id in seen_ids:
            if seen_ids[item.id] != spelling:
                # Two spellings of one name (NFC and NFD): one file on a normalising file system, one key here.
                dropped.append(Dropped(ID_TWIN, item.where, f"{item.id!r} spelt in another Unicode normal form"))
            else:
                dropped.append(Dropped(DUPLICATE_ID, item.where, item.id))
            continue
        seen_ids[item.id] = spelling
        if item.dialogue is not None and item.turn is not None and item.transcript:
            speaker = known_speaker(item.speaker)
            turns.append((item.dialogue, DialogueTurn(item.id, item.turn, speaker, item.transcript)))
        if not any(value > 0 for value in item.vote_counts.values()):
            dropped.append(Dropped(NO_VOTES, item.where, item.id))
            continue
        codes.update(dict.fromkeys(item.vote_counts))
        voted.update(code for code, value in item.vote_counts.items() if value > 0)
        candidates.append(item)
    del seen_ids

    unused = class_set.unused(voted) if candidates else []
    if unused and not class_set.given:
        # The corpus's default set on a part of the corpus (a session, a fixture): worth a word, not a stop.
        logger.warning(
            "%s: no entry votes for %s of the default class set %s", corpus, ", ".join(unused), class_set.spec
        )
    elif unused:
        raise CotgenError(
            f"--classes {class_set.spec}: {corpus} never uses {', '.join(unused)}; "
            f"the codes it uses are {', '.join(canonical_sort(voted))}"
        )
    resolved = class_set.resolve(codes)
    classes = list(resolved.codes or ())
    utterances: Spool[Utterance] = Spool()
    missing: list[str] = []
    tally = OutOfSetTally(class_set.out_of_set)
    counted = SummaryTally(classes, resolved.folds)
    for entry in candidates:
        if not class_set.is_all:
            tally.add(entry.vote_counts, resolved.folds)
        outside = None if class_set.is_all else _outside_set(entry, resolved)
        if outside is not None:
            dropped.append(Dropped(OUTSIDE_CLASS_SET, entry.where, f"{entry.id}: {outside}"))
            continue
        distribution = distribution_from_counts(resolved.project(entry.vote_counts), classes)
        if distribution is None:
            dropped.append(Dropped(NO_VOTES_IN_SET, entry.where, f"{entry.id}: no vote among {','.join(classes)}"))
            continue
        audio = Path(os.path.abspath(entry.audio))
        if not index.exists(audio):
            if not allow_missing_audio:
                dropped.append(Dropped(MISSING_AUDIO, entry.where, str(audio)))
                continue
            missing.append(entry.id)
        try:
            utt = Utterance(
                id=entry.id,
                corpus=corpus,
                audio=str(audio),
                speaker=known_speaker(entry.speaker),
                gender=entry.gender,
                session=entry.session,
                transcript=entry.transcript,
                votes=entry.votes,
                vote_counts=dict(entry.vote_counts),
                distribution=distribution,
                majority=majority_of(distribution),
                n_annotators=entry.n_annotators,
                vad=entry.vad,
                meta=entry.meta,
                single_label=entry.single_label,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            detail = f"{entry.id}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            dropped.append(Dropped(INVALID_RECORD, entry.where, detail))
            continue
        utterances.append(utt)
        counted.add(utt)
    candidates.close()
    for item in dropped:
        logger.debug("%s: dropped (%s) at %s: %s", corpus, item.reason, item.where, item.detail)
    return CorpusLoad(
        corpus=corpus,
        classes=classes,
        utterances=utterances,
        dropped=dropped,
        tally=counted,
        missing_audio=missing,
        folds=dict(resolved.folds),
        turns=TurnIndex.of(turns),
        out_of_set=tally.as_json() if not class_set.is_all else {},
    )
