"""A simulated rate-limited endpoint and a client loop that drives the real Limiter the way
LLMClient does, on an event loop whose clock jumps from timer to timer: minutes of traffic
are simulated in well under a second of real time, and nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthgen.llm.limits import Clock, Limiter, retry_after_seconds


class _JumpingSelector:
    """Wraps the loop's selector: where it would block for `timeout`, time jumps instead."""

    def __init__(self, inner: selectors.BaseSelector, clock: VirtualClock) -> None:
        self.inner, self.clock = inner, clock

    def select(self, timeout: float | None = None) -> list[Any]:
        events = self.inner.select(0)
        if not events:
            if timeout is None:
                raise RuntimeError("simulation deadlock: nothing scheduled and nothing ready")
            self.clock.t += timeout
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class VirtualClock:
    """Simulated seconds; `run` executes a coroutine on a loop that reads this clock."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def run(self, main: Callable[[], Any]) -> Any:
        loop = asyncio.SelectorEventLoop()
        loop._selector = _JumpingSelector(loop._selector, self)  # type: ignore[attr-defined]
        loop.time = self.now  # type: ignore[method-assign]
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()


@dataclass
class Endpoint:
    """A token bucket of `rpm` a minute holding `burst` requests; answers after `latency`.
    A 429 says when the next token comes: in ms ("ms"), in whole seconds ("s"), or not."""

    rpm: float
    burst: float
    latency: float = 0.02
    retry_after: str = "ms"
    headers: dict[str, str] = field(default_factory=dict)  # on every answer
    p_refuse: float = 0.0  # a 429 at random, retry-after 200 ms, as faults rather than a limit
    draws: random.Random = field(default_factory=lambda: random.Random(0))
    accepted: int = 0
    refused: int = 0
    level: float = -1.0
    stamp: float = 0.0

    def admit(self, now: float) -> float | None:
        """None if admitted, else seconds until the next token."""
        if self.level < 0:
            self.level, self.stamp = self.burst, now
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rpm / 60)
        self.stamp = now
        if self.p_refuse and self.draws.random() < self.p_refuse:
            self.refused += 1
            return 0.2
        if self.level >= 1 - 1e-9:
            self.level -= 1
            self.accepted += 1
            return None
        self.refused += 1
        return (1 - self.level) * 60 / self.rpm

    def refusal_headers(self, wait: float) -> dict[str, str]:
        out = dict(self.headers)
        if self.retry_after == "ms":
            out["retry-after-ms"] = str(max(1, round(wait * 1000)))
        if self.retry_after in ("ms", "s"):
            out["retry-after"] = str(max(1, -(-wait // 1)))
        return out


@dataclass
class Result:
    """What a simulated run achieved."""

    accepted: int
    refused: int
    seconds: float
    limiter: Limiter

    def utilisation(self, ep: Endpoint) -> float:
        """Accepted ÷ what the limit allowed over the run (the burst included)."""
        return self.accepted / (ep.burst + ep.rpm / 60 * self.seconds)

    @property
    def refused_share(self) -> float:
        """Refused ÷ all requests sent."""
        return self.refused / max(1, self.accepted + self.refused)


def simulate(
    ep: Endpoint,
    requests: int,
    concurrency: int = 16,
    rpm: float | None = None,
    seed: int = 0,
    jitter: float = 0.0,
) -> Result:
    """Send `requests` requests through a Limiter to `ep`, retrying 429s as LLMClient does."""
    vc = VirtualClock()
    rng = random.Random(seed)
    holder: list[Limiter] = []

    async def one(lim: Limiter) -> None:
        attempt = 0
        while True:
            attempt += 1
            await lim.wait_turn(10)
            wait: float | None = None
            async with lim.slots:
                blocked = ep.admit(vc.now())
                if blocked is None:
                    await asyncio.sleep(ep.latency + rng.random() * jitter)
                else:
                    headers = ep.refusal_headers(blocked)
                    wait = retry_after_seconds(headers)
                    lim.cool_down(wait if wait is not None else 1.0)
                    lim.rate_limited()
                    lim.learn(headers)
            if blocked is None:
                lim.learn(ep.headers)
                lim.succeeded()
                return
            backoff = min(60.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + rng.random() / 2)
            await asyncio.sleep(wait + rng.random() * 0.01 if wait is not None else backoff)

    async def main() -> float:
        lim = Limiter(concurrency, rpm, None, Clock(now=vc.now, sleep=asyncio.sleep))
        holder.append(lim)
        await asyncio.gather(*(one(lim) for _ in range(requests)))
        return vc.now()

    seconds = vc.run(main)
    return Result(ep.accepted, ep.refused, seconds, holder[0])
