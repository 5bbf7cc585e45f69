"""Dialogue context: the turns that came before an utterance in the same conversation.

Listeners of conversational corpora (IEMOCAP, MELD, MSP-Podcast) heard each turn after the ones before
it, so a prompt may quote the K previous turns (``cotgen build --context K``). Recipes give each raw entry
its dialogue and a sortable position in it (start time or utterance number); the turns are indexed from
*every* entry a recipe read, before class sets, drops for missing audio or anything else, because a turn
that is out of the class set was still heard by the annotators of the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from cotgen.records.utterance import ContextTurn, Utterance


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """One transcribed turn: its utterance id, position in the dialogue, speaker and words (slots: a corpus
    the size of MSP-Podcast holds one per utterance)."""

    id: str
    position: float
    speaker: str | None
    transcript: str


@dataclass(frozen=True)
class TurnIndex:
    """Every dialogue's transcribed turns in order, and where each utterance id sits."""

    dialogues: Mapping[str, Sequence[DialogueTurn]]
    where: Mapping[str, tuple[str, int]]  # utterance id -> (dialogue, index of its turn)

    @classmethod
    def of(cls, turns: Iterable[tuple[str, DialogueTurn]]) -> TurnIndex:
        """Index (dialogue, turn) pairs; turns are ordered by position, then id (a stable tie-break)."""
        grouped: dict[str, list[DialogueTurn]] = {}
        for dialogue, turn in turns:
            grouped.setdefault(dialogue, []).append(turn)
        where: dict[str, tuple[str, int]] = {}
        for dialogue, listed in grouped.items():
            listed.sort(key=lambda turn: (turn.position, turn.id))
            for i, turn in enumerate(listed):
                where[turn.id] = (dialogue, i)
        return cls(grouped, where)

    def previous(self, utterance_id: str, k: int) -> list[DialogueTurn]:
        """The up to ``k`` turns before ``utterance_id`` in its dialogue, oldest first; [] outside any dialogue."""
        found = self.where.get(utterance_id)
        if found is None or k <= 0:
            return []
        dialogue, index = found
        return list(self.dialogues[dialogue][max(0, index - k) : index])


EMPTY = TurnIndex({}, {})


def with_context(utterances: Iterable[Utterance], index: TurnIndex, k: int) -> Iterator[Utterance]:
    """The utterances with ``context`` set to their ``k`` previous turns (unchanged when ``k`` is 0), one at a time.

    An utterance in a dialogue but at its start gets an empty list (context asked for, none before it);
    one outside any dialogue keeps None, so prompts say nothing about context for it. Lazy: a build streams
    its corpus through it into ``utterances.jsonl`` without holding the records.
    """
    for utt in utterances:
        if k <= 0 or utt.id not in index.where:
            yield utt
            continue
        turns = [ContextTurn(speaker=t.speaker, transcript=t.transcript) for t in index.previous(utt.id, k)]
        yield utt.model_copy(update={"context": turns})
