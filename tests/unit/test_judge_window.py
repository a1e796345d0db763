"""The ordered judge window filter and run share: commits in request order whatever the
answer timing, `may_ask` bounding what is in flight, and its uniform stops (budget, failed
request, batch deferral, cancellation). And the one calibration stop, in each one's words."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from synthgen.errors import BudgetExceeded, EndpointError
from synthgen.llm.batching import Deferred
from synthgen.llm.client import RequestFailed
from synthgen.stages.filter.calibration import SeedCheck, seed_stop
from synthgen.stages.filter.window import JudgeWindow, WindowEnd


class Answers:
    """Verdicts held until released: item n's verdict is "v<n>", or what `raises` says."""

    def __init__(self, raises: dict[int, BaseException] | None = None) -> None:
        self.raises = raises or {}
        self.gates: dict[int, asyncio.Event] = {}
        self.asked: list[int] = []
        self.landed: list[int] = []
        self.committed: list[tuple[int, str | None]] = []

    def gate(self, n: int) -> asyncio.Event:
        return self.gates.setdefault(n, asyncio.Event())

    def ask(self, n: int) -> Awaitable[str] | None:
        if n < 0:
            return None  # nothing to ask (a rule already decided it)
        self.asked.append(n)
        return self._verdict(n)

    async def _verdict(self, n: int) -> str:
        if n in self.gates:
            await self.gates[n].wait()
        self.landed.append(n)
        if n in self.raises:
            raise self.raises[n]
        return f"v{n}"

    def commit(self, n: int, verdict: str | None) -> None:
        self.committed.append((n, verdict))


def run(window: JudgeWindow[int, str], items: list[int]) -> WindowEnd[int]:
    return asyncio.run(window.run(iter(items)))


def test_commits_follow_request_order_not_answer_order() -> None:
    a = Answers()

    async def main() -> WindowEnd[int]:
        first = a.gate(0)
        task = asyncio.create_task(JudgeWindow(a.ask, a.commit, 8).run(iter([0, -1, 1, 2])))
        while len(a.landed) < 2:  # every answer but the first's
            await asyncio.sleep(0)
        assert a.committed == []
        first.set()
        return await task

    end = asyncio.run(main())
    assert end == WindowEnd("complete")
    assert a.landed == [1, 2, 0]
    assert a.committed == [(0, "v0"), (-1, None), (1, "v1"), (2, "v2")]


def test_may_ask_bounds_what_is_taken_but_not_committed() -> None:
    a = Answers()
    in_flight: list[int] = []

    def may_ask(n: int) -> bool:
        in_flight.append(n)
        return n < 2

    rest = iter(range(6))
    end = asyncio.run(JudgeWindow(a.ask, a.commit, 8, may_ask).run(rest))
    assert end.status == "complete" and max(in_flight) == 2
    assert [n for n, _ in a.committed] == list(range(6))
    assert list(rest) == []


def test_a_stop_commits_nothing_after_it_and_lets_what_is_in_flight_land() -> None:
    for error, status in (
        (BudgetExceeded("cap", hint="raise it"), "stopped_budget"),
        (RequestFailed("gave up after retrying: 503"), "failed"),
    ):
        a = Answers(raises={1: error})
        rest = iter(range(6))
        end = asyncio.run(JudgeWindow(a.ask, a.commit, 3).run(rest))
        assert end.status == status and end.uncommitted == (1, 2, 3)
        assert a.committed == [(0, "v0")]
        assert sorted(a.landed) == [0, 1, 2, 3]  # 2 and 3 were in flight: they landed
        assert list(rest) == [4, 5]  # never taken
        if status == "failed":
            assert isinstance(end.error, EndpointError)
            assert "a judge request failed after retries" in end.error.message


def test_a_deferred_verdict_queues_every_later_request_and_commits_none() -> None:
    a = Answers(raises={1: Deferred(), 3: Deferred(), 4: BudgetExceeded("cap")})
    end = asyncio.run(JudgeWindow(a.ask, a.commit, 2).run(iter(range(6))))
    assert end.status == "pending" and end.error is None
    assert end.uncommitted == (1, 2, 3, 4, 5) and end.waiting == 2
    assert a.committed == [(0, "v0")]
    assert a.asked == list(range(6))


def test_while_deferred_may_ask_still_counts_every_uncommitted_item() -> None:
    a = Answers(raises={0: Deferred()})
    end = asyncio.run(JudgeWindow(a.ask, a.commit, 8, lambda n: n < 3).run(iter(range(6))))
    assert end.status == "pending" and a.asked == [0, 1, 2]


def test_a_cancelled_window_cancels_what_is_in_flight() -> None:
    a = Answers()

    async def main() -> WindowEnd[int]:
        a.gate(0)
        a.gate(1)
        task = asyncio.create_task(JudgeWindow(a.ask, a.commit, 4).run(iter(range(3))))
        while len(a.asked) < 3:
            await asyncio.sleep(0)
        task.cancel()
        return await task

    end = asyncio.run(main())
    assert end.status == "interrupted" and end.uncommitted == (0, 1, 2)
    assert a.committed == [] and 0 not in a.landed and 1 not in a.landed


def seeds(passed: int, n: int = 10) -> SeedCheck:
    return SeedCheck(n=n, passed=passed, unscored=0, max_fail=0.2, failed_ids=(), threshold=4)


def test_one_calibration_stop_in_the_words_of_each_command() -> None:
    assert seed_stop(None, "run") is None
    assert seed_stop(seeds(8), "filter") is None  # 20% failed: allowed
    f = seed_stop(seeds(7), "filter")
    assert f is not None and f.message == (
        "the judge failed 3 of 10 human seeds (30% > --max-seed-fail 20%): its threshold "
        "cannot be trusted; no candidate was judged"
    )
    assert f.hint == (
        "check the rubric, --threshold (4) and the judge model; the seeds' verdicts are "
        "cached (a changed rubric or judge model asks again)"
    )
    r = seed_stop(seeds(7), "run")
    assert r is not None and r.message == (
        "the judge failed 3 of 10 human seeds (30% > max_seed_fail 20%): its threshold "
        "cannot be trusted; no candidate was generated"
    )
    assert r.hint == (
        "check the rubric, the threshold (4) and the judge model; the seeds' verdicts are "
        "cached (a changed rubric or judge model asks again)"
    )


def test_the_calibration_stop_names_each_failing_seed_and_when_the_judge_is_the_standin() -> None:
    from synthgen.stages.filter.calibration import SeedFailure

    failures = tuple(
        SeedFailure(f"s{i}", f"seeds.jsonl:line {i}", 2.0 if i else None, f"why {i}")
        for i in range(12)
    )
    check = SeedCheck(12, 0, 1, 0.2, tuple(f.id for f in failures), 3.0, failures)
    err = seed_stop(check, "run")
    assert err is not None
    assert "s0 (seeds.jsonl:line 0): no verdict: why 0" in err.message
    assert "s1 (seeds.jsonl:line 1): score 2 < 3: why 1" in err.message
    assert "s9 " in err.message and "s10 " not in err.message and "and 2 more" in err.message
    assert "stand-in" not in err.hint and "the threshold (3)" in err.hint
    standin = seed_stop(check, "filter", standin=True)
    assert standin is not None and "made up" in standin.hint and "judge_score" in standin.hint
    assert check.summary()["failed"][1] == {
        "id": "s1",
        "where": "seeds.jsonl:line 1",
        "score": 2.0,
        "reason": "why 1",
    }
    assert seed_stop(SeedCheck(12, 11, 0, 0.2, ("s0",), 3.0, failures[:1]), "run") is None
