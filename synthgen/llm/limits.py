"""Throughput limits: token buckets for requests/min and tokens/min, a 429 cool-down,
and the `x-ratelimit-*` headers that teach them."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """Injected time source, so tests can control waiting."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class TokenBucket:
    """Capacity `burst`, refilled at `per_minute / 60` per second; `take` waits its turn.

    Waiters are served first come, first served, so a large reservation is not starved.
    """

    def __init__(self, per_minute: float, clock: Clock, burst: float | None = None) -> None:
        self.clock = clock
        self.lock = asyncio.Lock()
        self.set_rate(per_minute, burst)
        self.level = self.capacity
        self.stamp = clock.now()

    def set_rate(self, per_minute: float, burst: float | None = None) -> None:
        """Change the refill rate (and burst) as limits are learned or adapted."""
        self.rate = per_minute / 60.0
        self.capacity = burst if burst is not None else max(1.0, self.rate)

    def _refill(self) -> None:
        now = self.clock.now()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        """Wait until `amount` is available, then spend it, so the rate cap is never exceeded."""
        amount = min(amount, self.capacity)  # one oversized request may still pass, alone
        async with self.lock:
            self._refill()
            # The tolerance stops float round-off from turning into an endless tiny sleep.
            while self.level < amount - 1e-9:
                await self.clock.sleep((amount - self.level) / self.rate)
                self._refill()
            self.level = max(0.0, self.level - amount)

    def give_back(self, amount: float) -> None:
        """Return what a request reserved but did not use, so the budget is not wasted."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)

    def clamp(self, remaining: float) -> None:
        """The server says only `remaining` are left: never believe we have more."""
        self._refill()
        self.level = min(self.level, remaining)


ADAPTIVE_STEP_RPM = 6.0
MIN_ADAPTIVE_RPM = 6.0

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """OpenAI's reset format: "1s", "6m0s", "250ms", "1h2m3.5s"."""
    parts = _DURATION.findall(text.strip())
    if not parts:
        return None
    return sum(float(v) * _UNIT[u] for v, u in parts)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` first (precise), then `retry-after` in seconds."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if 0 <= seconds <= 600:
            return seconds
    return None


@dataclass(frozen=True)
class RateLimitInfo:
    """The limits an endpoint announced in its headers; None where it said nothing."""

    limit_requests: float | None
    remaining_requests: float | None
    limit_tokens: float | None
    remaining_tokens: float | None


def parse_ratelimit_headers(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Read `x-ratelimit-*` headers; None when the endpoint announces no limits at all."""

    def num(name: str) -> float | None:
        v = headers.get(name)
        try:
            return float(v) if v is not None else None
        except ValueError:
            return None

    info = RateLimitInfo(
        num("x-ratelimit-limit-requests"),
        num("x-ratelimit-remaining-requests"),
        num("x-ratelimit-limit-tokens"),
        num("x-ratelimit-remaining-tokens"),
    )
    return None if all(v is None for v in vars(info).values()) else info


class Limiter:
    """Concurrency cap + RPM/TPM buckets + a global cool-down after a 429."""

    def __init__(
        self, concurrency: int, rpm: float | None, tpm: float | None, clock: Clock
    ) -> None:
        self.clock = clock
        self.slots = asyncio.Semaphore(concurrency)
        self.rpm_fixed, self.tpm_fixed = rpm is not None, tpm is not None
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock, burst=tpm / 60.0 * 2) if tpm else None
        self.cooldown_until = 0.0
        self.learned_from_headers = False
        # Adaptive pacing for endpoints that announce no limit: AIMD on the request rate.
        self.successes: deque[float] = deque(maxlen=4096)
        self.probing = False
        self.probed = asyncio.Event()
        self.adaptive = False
        self.slow_start = False
        self.last_decrease = -1e9

    async def wait_turn(self, tokens: int) -> None:
        """Wait until a request of `tokens` may go out without breaking any limit."""
        if not self.probed.is_set():
            # The first request goes alone: its headers may announce the limits, and a fan-out
            # of `concurrency` requests into an unknown limit is a burst of 429s.
            if self.probing:
                await self.probed.wait()
            else:
                self.probing = True
        while (delay := self.cooldown_until - self.clock.now()) > 0:
            await self.clock.sleep(delay)
        if self.requests:
            await self.requests.take(1)
        if self.tokens:
            await self.tokens.take(tokens)

    def refund_tokens(self, unused: int) -> None:
        """Give the TPM bucket back what a request reserved but did not use."""
        if self.tokens and unused > 0:
            self.tokens.give_back(unused)

    def cool_down(self, seconds: float) -> None:
        """Hold every request for `seconds` after a 429, as the server asked."""
        self.cooldown_until = max(self.cooldown_until, self.clock.now() + seconds)

    def succeeded(self) -> None:
        """Note a success, raising the adaptive rate while pacing without announced limits."""
        now = self.clock.now()
        self.successes.append(now)
        if not (self.adaptive and self.requests) or now - self.last_decrease < 0.5:
            return
        rpm = self.requests.rate * 60
        if self.slow_start:  # double every second until the first real decrease
            rpm *= 2 ** (1 / max(1.0, self.requests.rate))
        else:  # then +6 rpm per success: about +10% a second at any rate
            rpm += ADAPTIVE_STEP_RPM
        self.requests.set_rate(rpm, 1.0)

    def rate_limited(self) -> None:
        """A 429 with no announced limit: pace adaptively (slow start, then AIMD)."""
        if self.rpm_fixed or (self.learned_from_headers and self.requests is not None):
            return
        now = self.clock.now()
        first = self.successes[0] if self.successes else now
        window = max(1.0, min(5.0, now - first))
        observed = sum(1 for t in self.successes if now - t <= window) / window * 60
        if not self.adaptive:
            # Little history yet: start low from what got through and grow quickly.
            self.adaptive, self.slow_start, self.last_decrease = True, True, now
            target = max(MIN_ADAPTIVE_RPM, observed)
        elif now - self.last_decrease < 1.0:
            return  # one decrease per second, however many requests were in flight
        else:
            self.slow_start, self.last_decrease = False, now
            current = self.requests.rate * 60 if self.requests else observed
            target = max(MIN_ADAPTIVE_RPM, 0.9 * min(current, observed or current))
        if self.requests is None:
            self.requests = TokenBucket(target, self.clock, burst=1.0)
        else:
            self.requests.set_rate(target, burst=1.0)
            self.requests.level = min(self.requests.level, 1.0)

    def learn(self, headers: Mapping[str, str]) -> None:
        """Adopt the limits a response's headers announce, unless the user fixed them."""
        info = parse_ratelimit_headers(headers)
        if info is None:
            return
        self.learned_from_headers = True
        if info.limit_requests and not self.rpm_fixed:
            if self.requests is None:
                self.requests = TokenBucket(info.limit_requests, self.clock)
            elif abs(self.requests.rate * 60 - info.limit_requests) > 1e-9:
                self.requests.set_rate(info.limit_requests)
        if info.limit_tokens and not self.tpm_fixed:
            if self.tokens is None:
                self.tokens = TokenBucket(
                    info.limit_tokens, self.clock, burst=info.limit_tokens / 60.0 * 2
                )
            elif abs(self.tokens.rate * 60 - info.limit_tokens) > 1e-9:
                self.tokens.set_rate(info.limit_tokens, burst=info.limit_tokens / 60.0 * 2)
        if self.requests and info.remaining_requests is not None:
            self.requests.clamp(info.remaining_requests)
        if self.tokens and info.remaining_tokens is not None:
            self.tokens.clamp(info.remaining_tokens)
