"""Class sets: which emotion codes a run predicts, and which corpus codes are folded into which.

Papers compare on fixed class sets (IEMOCAP's four classes with *excited* counted as *happy*), while
other work keeps every label. A class set is written as a short spec so the CLI, the dataset card and
the run record can all say exactly what was used: ``4``, ``all``, or groups like
``neu,hap+exc,ang,sad,fru`` where ``+`` folds the following codes into the first one of the group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cotgen.core.errors import CotgenError
from cotgen.corpora.out_of_set import DEFAULT_RULE, OTHER, OutOfSetRule

NAMED_SETS: dict[str, str] = {"4": "neu,hap+exc,ang,sad"}
ALL = "all"

# Order in which codes are listed when a set is built from the data ("all"): the four benchmark
# classes first, then the other standard codes, then any custom code alphabetically.
CANONICAL_ORDER: tuple[str, ...] = ("neu", "hap", "ang", "sad", "exc", "fru", "sur", "fea", "dis", "con", "oth")

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")


def canonical_sort(codes: Iterable[str]) -> list[str]:
    """Codes in the project's canonical order (benchmark classes first, then alphabetical extras)."""
    rank = {code: i for i, code in enumerate(CANONICAL_ORDER)}
    return sorted(set(codes), key=lambda code: (rank.get(code, len(rank)), code))


@dataclass(frozen=True)
class ClassSet:
    """A resolved class set: the output codes and the corpus codes folded into each.

    ``codes`` is None only for the unresolved ``all`` set, whose codes come from the data (see
    :meth:`resolve`).
    """

    spec: str
    codes: tuple[str, ...] | None
    folds: Mapping[str, str] = field(default_factory=dict)
    # The user named this set (--classes): a class no entry uses is then a typo to stop at, not a fact to note.
    given: bool = False
    # What becomes of votes outside the set (cotgen.corpora.out_of_set), and whether no-majority entries are kept.
    out_of_set: OutOfSetRule = DEFAULT_RULE
    no_majority: bool = False

    @property
    def is_all(self) -> bool:
        """True for the data-dependent ``all`` set before it is resolved."""
        return self.codes is None

    def target(self, code: str) -> str | None:
        """The class a corpus code counts towards, or None when it is outside the set."""
        if self.codes is None:
            return code
        return self.folds.get(code, OTHER if self.out_of_set == "other" else None)

    def project(self, counts: Mapping[str, float]) -> dict[str, float]:
        """Fold corpus vote counts into the set's classes, dropping out-of-set mass."""
        projected: dict[str, float] = {}
        for code, value in counts.items():
            target = self.target(code)
            if target is not None:
                projected[target] = projected.get(target, 0.0) + value
        return projected

    def unused(self, seen: Iterable[str]) -> list[str]:
        """The set's classes that none of the ``seen`` corpus codes counts towards (none for ``all``).

        A class is used when any code folded into it occurs, so ``4``'s ``hap+exc`` is used by a corpus without
        ``exc``; a class nobody voted for is almost always a typo (``sadd``) that would drop rows without a word.
        """
        if self.codes is None:
            return []
        used = {self.folds[code] for code in seen if code in self.folds}
        return [code for code in self.codes if code not in used and not (code == OTHER and self.out_of_set == "other")]

    def resolve(self, seen: Iterable[str]) -> ClassSet:
        """The concrete set: ``all`` becomes every code in ``seen`` (canonical order); others unchanged."""
        if self.codes is not None:
            return self
        codes = tuple(canonical_sort(seen))
        return ClassSet(
            spec=self.spec,
            codes=codes,
            folds={code: code for code in codes},
            given=self.given,
            out_of_set=self.out_of_set,
            no_majority=self.no_majority,
        )


def _syntax_error(spec: str, why: str) -> CotgenError:
    return CotgenError(
        f"--classes {spec!r}: {why}; expected '4', 'all' or comma-separated codes such as 'neu,hap+exc,ang,sad,fru'"
    )


def parse_class_set(
    spec: str, given: bool = False, out_of_set: OutOfSetRule = DEFAULT_RULE, no_majority: bool = False
) -> ClassSet:
    """Parse ``4``, ``all`` or ``neu,hap+exc,ang,sad``-style specs; CotgenError on anything else.

    ``given``: the user typed the spec (``--classes``), rather than it being the corpus's default. ``out_of_set``
    and ``no_majority``: the rule for votes outside the set (:mod:`cotgen.corpora.out_of_set`); with ``other``
    the set gains the class ``oth``.
    """
    text = spec.strip().lower()
    if text == ALL:
        return ClassSet(spec=ALL, codes=None, given=given, out_of_set=out_of_set, no_majority=no_majority)
    expanded = NAMED_SETS.get(text, text)
    codes: list[str] = []
    folds: dict[str, str] = {}
    for group in expanded.split(","):
        members = [member.strip() for member in group.split("+")]
        if not all(members):
            raise _syntax_error(spec, "empty class code")
        for member in members:
            if not CODE_PATTERN.match(member):
                raise _syntax_error(spec, f"{member!r} is not a class code")
            if member in folds:
                raise _syntax_error(spec, f"code {member!r} appears twice")
            folds[member] = members[0]
        codes.append(members[0])
    if len(codes) < 2:
        raise _syntax_error(spec, "a class set needs at least two classes")
    if out_of_set == "other" and OTHER not in folds:
        codes.append(OTHER)
        folds[OTHER] = OTHER
    return ClassSet(
        spec=text, codes=tuple(codes), folds=folds, given=given, out_of_set=out_of_set, no_majority=no_majority
    )
