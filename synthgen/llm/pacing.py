"""Pacing when no limit is announced (or a proxy announces only one upstream's): learn the
limit from what gets through while 429s come back, hold just below it, probe up slowly.

While requests are refused, the endpoint accepts exactly its limit; so the accepted rate,
dated by when requests went out (not by when slow answers arrived), measures the limit.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

CUT = 0.93  # a 429 cuts the pace to this share
APPROACH = 1 / 32  # each answer closes this share of the gap to the ceiling
CREEP = 0.002  # past the ceiling, each answer raises the pace by this share
FAST = 0.5  # growth a second before anything was refused
MIN_RATE = 0.1  # requests a second: 6 a minute
PRESSED_S = 1.0  # grow only while the pace, not the work, held requests back lately
# Refusals cluster as a limit's do when the last RUN answers were 429s (a limit refuses
# everything past it), or SHARE of the last WINDOW were (failures as an outage's: by share
# only): random faults (5% 429s, 10% 5xx) reach either about once in thousands of answers.
RUN = 3
WINDOW = 32
# Shares of the last WINDOW answers that make a cluster: a limit refuses a quarter soon after
# it is reached; an outage fails far more than the 10% of 5xx a healthy endpoint may show.
SHARE = {"429": 0.25, "5xx": 0.4}


class Slots:
    """The concurrency cap as an async context manager. Inside a slot a request waits for
    its pace (`pace`), and, while the limit is unknown, for the slow-start window (one
    request first, then one more per answer); then the slot notes when it went out."""

    def __init__(
        self,
        cap: int,
        now: Callable[[], float],
        slow_start: bool,
        pace: Callable[[], Awaitable[None]],
    ) -> None:
        self.cap, self.now, self.slow_start, self.pace = cap, now, slow_start, pace
        self.window = 1  # the first request goes alone: its answer may announce the limits
        self.held = 0  # slots taken (cap)
        self.going = 0  # requests past the window: going out, or out (window)
        self.cap_waiters: deque[asyncio.Future[None]] = deque()
        self.window_waiters: deque[asyncio.Future[None]] = deque()
        self.in_flight: dict[object, float] = {}
        self.sent_at: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()

    def open(self) -> None:
        """Let the whole cap in: something else (a rate) paces the requests now."""
        self.slow_start, self.window = False, self.cap
        self._wake()

    def close(self) -> None:
        """One request at a time again, until an answer comes (slow start from there)."""
        self.slow_start, self.window = True, 1

    async def __aenter__(self) -> None:
        await self._wait(self.cap_waiters, "held")
        try:
            await self._wait(self.window_waiters, "going")
            try:
                await self.pace()
            except BaseException:
                self.going -= 1
                raise
        except BaseException:
            self.held -= 1
            self._wake()
            raise
        t, task = self.now(), _task()
        self.in_flight[task] = t
        if task is not _NO_TASK:
            self.sent_at[task] = t

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight.pop(_task(), None)
        if self.window < self.cap:
            # Slow start doubles the requests in flight each round trip; any answer counts,
            # or an endpoint that is down would be tried one request at a time.
            self.window = self.window + 1 if self.slow_start else self.cap
        self.going -= 1
        self.held -= 1
        self._wake()

    def _free(self, counter: str) -> bool:
        if counter == "held":
            return self.held < self.cap
        return self.going < min(self.cap, self.window)

    def _count(self, counter: str, by: int) -> None:
        if counter == "held":
            self.held += by
        else:
            self.going += by

    async def _wait(self, waiters: deque[asyncio.Future[None]], counter: str) -> None:
        if self._free(counter) and not waiters:
            self._count(counter, 1)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut  # `_wake` counts us in before it wakes us
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._count(counter, -1)
                self._wake()
            elif fut in waiters:
                waiters.remove(fut)
            raise

    def _wake(self) -> None:
        for waiters, counter in ((self.cap_waiters, "held"), (self.window_waiters, "going")):
            while waiters and self._free(counter):
                fut = waiters.popleft()
                if not fut.done():
                    self._count(counter, 1)
                    fut.set_result(None)

    def sent(self) -> float:
        """When the calling task's request went out (now, if it is not known)."""
        task = _task()
        t = self.in_flight.get(task)
        if t is None and task is not _NO_TASK:
            t = self.sent_at.get(task)
        return self.now() if t is None else t

    def settled(self) -> float:
        """A time before which every request sent has answered."""
        return min(self.in_flight.values(), default=self.now())


