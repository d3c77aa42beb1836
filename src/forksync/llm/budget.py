"""The per-run token and money budget, enforced before each call, charged from API usage.

A call is refused (BudgetExceeded) when its estimated input plus a minimal answer would pass
either limit; otherwise its answer is capped to what the budget still allows, so a run never
spends more than a small estimate error past the limit.
"""

from __future__ import annotations

from ..errors import BudgetExceeded
from .pricing import PriceTable

MIN_OUTPUT = 256  # below this an answer is useless: stop instead


def estimate_tokens(text: str) -> int:
    """A documented approximation: 4 characters per token (close for English and code)."""
    return (len(text) + 3) // 4


class Budget:
    def __init__(self, max_tokens: int, max_cost_usd: float, prices: PriceTable) -> None:
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd
        self.prices = prices
        self.tokens = 0
        self.cost_usd = 0.0

    def allow(self, model: str, input_estimate: int, wanted_output: int) -> int:
        """The output cap for the next call, or BudgetExceeded when it cannot be afforded."""
        left_tokens = self.max_tokens - self.tokens - input_estimate
        (p_in, p_out), _ = self.prices.lookup(model)
        left_money = self.max_cost_usd - self.cost_usd - input_estimate * p_in / 1_000_000
        money_tokens = int(left_money * 1_000_000 / p_out) if p_out > 0 else wanted_output
        cap = min(wanted_output, left_tokens, money_tokens)
        if cap < min(MIN_OUTPUT, wanted_output):
            raise BudgetExceeded(
                f"LLM budget reached: {self.tokens} of {self.max_tokens} tokens, "
                f"${self.cost_usd:.4f} of ${self.max_cost_usd:.2f} spent; "
                f"next call needs ~{input_estimate} tokens",
                hint="raise [agent] max-tokens / max-cost-usd",
            )
        return cap

    def charge(self, model: str, input_tokens: int, output_tokens: int) -> float:
        cost = self.prices.cost(model, input_tokens, output_tokens)
        self.tokens += input_tokens + output_tokens
        self.cost_usd = round(self.cost_usd + cost, 6)
        return cost
