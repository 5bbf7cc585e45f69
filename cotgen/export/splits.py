"""Train/validation/test assignment of utterances, never letting a speaker straddle two splits.

Emotion recognisers learn voices as readily as emotions, so a speaker seen in training inflates
test scores; every protocol here keeps speakers disjoint and :func:`assign_splits` refuses an
assignment that leaks one. Four protocols:

- ``loso:K``: leave-one-session-out (IEMOCAP's protocol, as EmoBox's folds define it): session K is
  the test set and every other session trains;
- ``folds:N:K``: speaker folds (CREMA-D's default protocol, ``folds:5``): the known speakers, sorted
  (numerically where they are numbers), are dealt round-robin into N folds of disjoint speakers;
  fold K is the test set and the other N-1 folds train. Deterministic: no seed;
- ``speaker:V,T`` with a seed: whole speakers drawn at random until the validation and test sets
  hold shares V and T of the utterances;
- ``corpus``: the corpus's own partition, read from ``session`` (MSP-Podcast's Split_Set:
  Train → train, Development → validation, Test* → test).

``loso:all`` and ``folds:N`` name every fold of a protocol at once (:func:`fold_specs`): the
export writes one folder per fold, so a cross-validated experiment is one command.

A fold has no validation set by default: the published protocols train on everything that is not
tested, and taking a whole session or fold from training for validation (as cotgen once did) leaves
a fold that is not comparable with the literature. ``+val:S`` after a ``loso`` or ``folds`` spec
(``loso:all+val:0.1``) is the explicit alternative: whole training speakers, drawn with ``--seed``,
until they hold share S of the training utterances. :func:`protocol_description` says in words what
a spec does (export.json, folds.json and the dataset card carry it).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from cotgen.core.errors import CotgenError
from cotgen.core.id_index import IdIndex, IdIndexBuilder
from cotgen.records.utterance import Utterance

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SplitKind = Literal["loso", "speaker", "corpus", "folds"]
DEFAULT_SPLITS: dict[str, str] = {
    "iemocap": "loso:5",
    "msp-podcast": "corpus",
    "msp-improv": "loso:6",
    "emo-superb": "corpus",
    "crema-d": "folds:5:1",
    "meld": "corpus",
    "esd": "corpus",
}
# Corpora whose published split puts the same speakers in train and test (MELD's recurring TV characters, ESD's
# speakers recorded in every partition). ``--split corpus`` reproduces their benchmark as published and says how
# many speakers it shares instead of refusing; ``speaker:V,T`` or ``folds:N`` give speaker-independent results.
SPEAKER_SHARING_CORPORA = frozenset({"meld", "esd"})
FALLBACK_SPLIT = "speaker:0.1,0.1"
logger = logging.getLogger(__name__)
ALL_FOLDS = "all"
MIN_FOLDS = 2  # a test fold and at least one to train on
VALIDATION_SUFFIX = "+val:"


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``--split`` value."""

    kind: SplitKind
    test_session: str | None = None
    validation_share: float = 0.0
    test_share: float = 0.0
    seed: int = 0
    folds: int = 0
    fold: int = 0

    def describe(self) -> str:
        """The spec as the user would type it (recorded in run.json and the dataset card)."""
        validation = f"{VALIDATION_SUFFIX}{self.validation_share:g} --seed {self.seed}" if self.validation_share else ""
        if self.kind == "loso":
            return f"loso:{self.test_session}{validation}"
        if self.kind == "folds":
            return f"folds:{self.folds}:{self.fold}{validation}"
        if self.kind == "speaker":
            return f"speaker:{self.validation_share:g},{self.test_share:g} --seed {self.seed}"
        return "corpus"


# A split holding more than this many times the share asked of it is reported: speakers (or sessions) are kept
# whole, so a small corpus cannot honour small shares, and the user must hear it before training on the result.
SHARE_SLACK = 2.0


def requested_shares(spec: SplitSpec) -> dict[str, float]:
    """The share of utterances ``spec`` asks each split for, where it asks for one (speaker:V,T and +val:V)."""
    if spec.kind == "speaker":
        return {"validation": spec.validation_share, "test": spec.test_share}
    return {"validation": spec.validation_share} if spec.validation_share else {}


