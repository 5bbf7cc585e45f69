"""What a build costs: prices per million tokens and the token estimates of ``--dry-run``.

Prices are what the provider charged for text tokens when this table was written (USD per
million tokens); ``--price-in/--price-out`` override them, and an unknown model has no price
(cost null) rather than a guessed one. Audio input tokens are billed differently by providers and
are not in this estimate.

Two discounts are known: prompt tokens the server found in its prompt cache
(``usage.prompt_tokens_details.cached_tokens``) cost the table's cached-input price where the table
has one (otherwise the full input price: nothing is assumed), and requests sent through the Batch
API cost half of every table price (:data:`BATCH_RATE`). Prices given with ``--price-in/--price-out``
are the user's own rates and are used as given, for batch requests too.
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
# model -> USD per million prompt tokens served from the provider's prompt cache.
KNOWN_CACHED_INPUT: dict[str, float] = {
    "gpt-4o": 1.25,
    "gpt-4o-mini": 0.075,
    "gpt-4.1": 0.50,
    "gpt-4.1-mini": 0.10,
    "gpt-4.1-nano": 0.025,
}
# The Batch API's price as a share of the synchronous one.
BATCH_RATE = 0.5
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Prices:
    """USD per million input and output tokens."""

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None  # None: cached prompt tokens cost the full input price

    def cost(self, tokens_in: int, tokens_out: int, cached_in: int = 0) -> float:
        """USD for these token counts; ``cached_in`` of the ``tokens_in`` came from the server's prompt cache."""
        cached = min(max(cached_in, 0), tokens_in)
        cached_price = (
            self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million
        )
        return (
            (tokens_in - cached) * self.input_per_million + cached * cached_price + tokens_out * self.output_per_million
        ) / 1_000_000

    def scaled(self, rate: float) -> Prices:
        """Every price times ``rate`` (the Batch API's discount)."""
        cached = None if self.cached_input_per_million is None else self.cached_input_per_million * rate
        return Prices(self.input_per_million * rate, self.output_per_million * rate, cached)


FREE = Prices(0.0, 0.0)


def prices_for(model: str | None, price_in: float | None = None, price_out: float | None = None) -> Prices | None:
    """The prices of a run: the options when given, else the table (dated snapshots like gpt-4o-2024-08-06 too).

    ``model`` None is the offline template teacher, which costs nothing. Only one of the two
    options given fills the other from the table, or 0 when the model is unknown.
    """
    if model is None:
        return FREE
    base = model if model in KNOWN_PRICES else _DATED.sub("", model)
    known = KNOWN_PRICES.get(base)
    if price_in is None and price_out is None:
        return Prices(*known, KNOWN_CACHED_INPUT.get(base)) if known else None
    default_in, default_out = known or (0.0, 0.0)
    return Prices(
        price_in if price_in is not None else default_in,
        price_out if price_out is not None else default_out,
    )


def batch_prices(model: str | None, price_in: float | None = None, price_out: float | None = None) -> Prices | None:
    """The prices of requests sent through the Batch API: half the table, or the options as given."""
    prices = prices_for(model, price_in, price_out)
    if prices is None or price_in is not None or price_out is not None:
        return prices
    return prices.scaled(BATCH_RATE)
