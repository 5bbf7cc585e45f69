"""Train/validation/test assignment of utterances, never letting a speaker straddle two splits.

Emotion recognisers learn voices as readily as emotions, so a speaker seen in training inflates
test scores; every protocol here keeps speakers disjoint and :func:`assign_splits` refuses an
assignment that leaks one. Three protocols (issue 6):

- ``loso:K``: leave-one-session-out (IEMOCAP's protocol): session K is the test set and the next
  session, cyclically in sorted order, the validation set;
- ``speaker:V,T`` with a seed: whole speakers drawn at random until the validation and test sets
  hold shares V and T of the utterances;
- ``corpus``: the corpus's own partition, read from ``session`` (MSP-Podcast's Split_Set:
  Train → train, Development → validation, Test* → test).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cotgen.errors import CotgenError
from cotgen.utterance import Utterance

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SplitKind = Literal["loso", "speaker", "corpus"]
DEFAULT_SPLITS: dict[str, str] = {"iemocap": "loso:5", "msp-podcast": "corpus"}
FALLBACK_SPLIT = "speaker:0.1,0.1"


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``--split`` value."""

    kind: SplitKind
    test_session: str | None = None
    validation_share: float = 0.0
    test_share: float = 0.0
    seed: int = 0

    def describe(self) -> str:
        """The spec as the user would type it (recorded in run.json and the dataset card)."""
        if self.kind == "loso":
            return f"loso:{self.test_session}"
        if self.kind == "speaker":
            return f"speaker:{self.validation_share:g},{self.test_share:g} --seed {self.seed}"
        return "corpus"


def default_split(corpus: str) -> str:
    """The protocol each corpus is usually reported with; speaker-disjoint shares otherwise."""
    return DEFAULT_SPLITS.get(corpus.lower(), FALLBACK_SPLIT)


def parse_split(text: str, seed: int = 0) -> SplitSpec:
    """Parse ``loso:K``, ``speaker:V,T`` or ``corpus``; a malformed value says what was expected."""
    kind, _, arg = text.strip().partition(":")
    if kind == "corpus" and not arg:
        return SplitSpec(kind="corpus")
    if kind == "loso" and arg.strip():
        return SplitSpec(kind="loso", test_session=arg.strip())
    if kind == "speaker":
        parts = arg.split(",")
        try:
            val, test = (float(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            val = test = None
        if val is not None and test is not None and val >= 0 and test >= 0 and val + test < 1:
            return SplitSpec(kind="speaker", validation_share=val, test_share=test, seed=seed)
        raise CotgenError(f"--split {text!r}: expected speaker:V,T with shares V, T >= 0 and V + T < 1")
    raise CotgenError(f"--split {text!r}: expected loso:K, speaker:V,T or corpus")


def _session_key(session: str) -> tuple[int, float, str]:
    """Sort sessions numerically when they are numbers ("2" before "10"), else by name."""
    try:
        return (0, float(session), session)
    except ValueError:
        return (1, 0.0, session)


def _loso(utterances: Sequence[Utterance], test_session: str) -> dict[str, str]:
    missing = [u.id for u in utterances if u.session is None]
    if missing:
        raise CotgenError(f"--split loso: utterance {missing[0]} has no session (use --split speaker:V,T)")
    sessions = sorted({u.session for u in utterances if u.session is not None}, key=_session_key)
    if test_session not in sessions:
        raise CotgenError(f"--split loso:{test_session}: no such session (sessions: {', '.join(sessions)})")
    if len(sessions) < 2:
        raise CotgenError("--split loso needs at least two sessions")
    validation = sessions[(sessions.index(test_session) + 1) % len(sessions)]
    names = {test_session: "test", validation: "validation"}
    return {u.id: names.get(u.session or "", "train") for u in utterances}


def _speaker_group(utt: Utterance) -> str:
    # An utterance without a speaker id forms its own group: it cannot leak a speaker we know of.
    return utt.speaker if utt.speaker is not None else f"\0{utt.id}"


def _by_speaker(utterances: Sequence[Utterance], spec: SplitSpec) -> dict[str, str]:
    sizes = Counter(_speaker_group(u) for u in utterances)
    groups = sorted(sizes)
    random.Random(spec.seed).shuffle(groups)
    total = len(utterances)
    chosen: dict[str, str] = {}
    remaining = iter(groups)
    for split, share in (("test", spec.test_share), ("validation", spec.validation_share)):
        target = share * total
        filled = 0
        while filled < target:
            group = next(remaining, None)
            if group is None:
                raise CotgenError(f"--split {spec.describe()}: too few speakers ({len(groups)}) to leave any to train")
            chosen[group] = split
            filled += sizes[group]
    if len(chosen) == len(groups):
        raise CotgenError(f"--split {spec.describe()}: too few speakers ({len(groups)}) to leave any to train")
    return {u.id: chosen.get(_speaker_group(u), "train") for u in utterances}


def _corpus_partition(utterances: Sequence[Utterance]) -> dict[str, str]:
    assignment = {}
    for utt in utterances:
        part = (utt.session or "").strip()
        if part == "Train":
            assignment[utt.id] = "train"
        elif part in ("Development", "Validation"):
            assignment[utt.id] = "validation"
        elif part.startswith("Test"):
            assignment[utt.id] = "test"
        else:
            raise CotgenError(
                f"--split corpus: utterance {utt.id} has partition {utt.session!r}; "
                "expected Train, Development or Test* in its session field"
            )
    return assignment


def leaking_speakers(utterances: Sequence[Utterance], assignment: Mapping[str, str]) -> list[str]:
    """Speakers whose utterances fall in more than one split (utterances without a speaker are ignored)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for utt in utterances:
        if utt.speaker is not None and utt.id in assignment:
            seen[utt.speaker].add(assignment[utt.id])
    return sorted(speaker for speaker, splits in seen.items() if len(splits) > 1)


def assign_splits(utterances: Sequence[Utterance], spec: SplitSpec) -> dict[str, str]:
    """Utterance id -> ``train``, ``validation`` or ``test``; raises when a speaker would straddle splits."""
    if spec.kind == "loso":
        assignment = _loso(utterances, spec.test_session or "")
    elif spec.kind == "speaker":
        assignment = _by_speaker(utterances, spec)
    else:
        assignment = _corpus_partition(utterances)
    leaks = leaking_speakers(utterances, assignment)
    if leaks:
        raise CotgenError(
            f"--split {spec.describe()}: speakers in more than one split: {', '.join(leaks[:5])} "
            "(use --split speaker:V,T for a speaker-disjoint split)"
        )
    return assignment
