"""Isolated refusals stay isolated: a single 429 delays only the request that met it (its
retry honours retry-after); the whole client slows only when refusals cluster as a limit's."""

from __future__ import annotations

import asyncio

import pytest

from synthgen.llm.limits import Clock, Limiter
from synthgen.llm.pacing import RUN, Refusals
from tests.support.ratesim import Endpoint, simulate


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.t += s


def _turn(lim: Limiter, fc: FakeClock) -> float:
    """How long a request waits for its turn (limits and slots), in fake seconds."""

    async def go() -> None:
        await lim.wait_turn(10)
        async with lim.slots:
            pass

    start = fc.t
    asyncio.run(go())
    return fc.t - start


def _answered(lim: Limiter, accepted: int) -> None:
    for _ in range(accepted):
        lim.succeeded()


def test_an_isolated_429_does_not_delay_other_requests() -> None:
    fc = FakeClock()
    lim = Limiter(16, None, None, Clock(now=fc.now, sleep=fc.sleep))
    _answered(lim, 20)
    lim.cool_down(0.2)  # what the client does with a 429 carrying retry-after-ms: 200
    lim.rate_limited()
    _answered(lim, 19)
    lim.cool_down(0.2)
    lim.rate_limited()
    assert lim.pacer.rate is None  # no pace learned from faults
    assert lim.cooldown_until == 0.0
    assert _turn(lim, fc) == 0.0
    assert (lim.refusals.isolated, lim.refusals.clusters) == (2, 0)


def test_a_burst_of_429s_slows_the_whole_client() -> None:
    fc = FakeClock()
    lim = Limiter(16, None, None, Clock(now=fc.now, sleep=fc.sleep))
    _answered(lim, 20)
    for _ in range(RUN):  # refused in a row, as past a limit
        lim.cool_down(0.2)
        lim.rate_limited()
    assert lim.pacer.rate is not None  # now paced
    assert _turn(lim, fc) > 0.0  # and the next request waits for it
    assert lim.refusals.clusters >= 1


def test_a_share_of_refusals_counts_as_a_cluster_even_between_answers() -> None:
    r = Refusals()
    for i in range(32):
        r.note("429" if i % 2 == 0 else "ok")  # one in two refused, never two in a row
    assert r.clustered()
    r = Refusals()
    for i in range(32):
        r.note("429" if i % 10 == 0 else "5xx" if i % 10 == 5 else "ok")  # isolated faults
    assert not r.clustered() and not r.clustered("5xx")


@pytest.mark.parametrize("rpm", [None, 6000])
def test_random_429s_leave_the_pace_alone(rpm: int | None) -> None:
    # An endpoint with no limit that refuses one request in twenty: the simulated run takes
    # no longer than its requests' own retries, as without faults.
    ep = Endpoint(rpm=10**9, burst=10**9, latency=0.05)
    fast = simulate(ep, 400, 16, rpm=rpm, seed=3, jitter=0.05)
    faulty = Endpoint(rpm=10**9, burst=10**9, latency=0.05, p_refuse=0.05)
    slow = simulate(faulty, 400, 16, rpm=rpm, seed=3, jitter=0.05)
    assert faulty.refused > 10
    assert slow.limiter.pacer.rate is None
    assert slow.seconds <= fast.seconds * 1.3


def test_5xx_cluster_by_share_only_429s_by_a_run_too() -> None:
    r = Refusals()
    for kind in ("ok", "5xx", "5xx", "5xx"):
        r.note(kind)
    assert not r.clustered("5xx")  # three in a row come by chance at a 10% fault rate
    for _ in range(10):
        r.note("5xx")
    assert r.clustered("5xx")  # 13 of the last 14: an outage
    r = Refusals()
    for kind in ("ok", "429", "429", "429"):
        r.note(kind)
    assert r.clustered("429")  # a limit refuses everything past it
