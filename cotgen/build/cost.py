"""What a build costs: prices per million tokens and the token estimates of ``--dry-run``.

Prices are what the provider charged for text tokens when this table was written (USD per
million tokens); ``--price-in/--price-out`` override them, and an unknown model has no price
(cost null) rather than a guessed one. Audio input tokens are billed differently by providers and
are not in this estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# model -> (input, output) USD per million text tokens.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-audio-preview": (2.50, 10.00),
    "gpt-4o-mini-audio-preview": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Prices:
    """USD per million input and output tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """USD for these token counts."""
        return (tokens_in * self.input_per_million + tokens_out * self.output_per_million) / 1_000_000


FREE = Prices(0.0, 0.0)


def prices_for(model: str | None, price_in: float | None = None, price_out: float | None = None) -> Prices | None:
    """The prices of a run: the options when given, else the table (dated snapshots like gpt-4o-2024-08-06 too).

    ``model`` None is the offline template teacher, which costs nothing. Only one of the two
    options given fills the other from the table, or 0 when the model is unknown.
    """
    if model is None:
        return FREE
    known = KNOWN_PRICES.get(model) or KNOWN_PRICES.get(_DATED.sub("", model))
    if price_in is None and price_out is None:
        return Prices(*known) if known else None
    default_in, default_out = known or (0.0, 0.0)
    return Prices(
        price_in if price_in is not None else default_in,
        price_out if price_out is not None else default_out,
    )
