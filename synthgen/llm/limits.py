"""Throughput limits: token buckets for requests/min and tokens/min, a 429 cool-down,
and the `x-ratelimit-*` headers that teach them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from synthgen.errors import EndpointConfigError
from synthgen.llm.pacing import Pacer, Refusals, Slots
from synthgen.llm.proxy import UPSTREAM_PREFIX, limit_is_upstreams, router_of


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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """OpenAI's reset format: "1s", "6m0s", "250ms", "1h2m3.5s"."""
    parts = _DURATION.findall(text.strip())
    if not parts:
        return None
    return sum(float(v) * _UNIT[u] for v, u in parts)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` first (precise), then `retry-after` in seconds; then the same as a
    proxy relays them (LiteLLM renames them `llm_provider-retry-after[-ms]`)."""
    for name, scale in (
        ("retry-after-ms", 0.001),
        ("retry-after", 1.0),
        (UPSTREAM_PREFIX + "retry-after-ms", 0.001),
        (UPSTREAM_PREFIX + "retry-after", 1.0),
    ):
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
    """Concurrency cap + RPM/TPM buckets + a cool-down after a 429; paces by a limit learned
    from 429s when none is announced, or when a proxy announces only one upstream's."""

    def __init__(
        self, concurrency: int, rpm: float | None, tpm: float | None, clock: Clock
    ) -> None:
        self.clock = clock
        self.slots = Slots(concurrency, clock.now, rpm is None, self._pace)
        self.probed = asyncio.Event()  # set by the client on each answer; kept for it
        self.rpm_fixed, self.tpm_fixed = rpm is not None, tpm is not None
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock, burst=tpm / 60.0 * 2) if tpm else None
        self.cooldown_until = 0.0
        self.learned_from_headers = False
        self.trusted_rpm = False  # the request bucket runs at a limit the endpoint announced
        self.pacer = Pacer()
        self.refusals = Refusals()
        self.proxy: str | None = None  # the router detected between us and the model
        self.proxy_detail = ""
        self.request_limits: set[float] = set()  # request limits announced so far
        self.last_wait = 1.0
        self.config_strikes = 0  # answers in a row saying the model or key is wrong
        self.broken: EndpointConfigError | None = None  # believed: nothing more is sent

    @property
    def adaptive(self) -> bool:
        """Is the request pace learned from 429s (no limit given or believed)?"""
        return not self.rpm_fixed and not self.trusted_rpm

    async def wait_turn(self, tokens: int) -> None:
        """Wait until `tokens` fit the tokens/min limit; the request pace is kept inside
        `slots`, so that requests queued for a slot cannot all go at once when it opens."""
        self._check()
        while (delay := self.cooldown_until - self.clock.now()) > 0:
            await self.clock.sleep(delay)
        if self.tokens:
            await self.tokens.take(tokens)

    def _check(self) -> None:
        if self.broken is not None:
            raise type(self.broken)(self.broken.message, hint=self.broken.hint)

    async def _pace(self) -> None:
        self._check()
        while (delay := self.cooldown_until - self.clock.now()) > 0:
            await self.clock.sleep(delay)
        if self.requests:
            before = self.clock.now()
            await self.requests.take(1)
            if self.clock.now() > before:
                self.pacer.pressed_at = self.clock.now()  # the pace is what holds us back

    def refund_tokens(self, unused: int) -> None:
        """Give the TPM bucket back what a request reserved but did not use."""
        if self.tokens and unused > 0:
            self.tokens.give_back(unused)

    def cool_down(self, seconds: float) -> None:
        """A 429 asked for `seconds`. An isolated one delays only its own request (its retry
        waits that long); every request is held only when refusals cluster as a limit's do,
        or once a pace is learned (then slowing it does that job, and a coarse
        "retry-after: 1" would only idle)."""
        self.last_wait = seconds
        self.refusals.note("429")
        pacing = self.adaptive and self.pacer.rate
        if not pacing and not self.refusals.clustered():
            return
        if pacing:
            seconds = min(seconds, 1 / pacing)
        self.cooldown_until = max(self.cooldown_until, self.clock.now() + seconds)

    def succeeded(self) -> None:
        """Note an answer: the pace may grow, and a measurement of the limit may end."""
        self.config_strikes = 0
        self.refusals.note("ok")
        if self.adaptive:
            now = self.clock.now()
            self.pacer.accepted(self.slots.sent(), now)
            self._apply_pace()

    def rate_limited(self) -> None:
        """A 429 while no limit is given or believed: learn the pace from it, once refusals
        cluster as a limit's do (isolated ones are faults, not news of a limit)."""
        if not self.adaptive:
            return
        if self.pacer.rate is None and not self.refusals.clustered():
            return
        now = self.clock.now()
        hint = self.last_wait
        self.pacer.refused(self.slots.sent(), now, hint)
        self.slots.open()
        self._apply_pace()

    def doubt(self) -> int:
        """An answer said the model or key is wrong: let one request at a time go until an
        answer says otherwise, so a misconfiguration costs a few requests, not a burst.
        Returns how many such answers came in a row."""
        self.config_strikes += 1
        self.slots.close()
        return self.config_strikes

    def _apply_pace(self) -> None:
        rate = self.pacer.rate
        if rate is None:
            return
        if self.requests is None:
            self.requests = TokenBucket(rate * 60, self.clock, burst=1.0)
        elif abs(self.requests.rate - rate) > 1e-12:
            self.requests.set_rate(rate * 60, burst=1.0)
            self.requests.level = min(self.requests.level, 1.0)

    def learn(self, headers: Mapping[str, str]) -> None:
        """Adopt the limits a response's headers announce, unless the user fixed them or a
        proxy announces one upstream's limit (the pool allows more: that is a floor)."""
        router = None if self.proxy else router_of(headers)
        if router:
            self.proxy = router
            self.proxy_detail = f"{router} headers: announced limits are one upstream's"
        info = parse_ratelimit_headers(headers)
        if info is None:
            return
        if info.limit_requests:
            seen = self.request_limits
            if seen and info.limit_requests not in seen and self.proxy is None:
                self.proxy = "router"
                self.proxy_detail = "announced request limits differ between answers"
            seen.add(info.limit_requests)
        upstreams = limit_is_upstreams(headers, "x-ratelimit-limit-requests")
        if self.proxy and info.limit_requests and not self.rpm_fixed and upstreams:
            self.trusted_rpm = False
            self.slots.open()
            self.pacer.raise_floor(max(self.request_limits) / 60, self.clock.now())
            self._apply_pace()
            return  # nor its tokens or what remains: one upstream's, not the pool's
        self.learned_from_headers = True
        self._adopt(info)

    def _adopt(self, info: RateLimitInfo) -> None:
        if info.limit_requests and not self.rpm_fixed:
            self.trusted_rpm = True
            self.slots.open()
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
