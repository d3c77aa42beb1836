"""Prices in USD per million tokens (input, output), matched by the longest model-name prefix.

`[agent] prices` overrides or extends the table (e.g. `{"llama3" = [0, 0]}` for a local model).
An unknown model is charged at the most expensive listed price so the money budget stays a
real upper bound; the caller is told so once.
"""

from __future__ import annotations

from collections.abc import Mapping

PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "o3": (2.0, 8.0),
    "o4-mini": (1.1, 4.4),
}


class PriceTable:
    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.table = {**PRICES, **{k: (float(v[0]), float(v[1])) for k, v in (overrides or {}).items()}}
        self.fallback = max(self.table.values(), key=lambda p: p[0] + p[1])

    def lookup(self, model: str) -> tuple[tuple[float, float], bool]:
        """(price, known): the longest matching prefix, or the fallback."""
        matches = [k for k in self.table if model == k or model.startswith(k)]
        if not matches:
            return self.fallback, False
        return self.table[max(matches, key=len)], True

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        (p_in, p_out), _ = self.lookup(model)
        return round((input_tokens * p_in + output_tokens * p_out) / 1_000_000, 6)
