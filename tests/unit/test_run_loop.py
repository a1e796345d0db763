"""The run loop's judging over a scripted judge client: kept in candidate order whatever the
answer timing, survivors never asked ledgered as surplus and unpaid, and the stops (budget,
a request that kept failing, a quality gate). No HTTP, no clock, no sleeps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

from support.fakes import FakeClient, Reply, as_llm_client, verdict_reply

from synthgen.config import Config
from synthgen.core.clients import Clients
from synthgen.core.runtime import RunSlot
from synthgen.core.sink import Sink
from synthgen.core.stage import Outcome, StageRun
from synthgen.errors import BudgetExceeded, EndpointError, StoppedError
from synthgen.llm.client import RequestFailed
from synthgen.llm.cost import Budget
from synthgen.llm.misses import Online
from synthgen.llm.types import ChatRequest
from synthgen.pipeline.run_loop import Pipeline
from synthgen.records import Provenance, Record, Seed, Usage, record_id
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.filter.judge import load_rubric

CRITERIA = [c.name for c in load_rubric(None).criteria]
SEEDS = [Seed(id="s0", instruction="a human instruction", output="a human output")]


def graded(req: ChatRequest) -> str:
    """The response under grading."""
    text = req.messages[1]["content"]
    return text.split("<response>", 1)[1].split("</response>", 1)[0].strip()


def script(req: ChatRequest, _call: int) -> Reply:
    """GOOD passes, BAD fails; BUDGET and FAIL raise what the client would."""
    out = graded(req)
    if out.startswith("BUDGET"):
        return BudgetExceeded("the cost cap is reached", hint="raise it")
    if out.startswith("FAIL"):
        return RequestFailed("gave up after retrying: 503")
    return verdict_reply(5 if out.startswith("GOOD") else 2, CRITERIA)


def candidate(output: str) -> Record:
    instruction = f"Explain how {output.lower()} is done, step by step."
    prov = Provenance(
        run_id="run",
        created_at="2026-01-01T00:00:00Z",
        synthgen_version="0",
        config_sha256="cfg",
        method="self-instruct",
        parents=["seed:s0"],
        usage=Usage(),
    )
    return Record(
        id=record_id(instruction, "", output),
        instruction=instruction,
        output=output,
        provenance=prov,
    )


class Loop:
    """A Pipeline whose judge is a FakeClient, writing to a real Sink in a temporary dir."""

    def __init__(self, tmp: Path, target: int, concurrency: int = 4, **gates: Any) -> None:
        self.cfg = Config.model_validate(
            {
                "target": {"count": target},
                "endpoint": {"concurrency": concurrency},
                "filter": {"judge": {"threshold": 3.5}},
                "gates": gates,
            }
        )
        self.out, self.ledger = tmp / "data.jsonl", tmp / "dropped.jsonl"
        self.sink = Sink(self.out, self.ledger, to_stdout=False, resume=False)
        self.judge = FakeClient(script, model="fake-judge")
        judges = (as_llm_client(self.judge),)
        run = StageRun(
            self.cfg,
            cast("RunSlot", None),  # the loop never touches the claimed slot
            self.sink,
            Budget(None),
            list(judges),
            lambda s: None,
            Online(),
            roles=Clients(None, judges, ()),
        )
        ctx = RunContext("run", "cfg", "default", self.cfg.generation, "fake-model", "fake.test")
        self.pipeline = Pipeline(self.cfg, SEEDS, run, ctx)

    def judge_and_keep(self, survivors: list[Record], hold: int | None = None) -> Outcome | None:
        """Calibrate (no seeds: only builds the judge), then judge `survivors`; call number
        `hold` answers only once every other call has."""

        async def main() -> Outcome | None:
            assert await self.pipeline.calibrate() is None
            if hold is None:
                return await self.pipeline.judge_and_keep(survivors)
            gate = self.judge.hold(hold)
            task = asyncio.create_task(self.pipeline.judge_and_keep(survivors))
            await self.judge.until_returned(len(survivors) - 1)
            gate.set()
            return await task

        stop = asyncio.run(main())
        self.sink.close(finalise_files=True)
        return stop

    def kept(self) -> list[str]:
        return [json.loads(line)["output"] for line in self.out.read_text().splitlines()]

    def drops(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]


def test_records_are_kept_in_candidate_order_whatever_order_the_verdicts_come_in(
    tmp_path: Path,
) -> None:
    outs = ["GOOD one", "BAD two", "GOOD three", "GOOD four", "BAD five", "GOOD six"]
    loop = Loop(tmp_path, target=10, concurrency=8)
    stop = loop.judge_and_keep([candidate(o) for o in outs], hold=0)  # the first answers last
    assert stop is None
    assert loop.judge.returned[-1] == 0  # it did answer last
    assert loop.kept() == ["GOOD one", "GOOD three", "GOOD four", "GOOD six"]
    drops = loop.drops()
    assert [d["output"] for d in drops] == ["BAD two", "BAD five"]
    assert {(d["dropped"]["stage"], d["dropped"]["reason"]) for d in drops} == {
        ("judge", "below_threshold")
    }
    assert all(d["provenance"]["judge"]["score"] == 2 for d in drops)
    assert loop.pipeline.totals.kept == 4 and loop.pipeline.judged == 6


def test_survivors_never_asked_are_ledgered_as_surplus_and_unpaid(tmp_path: Path) -> None:
    outs = [f"GOOD answer {n}" for n in range(6)]
    loop = Loop(tmp_path, target=2, concurrency=4)
    stop = loop.judge_and_keep([candidate(o) for o in outs])
    assert stop is None
    # At the prior pass rate (0.8) three verdicts in flight may reach 2: only three are asked.
    assert [graded(r) for r in loop.judge.calls] == outs[:3]
    assert loop.kept() == outs[:2]
    surplus = loop.drops()
    assert [d["output"] for d in surplus] == outs[2:]
    assert {(d["dropped"]["stage"], d["dropped"]["reason"]) for d in surplus} == {
        ("surplus", "surplus")
    }
    # The third was judged (and paid) before the target was reached; the rest never were.
    assert "judge" in surplus[0]["provenance"]
    assert not any("judge" in d["provenance"] for d in surplus[1:])


def test_a_budget_stop_ends_commits_at_the_first_unjudged_survivor(tmp_path: Path) -> None:
    outs = ["GOOD one", "GOOD two", "BUDGET three", "GOOD four", "GOOD five", "GOOD six"]
    loop = Loop(tmp_path, target=10, concurrency=2)
    stop = loop.judge_and_keep([candidate(o) for o in outs])
    assert stop is not None and stop.status == "stopped_budget"
    assert isinstance(stop.error, StoppedError)
    assert loop.kept() == ["GOOD one", "GOOD two"]
    drops = loop.drops()
    assert [d["output"] for d in drops] == outs[2:]
    assert {(d["dropped"]["stage"], d["dropped"]["reason"]) for d in drops} == {
        ("judge", "not_judged")
    }
    # The verdict in flight beside the one that hit the cap landed (in the cache, for the
    # rerun); nothing was asked after the stop.
    asked = [graded(r) for r in loop.judge.calls]
    assert asked == outs[:4] and len(loop.judge.returned) == 4
    assert len(loop.judge.answered) == 3


def test_a_request_that_kept_failing_stops_the_run_as_failed(tmp_path: Path) -> None:
    outs = ["GOOD one", "FAIL two", "GOOD three"]
    loop = Loop(tmp_path, target=10, concurrency=1)
    stop = loop.judge_and_keep([candidate(o) for o in outs])
    assert stop is not None and stop.status == "failed"
    assert isinstance(stop.error, EndpointError)
    assert "a judge request failed after retries" in stop.error.message
    assert loop.kept() == ["GOOD one"]
    assert [d["dropped"]["reason"] for d in loop.drops()] == ["not_judged", "not_judged"]
    assert [graded(r) for r in loop.judge.calls] == outs[:2]


def test_a_stop_on_verdicts_the_target_did_not_need_is_no_stop(tmp_path: Path) -> None:
    outs = ["GOOD one", "GOOD two", "BUDGET three"]
    loop = Loop(tmp_path, target=2, concurrency=1)
    assert loop.judge_and_keep([candidate(o) for o in outs]) is None
    assert loop.kept() == ["GOOD one", "GOOD two"]
    assert [d["dropped"]["reason"] for d in loop.drops()] == ["surplus"]


def test_a_tripped_gate_stops_the_run_naming_gate_threshold_and_value(tmp_path: Path) -> None:
    loop = Loop(tmp_path, target=10, min_mean_score=4.5, min_candidates=1)
    outs = ["GOOD one", "BAD two", "GOOD three"]
    assert loop.judge_and_keep([candidate(o) for o in outs]) is None
    loop.pipeline.totals.input = 3
    assert loop.pipeline.gate_stop(final=False) is not None  # mean score 4.0 < 4.5
    stop = loop.pipeline.gate_stop(final=True)
    assert stop is not None and stop.status == "stopped_gate"
    assert stop.error is not None and "min_mean_score" in stop.error.message
    assert "threshold 4.5" in stop.error.message and "measured 4.0" in stop.error.message
    assert loop.pipeline.gate is not None and loop.pipeline.gate.gate == "min_mean_score"
