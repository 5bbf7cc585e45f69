"""The order of a trace's reasoning stages, as data a run declares.

Why: the paper reasons lexical → prosody → synthesis, cotgen's default is acoustic → lexical → ambiguity; which one
a student learns should be a run's choice, not a constant spread over the model, the renderer, the parser and the
format reward. A run declares its order once (``cotgen build --stages``, recorded in ``run.json``); every writer and
reader of trace text takes it from there. The distribution always comes last: it is the answer the rewards and the
evaluation read, and the reasoning leads up to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cotgen.core.errors import CotgenError

REASONING_STAGES: tuple[str, ...] = ("acoustic", "lexical", "ambiguity")
DEFAULT_ORDER: tuple[str, ...] = REASONING_STAGES
"""acoustic → lexical → ambiguity (then the distribution): the order of every run before ``--stages`` existed."""
ANSWER_STAGE = "distribution"


def stage_order(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """The reasoning-stage order from ``"lexical,acoustic,ambiguity"`` (or a sequence); None gives the default.

    A trailing ``distribution`` is accepted and dropped (it is always last). Raises :class:`CotgenError` unless the
    names are exactly the three reasoning stages, each once.
    """
    if spec is None:
        return DEFAULT_ORDER
    names = [part.strip().lower() for part in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    names = [name for name in names if name]
    if names and names[-1] == ANSWER_STAGE:
        names = names[:-1]
    if sorted(names) != sorted(REASONING_STAGES):
        raise CotgenError(
            f"stage order {','.join(names) or '(empty)'!r}: expected each of {', '.join(REASONING_STAGES)} once, "
            f"in the order the trace should reason, optionally followed by {ANSWER_STAGE} "
            "(e.g. --stages lexical,acoustic,ambiguity,distribution)"
        )
    return tuple(names)


def tagged_order(order: Sequence[str] = DEFAULT_ORDER) -> tuple[str, ...]:
    """Every tagged section of the trace text, in order: the reasoning stages, then the distribution."""
    return (*order, ANSWER_STAGE)