def split_warnings(spec: SplitSpec, sizes: Mapping[str, int]) -> list[str]:
    """What a split assignment did not give: a split with more than twice its requested share, an empty split.

    Pure: the sizes are :meth:`SplitAssignment.sizes`. Each warning is one line naming the split, its size, the share
    asked and what to do.
    """
    total = sum(sizes.values())
    if not total:
        return []
    shares = requested_shares(spec)
    warnings = []
    for name in SPLITS:
        size = sizes.get(name, 0)
        asked = shares.get(name)
        expected = asked if name != "train" else 1.0
        if name == "test" and spec.kind != "speaker":
            expected = 1.0  # a fold, a session or the corpus's own test split: never meant to be empty
        if size == 0 and expected:
            warnings.append(
                f"split {spec.describe()}: {name} is empty (0 of {total} utterances); "
                "its files are not written, choose another --split or more speakers"
            )
        elif asked is not None and size / total > SHARE_SLACK * asked:
            warnings.append(
                f"split {spec.describe()}: {name} holds {size} of {total} utterances ({size / total:.0%}), more than "
                f"twice the {asked:.0%} asked, because whole speakers (or sessions) go to one split; "
                "use a larger corpus or other shares"
            )
    return warnings


def default_split(corpus: str) -> str:
    """The one split a corpus is exported with by default: a fold of its protocol; speaker-disjoint shares otherwise."""
    return DEFAULT_SPLITS.get(corpus.lower(), FALLBACK_SPLIT)


def is_all_folds(text: str) -> bool:
    """Whether ``--split`` names every fold of a protocol (``loso:all``, ``folds:N``) rather than one split."""
    kind, _, arg = _without_validation(text)[0].partition(":")
    return (kind == "loso" and arg.strip() == ALL_FOLDS) or (kind == "folds" and ":" not in arg)


def _without_validation(text: str) -> tuple[str, str | None]:
    """``loso:all+val:0.1`` -> (``loso:all``, ``0.1``); no suffix -> (text, None)."""
    base, found, share = text.strip().partition(VALIDATION_SUFFIX)
    return base.strip(), (share.strip() if found else None)


def _validation_share(text: str, share: str | None) -> float:
    """The ``+val:S`` share of the training utterances; 0 without the suffix."""
    if share is None:
        return 0.0
    try:
        value = float(share)
    except ValueError:
        value = -1.0
    if 0 < value < 1:
        return value
    raise CotgenError(
        f"--split {text!r}: expected {VALIDATION_SUFFIX}S with 0 < S < 1 (the share of the training utterances "
        "held out for validation, whole speakers), or no suffix for no validation set"
    )


def _parse_folds(text: str, arg: str) -> SplitSpec:
    """``folds:N:K`` (one fold) or ``folds:N`` (every fold; ``fold`` 0 stands for all)."""
    count, _, which = arg.partition(":")
    try:
        folds = int(count)
        fold = int(which) if which else 0
    except ValueError:
        folds = fold = -1
    if folds >= MIN_FOLDS and (0 <= fold <= folds) and (fold >= 1 or not which):
        return SplitSpec(kind="folds", folds=folds, fold=fold)
    raise CotgenError(
        f"--split {text!r}: expected folds:N (every fold) or folds:N:K with N >= {MIN_FOLDS}, 1 <= K <= N"
    )


