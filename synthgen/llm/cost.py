"""Prices, usage accounting and hard budget caps with reservations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from synthgen.errors import BudgetExceeded
from synthgen.records import Price as Price  # re-exported: its old home

# Dry runs estimate time with this: a typical large-model call producing a few hundred tokens.
ASSUMED_LATENCY_S = 8.0


# Public list prices in USD per 1M tokens, as known to this release. Override or extend
# them with `prices:` in a config file; a model missing here has an unknown price.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "gpt-5": Price(input=1.25, output=10.00),
    "gpt-5-mini": Price(input=0.25, output=2.00),
    "gpt-5-nano": Price(input=0.05, output=0.40),
    "o3": Price(input=2.00, output=8.00),
    "o4-mini": Price(input=1.10, output=4.40),
}


def find_price(model: str, table: dict[str, Price]) -> Price | None:
    """Exact name first, then the longest known prefix (dated snapshots share a price)."""
    if model in table:
        return table[model]
    best = max((k for k in table if model.startswith(k + "-")), key=len, default=None)
    return table[best] if best else None


def dearest(known: list[Price]) -> Price:
    """One price for several models sharing a budget: each rate the dearest of theirs."""
    cached = [p.cached_input for p in known if p.cached_input is not None]
    return Price(
        input=max(p.input for p in known),
        output=max(p.output for p in known),
        cached_input=max(p.input if p.cached_input is None else p.cached_input for p in known)
        if cached
        else None,
    )


def cost_of(
    price: Price | None, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> float:
    """USD for the given usage at `price`; an unknown price counts as free. `cached_tokens`
    of the prompt tokens came from the endpoint's prompt cache: they cost `cached_input`
    (the input price when the table gives none)."""
    if price is None:
        return 0.0
    cached = min(max(0, cached_tokens), prompt_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    paid = (prompt_tokens - cached) * price.input + cached * cached_price
    return (paid + completion_tokens * price.output) / 1_000_000


@dataclass
class Reservation:
    """A request's worst-case tokens and cost, held against the caps until it settles."""

    tokens: int
    cost_usd: float


@dataclass
class Budget:
    """Hard caps over the whole job, answers replayed from the cache included.

    A request reserves its worst case (prompt estimate + max_tokens) before it is sent and
    settles to its real usage after, so concurrent requests can never overshoot a cap. A
    request whose worst case does not fit beside those in flight waits for them to settle
    (real usage is mostly far below the worst case) and the job stops only when it does not
    fit with nothing in flight: the cap is used, not just approached.
    """

    price: Price | None
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    spent_tokens: int = 0
    spent_cost_usd: float = 0.0
    new_cost_usd: float = 0.0
    reserved_tokens: int = 0
    reserved_cost_usd: float = 0.0
    stopped_by: str | None = field(default=None)
    outstanding: int = 0  # reservations not yet released or settled
    _freed: asyncio.Event | None = field(default=None, repr=False)

    async def reserve_when_room(self, prompt_tokens: int, max_tokens: int) -> Reservation:
        """reserve(), waiting for requests in flight to settle before giving up."""
        while True:
            try:
                return self.reserve(prompt_tokens, max_tokens)
            except BudgetExceeded:
                if self.outstanding == 0:
                    raise
            self.stopped_by = None
            if self._freed is None:
                self._freed = asyncio.Event()
            self._freed.clear()
            await self._freed.wait()

    def reserve(self, prompt_tokens: int, max_tokens: int) -> Reservation:
        """Hold a request's worst case against the caps, or raise BudgetExceeded if it won't fit."""
        r = Reservation(prompt_tokens + max_tokens, cost_of(self.price, prompt_tokens, max_tokens))
        if self.max_tokens is not None and (
            self.spent_tokens + self.reserved_tokens + r.tokens > self.max_tokens
        ):
            self.stopped_by = "max_tokens"
            raise BudgetExceeded(
                f"token cap reached: {self.spent_tokens} spent of --max-tokens {self.max_tokens}",
                hint="rerun with a higher --max-tokens to continue; answers so far are cached",
            )
        if self.max_cost_usd is not None and (
            self.spent_cost_usd + self.reserved_cost_usd + r.cost_usd > self.max_cost_usd
        ):
            self.stopped_by = "max_cost_usd"
            raise BudgetExceeded(
                f"cost cap reached: ${self.spent_cost_usd:.4f} spent of "
                f"--max-cost-usd {self.max_cost_usd}",
                hint="rerun with a higher --max-cost-usd to continue; answers so far are cached",
            )
        self.reserved_tokens += r.tokens
        self.reserved_cost_usd += r.cost_usd
        self.outstanding += 1
        return r

    def release(self, r: Reservation) -> None:
        """Give a reservation back without spending (a failed request), waking waiters for room."""
        self.reserved_tokens -= r.tokens
        self.reserved_cost_usd -= r.cost_usd
        self.outstanding -= 1
        if self._freed is not None:
            self._freed.set()

    def settle(
        self, r: Reservation, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float:
        """Replace a reservation by what the answer really used; return its cost."""
        self.release(r)
        cost = cost_of(self.price, prompt_tokens, completion_tokens, cached_tokens)
        self.spent_tokens += prompt_tokens + completion_tokens
        self.spent_cost_usd += cost
        self.new_cost_usd += cost
        return cost

    def replay(self, tokens: int, cost_usd: float) -> None:
        """Count an answer served from the cache towards the job's totals (no new spend)."""
        self.spent_tokens += tokens
        self.spent_cost_usd += cost_usd