class Refusals:
    """The kinds of recent answers: accepted ("ok"), refused ("429") or failed ("5xx"). Does
    a kind cluster, as a limit or an outage does, or is each one isolated (a fault that
    delays only the request it met)?"""

    def __init__(self) -> None:
        self.recent: deque[str] = deque(maxlen=WINDOW)
        self.clusters = 0  # 429s that came in a cluster
        self.isolated = 0  # 429s that delayed only their own request

    def note(self, kind: str) -> None:
        """An answer came: "ok", "429" or "5xx"."""
        self.recent.append(kind)
        if kind == "429":
            if self.clustered(kind):
                self.clusters += 1
            else:
                self.isolated += 1

    def clustered(self, kind: str = "429") -> bool:
        """Do the latest answers of `kind` look like a limit (an outage) rather than faults?
        429s RUN in a row already do (a limit must be met at once); 5xx only by their share,
        since a run of three comes by chance every few hundred answers at a 10% fault rate."""
        recent = self.recent
        run = kind == "429" and len(recent) >= RUN
        if run and all(recent[-i] == kind for i in range(1, RUN + 1)):
            return True
        return sum(k == kind for k in recent) >= SHARE[kind] * WINDOW


_NO_TASK = object()


def _task() -> object:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: called from plain code (unit tests)
        return _NO_TASK
    return _NO_TASK if task is None else task


class Pacer:
    """The pace (requests a second) of an endpoint whose limit must be learned from 429s.

    Until the first 429 nothing paces but the slow-start window. The first 429 sets the pace
    to what got through lately; then each 429 of a request sent after the last cut cuts the
    pace by CUT and remembers the pace it cut from (`ceiling`); each answer moves the pace a
    step towards that ceiling (so it nears the limit slowly, and crosses it only a little),
    and past the ceiling it creeps up, in case the limit grew.
    """

    def __init__(self) -> None:
        self.rate: float | None = None  # None: not pacing yet (no 429, nothing announced)
        self.ceiling: float | None = None  # the pace of the last cut: above the limit
        self.floor = 0.0  # a rate known to be allowed (an upstream's limit, through a proxy)
        self.outcomes: deque[tuple[float, bool]] = deque(maxlen=4096)  # (sent, accepted)
        self.cut_at = -1e9  # when the pace was last cut
        self.grown_at = 0.0
        self.pressed_at = -1e9  # when the pace last held a request back
        self.latency = 0.0  # seconds from sending to an answer, lately
        self.cuts = 0

    def raise_floor(self, rate: float, now: float) -> None:
        """The endpoint allows at least `rate`: pace from there, growing, until a 429."""
        self.floor = max(self.floor, rate)
        if self.rate is None or self.rate < self.floor:
            self.rate, self.grown_at = self.floor, now

    def accepted(self, sent: float, now: float) -> None:
        """A request sent at `sent` was answered: the pace may grow."""
        self.outcomes.append((sent, True))
        self.latency += (now - sent - self.latency) / 8  # a moving average
        rate, ceiling = self.rate, self.ceiling
        if rate is None:
            return
        if now - self.pressed_at > PRESSED_S or sent < self.cut_at:
            self.grown_at = now  # idle, or an answer from before the cut: no news
        elif ceiling is None:
            # Nothing refused yet at this pace: grow fast (per second, not per answer).
            self.rate = rate * (1 + FAST) ** max(0.0, now - self.grown_at)
            self.grown_at = now
        elif rate < ceiling * (1 - APPROACH / 2):
            self.rate = rate + (ceiling - rate) * APPROACH
        else:
            self.rate = max(rate, ceiling) * (1 + CREEP)

    def refused(self, sent: float, now: float, hint_s: float | None) -> None:
        """A request sent at `sent` got a 429; `hint_s` is the server's retry-after."""
        self.outcomes.append((sent, False))
        if self.rate is None:
            # The first 429: what got through lately (a burst included, answers still on
            # their way not) is a first guess; a sub-second retry-after is at most one
            # token's interval, so 1/retry-after bounds the refill rate from above.
            span = max(1.0, 2 * self.latency)
            guess = sum(1 for t, ok in self.outcomes if ok and sent - span <= t <= sent) / span
            if hint_s is not None and 0 < hint_s < 1:
                guess = min(guess, 1 / hint_s)
            self.rate, self.cut_at, self.grown_at = max(MIN_RATE, self.floor, guess), now, now
            return
        if sent <= self.cut_at + 1 / self.rate:
            return  # sent before the last cut took effect: that cut answered it
        self.ceiling = self.rate
        self.rate = max(MIN_RATE, self.floor, self.rate * CUT)
        self.cut_at, self.grown_at = now, now
        self.cuts += 1

    def summary(self) -> dict[str, Any]:
        """What the pacer learned, in requests a minute, for the run's report."""
        per_min = {"rate": self.rate, "ceiling": self.ceiling, "floor": self.floor or None}
        out: dict[str, Any] = {k: round(v * 60, 1) for k, v in per_min.items() if v is not None}
        return {**out, "cuts": self.cuts}