def parse_split(text: str, seed: int = 0) -> SplitSpec:
    """Parse ``loso:K``, ``folds:N:K`` (each optionally ``+val:S``), ``speaker:V,T`` or ``corpus``.

    A malformed value says what was expected.
    """
    base, share = _without_validation(text)
    kind, _, arg = base.partition(":")
    if share is not None and kind not in ("loso", "folds"):
        raise CotgenError(f"--split {text!r}: {VALIDATION_SUFFIX}S follows a loso or folds spec only")
    validation = _validation_share(text, share)
    if kind == "folds":
        spec = _parse_folds(text, arg)
        return replace(spec, validation_share=validation, seed=seed if validation else 0)
    if kind == "loso" and arg.strip():
        return SplitSpec(
            kind="loso", test_session=arg.strip(), validation_share=validation, seed=seed if validation else 0
        )
    if kind == "corpus" and not arg:
        return SplitSpec(kind="corpus")
    if kind == "speaker":
        parts = arg.split(",")
        try:
            val, test = (float(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            val = test = None
        if val is not None and test is not None and val >= 0 and test >= 0 and val + test < 1:
            return SplitSpec(kind="speaker", validation_share=val, test_share=test, seed=seed)
        raise CotgenError(f"--split {text!r}: expected speaker:V,T with shares V, T >= 0 and V + T < 1")
    raise CotgenError(f"--split {text!r}: expected loso:K, loso:all, folds:N[:K], speaker:V,T or corpus")


def _session_key(session: str) -> tuple[int, float, str]:
    """Sort sessions numerically when they are numbers ("2" before "10"), else by name."""
    try:
        return (0, float(session), session)
    except ValueError:
        return (1, 0.0, session)


class SplitAssignment(Mapping[str, str]):
    """Utterance id -> ``train``, ``validation`` or ``test``, held as an :class:`IdIndex` of split numbers."""

    def __init__(self, index: IdIndex) -> None:
        self.index = index
        self.shared_speakers = 0  # speakers in more than one split: only a speaker-sharing corpus's own partition

    def __getitem__(self, utterance_id: str) -> str:
        code = self.index.get(utterance_id)
        if code is None:
            raise KeyError(utterance_id)
        return SPLITS[int(code)]

    def __iter__(self) -> Iterator[str]:
        return (raw.decode("utf-8") for raw in self.index.ids)

    def __len__(self) -> int:
        return len(self.index)

    def sizes(self) -> dict[str, int]:
        """Utterances per split, every split named (0 where empty)."""
        counts = np.bincount(self.index.values, minlength=len(SPLITS))
        return {name: int(n) for name, n in zip(SPLITS, counts)}


@dataclass
class _Catalogue:
    """What a split protocol needs of each utterance, in file order: id, speaker and session as numbers."""

    ids: np.ndarray
    speaker_codes: np.ndarray
    session_codes: np.ndarray
    speakers: list[str]
    sessions: list[str]

    def first_id(self, mask: np.ndarray) -> str:
        """The id of the first utterance (file order) where ``mask`` holds."""
        return self.ids[int(np.argmax(mask))].decode("utf-8")


_CODES = np.dtype([("speaker", np.int32), ("session", np.int32)])


def _catalogue(utterances: Iterable[Utterance]) -> _Catalogue:
    speakers: dict[str, int] = {}
    sessions: dict[str, int] = {}
    builder = IdIndexBuilder(_CODES)
    for utt in utterances:
        speaker = -1 if utt.speaker is None else speakers.setdefault(utt.speaker, len(speakers))
        session = -1 if utt.session is None else sessions.setdefault(utt.session, len(sessions))
        builder.add(utt.id, (speaker, session))
    ids, codes = builder.arrays()
    return _Catalogue(ids, codes["speaker"], codes["session"], list(speakers), list(sessions))


def _sorted_sessions(cat: _Catalogue, text: str) -> list[str]:
    """Every session, sorted; an error when an utterance has none or there are fewer than two."""
    if (cat.session_codes < 0).any():
        missing = cat.first_id(cat.session_codes < 0)
        raise CotgenError(f"--split {text}: utterance {missing} has no session (use --split folds:N)")
    sessions = sorted(cat.sessions, key=_session_key)
    if len(sessions) < 2:
        raise CotgenError(
            f"--split {text}: leave-one-session-out needs at least two sessions, found {len(sessions)} "
            "(use --split folds:N for speaker folds)"
        )
    return sessions


def _loso(cat: _Catalogue, spec: SplitSpec) -> np.ndarray:
    """Session K is the test set; every other session trains (EmoBox's IEMOCAP folds)."""
    sessions = _sorted_sessions(cat, spec.describe())
    if spec.test_session not in sessions:
        raise CotgenError(f"--split {spec.describe()}: no such session (sessions: {', '.join(sessions)})")
    per_session = np.array(
        [SPLITS.index("test" if s == spec.test_session else "train") for s in cat.sessions], dtype=np.int8
    )
    return per_session[cat.session_codes]


def _sorted_speakers(cat: _Catalogue) -> list[str]:
    """The known speakers in a fixed order: numerically where they are numbers (CREMA-D's 1001...), else by name."""
    return sorted(cat.speakers, key=_session_key)


def _speaker_folds(cat: _Catalogue, spec: SplitSpec) -> np.ndarray:
    """Fold K of N speaker folds is the test set; the other N-1 folds train.

    Speakers are dealt round-robin in sorted order, so folds differ in size by at most one speaker and
    the assignment depends on nothing but the speaker ids. Utterances without a speaker cannot be kept
    apart from anyone, so they always train.
    """
    speakers = _sorted_speakers(cat)
    if len(speakers) < spec.folds:
        raise CotgenError(
            f"--split {spec.describe()}: {len(speakers)} known speakers cannot fill {spec.folds} folds "
            "(use fewer folds)"
        )
    fold_of = {speaker: position % spec.folds + 1 for position, speaker in enumerate(speakers)}
    per_speaker = np.array(
        [SPLITS.index("test" if fold_of[s] == spec.fold else "train") for s in cat.speakers], dtype=np.int8
    )
    codes = per_speaker[np.maximum(cat.speaker_codes, 0)]
    codes[cat.speaker_codes < 0] = SPLITS.index("train")
    return codes


def _draw_speakers(sizes: Mapping[str, int], shares: Sequence[tuple[str, float]], seed: int) -> dict[str, str]:
    """Whole speakers, shuffled with ``seed``, drawn into each (split, share) until it holds that share of the
    utterances of ``sizes``; speakers not drawn are left out of the result. Raises ValueError when no speaker
    would be left over (the caller names the fix)."""
    groups = sorted(sizes)
    random.Random(seed).shuffle(groups)
    total = sum(sizes.values())
    chosen: dict[str, str] = {}
    remaining = iter(groups)
    for split, share in shares:
        target = share * total
        filled = 0
        while filled < target:
            group = next(remaining, None)
            if group is None:
                raise ValueError(len(groups))
            chosen[group] = split
            filled += sizes[group]
    if len(chosen) == len(groups):
        raise ValueError(len(groups))
    return chosen


def _speaker_sizes(cat: _Catalogue, mask: np.ndarray) -> dict[str, int]:
    """Utterances per known speaker among those where ``mask`` holds (speakers with none left out)."""
    known = mask & (cat.speaker_codes >= 0)
    counts = np.bincount(cat.speaker_codes[known], minlength=len(cat.speakers))
    return {speaker: int(n) for speaker, n in zip(cat.speakers, counts) if n}


def _hold_out_validation(cat: _Catalogue, codes: np.ndarray, spec: SplitSpec) -> np.ndarray:
    """``+val:S``: whole training speakers, drawn with the seed, move to validation until they hold share S.

    Drawn from the training speakers only, so the test set is untouched and the validation speakers are
    disjoint from both; an utterance without a speaker keeps training. At least one speaker must be left
    to train.
    """
    train = codes == SPLITS.index("train")
    sizes = _speaker_sizes(cat, train)
    try:
        chosen = _draw_speakers(sizes, [("validation", spec.validation_share)], spec.seed)
    except ValueError:
        raise CotgenError(
            f"--split {spec.describe()}: the {len(sizes)} training speakers cannot give a validation share of "
            f"{spec.validation_share:g} and keep one to train (use a smaller {VALIDATION_SUFFIX}S, or none)"
        ) from None
    moved = np.array([*(speaker in chosen for speaker in cat.speakers), False])  # last: no speaker (code -1)
    out = codes.copy()
    out[train & moved[cat.speaker_codes]] = SPLITS.index("validation")
    return out


def fold_specs(utterances: Iterable[Utterance], text: str, seed: int = 0) -> list[tuple[str, SplitSpec]]:
    """Every fold of ``loso:all`` or ``folds:N`` (either with ``+val:S``) as (folder name, spec), in fold order.

    ``loso:all`` has one fold per session (sorted numerically where sessions are numbers) named
    ``fold_<session>``; ``folds:N`` has folds ``fold_1`` … ``fold_N``.
    """
    if not is_all_folds(text):
        raise CotgenError(f"--split {text!r}: not a protocol of several folds (expected loso:all or folds:N)")
    spec = parse_split(text, seed)
    if spec.kind == "folds":
        return [(f"fold_{k}", replace(spec, fold=k)) for k in range(1, spec.folds + 1)]
    sessions = _sorted_sessions(_catalogue(utterances), text.strip())
    return [(f"fold_{_folder_safe(s)}", replace(spec, test_session=s)) for s in sessions]


def _validation_words(spec: SplitSpec) -> str:
    if not spec.validation_share:
        return "no validation set"
    return (
        f"validation: whole training speakers drawn with seed {spec.seed} until they hold "
        f"{spec.validation_share:.0%} of the training utterances"
    )


def _others(count: int, unit: str) -> str:
    """``other 4 sessions``, or ``other session`` when there is one."""
    return f"other {unit}" if count == 1 else f"other {count} {unit}s"


def protocol_description(utterances: Iterable[Utterance], spec: SplitSpec, every: bool = False) -> str:
    """What a split does, in words a paper can quote (export.json, folds.json, the dataset card).

    ``every``: the whole protocol (``loso:all``, ``folds:N``; ``spec`` any of its folds) rather than one
    split. For example "5 folds, leave one session out: each fold tests on one session and trains on the
    other 4 sessions; no validation set".
    """
    validation = _validation_words(spec)
    if spec.kind == "loso":
        sessions = _sorted_sessions(_catalogue(utterances), spec.describe())
        if every:
            return (
                f"{len(sessions)} folds, leave one session out: each fold tests on one session and trains on the "
                f"{_others(len(sessions) - 1, 'session')}; {validation}"
            )
        others = [s for s in sessions if s != spec.test_session]
        return (
            f"leave one session out: tests on session {spec.test_session} and trains on the "
            f"{_others(len(others), 'session')} ({', '.join(others)}); {validation}"
        )
    if spec.kind == "folds":
        dealt = "speakers dealt round-robin in sorted order"
        if every:
            return (
                f"{spec.folds} speaker folds ({dealt}): each fold tests on one fold and trains on the "
                f"{_others(spec.folds - 1, 'fold')}; {validation}"
            )
        return (
            f"speaker fold {spec.fold} of {spec.folds} ({dealt}): tests on fold {spec.fold} and trains on the "
            f"{_others(spec.folds - 1, 'fold')}; {validation}"
        )
    if spec.kind == "speaker":
        return (
            f"speaker-disjoint random split (seed {spec.seed}): whole speakers drawn until validation holds "
            f"{spec.validation_share:.0%} and test {spec.test_share:.0%} of the utterances; the rest trains"
        )
    return "the corpus's own partition: Train trains, Development validates, Test* tests"


def _folder_safe(name: str) -> str:
    """A session name as a folder name: characters other than letters, digits, '.', '-' and '_' become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _partition_code(session: str) -> int:
    """The split a corpus's own partition name means (Train, Development/Validation, Test*), -1 for another name."""
    part = session.strip()
    if part == "Train":
        return SPLITS.index("train")
    if part in ("Development", "Validation"):
        return SPLITS.index("validation")
    if part.startswith("Test"):
        return SPLITS.index("test")
    return -1


def _by_speaker(cat: _Catalogue, spec: SplitSpec) -> np.ndarray:
    """Whole known speakers drawn at random into test and validation; unknown speakers by the corpus partition.

    An utterance whose speaker is unknown (null) cannot be kept apart from any speaker, so it is not drawn at
    random: it goes where the corpus's own partition puts it (MSP-Podcast's ``Split_Set`` in ``session``), and
    into train when the corpus has none, where a speaker it might share can only inflate training data.
    """
    known = cat.speaker_codes >= 0
    if not known.any():
        raise CotgenError(
            f"--split {spec.describe()}: no utterance has a speaker, so no split can be speaker-independent "
            "(a manifest needs a speaker column: add it and rerun cotgen build; "
            "or use --split loso:K or --split corpus)"
        )
    sizes = _speaker_sizes(cat, known)
    try:
        chosen = _draw_speakers(sizes, [("test", spec.test_share), ("validation", spec.validation_share)], spec.seed)
    except ValueError:
        raise CotgenError(f"--split {spec.describe()}: too few speakers ({len(sizes)}) to leave any to train") from None
    per_speaker_split = np.array([SPLITS.index(chosen.get(s, "train")) for s in cat.speakers], dtype=np.int8)
    codes = per_speaker_split[np.maximum(cat.speaker_codes, 0)]
    per_session = np.array([*(max(_partition_code(s), 0) for s in cat.sessions), 0], dtype=np.int8)
    codes[~known] = per_session[cat.session_codes[~known]]  # code -1 (no session) picks the last entry: train
    return codes


def _corpus_partition(cat: _Catalogue) -> np.ndarray:
    table = np.array([*(_partition_code(s) for s in cat.sessions), -1], dtype=np.int8)  # last: no session (code -1)
    codes = table[cat.session_codes]
    if (codes < 0).any():
        code = int(cat.session_codes[int(np.argmax(codes < 0))])
        session = cat.sessions[code] if code >= 0 else None
        raise CotgenError(
            f"--split corpus: utterance {cat.first_id(codes < 0)} has partition {session!r}; "
            "expected Train, Development or Test* in its session field"
        )
    return codes


def _fold(cat: _Catalogue, spec: SplitSpec) -> np.ndarray:
    """One fold of ``loso`` or ``folds``, with its ``+val:S`` validation speakers; an empty train or test split is
    an error, since a fold that trains or tests on nothing yields figures nobody should report."""
    if spec.kind == "folds" and spec.fold < 1:
        raise CotgenError(f"--split folds:{spec.folds}: names every fold; export it with cotgen export")
    codes = _loso(cat, spec) if spec.kind == "loso" else _speaker_folds(cat, spec)
    if spec.validation_share:
        codes = _hold_out_validation(cat, codes, spec)
    counts = np.bincount(codes, minlength=len(SPLITS))
    for split in ("train", "test"):
        if not counts[SPLITS.index(split)]:
            raise CotgenError(
                f"--split {spec.describe()}: the fold's {split} split would be empty "
                "(use a protocol with more sessions or speakers, e.g. --split speaker:V,T)"
            )
    return codes


def _leaking_speakers(cat: _Catalogue, codes: np.ndarray) -> list[str]:
    """Speakers whose utterances fall in more than one split (utterances without a speaker are ignored)."""
    known = cat.speaker_codes >= 0
    pairs = np.unique(cat.speaker_codes[known].astype(np.int64) * len(SPLITS) + codes[known])
    speakers, counts = np.unique(pairs // len(SPLITS), return_counts=True)
    return sorted(cat.speakers[int(s)] for s in speakers[counts > 1])


def assign_splits(utterances: Iterable[Utterance], spec: SplitSpec, corpus: str = "") -> SplitAssignment:
    """Each utterance's split, from one pass over ``utterances``; raises when a speaker would straddle splits.

    The one exception is ``corpus`` on a corpus of :data:`SPEAKER_SHARING_CORPORA`: its own published partition,
    kept as published, with the shared speakers named in a warning and counted on the assignment.
    """
    cat = _catalogue(utterances)
    if spec.kind in ("loso", "folds"):
        codes = _fold(cat, spec)
    elif spec.kind == "speaker":
        codes = _by_speaker(cat, spec)
    else:
        codes = _corpus_partition(cat)
    leaks = _leaking_speakers(cat, codes)
    if leaks and spec.kind == "corpus" and corpus.lower() in SPEAKER_SHARING_CORPORA:
        logger.warning(
            "--split corpus: %s's published split shares %d speakers between splits (%s); results on it are not "
            "speaker-independent (--split speaker:V,T or folds:N are)",
            corpus,
            len(leaks),
            ", ".join(leaks[:5]),
        )
    elif leaks:
        raise CotgenError(
            f"--split {spec.describe()}: speakers in more than one split: {', '.join(leaks[:5])} "
            "(use --split speaker:V,T for a speaker-disjoint split)"
        )
    assignment = SplitAssignment(IdIndex.from_arrays(cat.ids, codes.astype(np.int8)))
    assignment.shared_speakers = len(leaks)
    return assignment
