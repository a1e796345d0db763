"""One round of `run` over scripted generator and judge clients: its candidates are screened
and judged as they are made, and what it writes does not depend on when the answers come.
No HTTP, no clock, no sleeps: the test holds answers back to change their order."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from support.fakes import FakeClient, Reply, as_llm_client, tasks_reply, verdict_reply

from synthgen.config import Config
from synthgen.core.clients import Clients
from synthgen.core.runtime import RunSlot
from synthgen.core.sink import Sink
from synthgen.core.stage import StageRun
from synthgen.llm.cost import Budget
from synthgen.llm.misses import Online
from synthgen.llm.types import ChatRequest
from synthgen.pipeline.run_loop import Pipeline
from synthgen.records import Seed
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.strategies import job_rng
from synthgen.stages.filter.judge import load_rubric

CRITERIA = [c.name for c in load_rubric(None).criteria]
SEEDS = [Seed(id=f"s{i}", instruction=f"a human instruction {i}", output="out") for i in range(4)]
JOB_OF_SEED = {job_rng(0, j).randrange(2**31): j for j in range(50)}
TASKS = {  # job → its candidates: GOOD ones pass the judge, BAD ones fail it, "Hi?" a rule
    0: ["BAD beta", "GOOD alpha", "GOOD gamma"],
    1: ["Hi?", "GOOD delta", "BAD epsilon"],
    2: ["GOOD zeta", "Ok?", "GOOD eta"],
}


def words(name: str) -> str:
    """An instruction no other shares a word pair with (nothing is a near duplicate)."""
    digest = (
        hashlib.sha256(name.encode())
        .hexdigest()
        .translate(str.maketrans("0123456789", "ghijklmnop"))
    )
    return " ".join(digest[i : i + 5] for i in range(0, 40, 5))


def generate(req: ChatRequest, _call: int) -> Reply:
    assert req.seed is not None
    outs = TASKS[JOB_OF_SEED[req.seed]]
    return tasks_reply(*(o if o.endswith("?") else f"{o} {words(o)}" for o in outs))


def judge(req: ChatRequest, _call: int) -> Reply:
    text = req.messages[1]["content"].split("<response>", 1)[1]
    return verdict_reply(5 if "GOOD" in text else 2, CRITERIA)


Plan = Callable[[FakeClient, FakeClient], Awaitable[None]]


def one_round(tmp: Path, plan: Plan) -> tuple[bytes, bytes]:
    """data.jsonl and dropped.jsonl after one round of 3 calls × 3, answers timed by `plan`."""
    cfg = Config.model_validate(
        {
            "target": {"count": 100},
            "endpoint": {"concurrency": 3},
            "generation": {"per_call": 3, "machine_examples": 0},
            "filter": {"judge": {"threshold": 3.5}},
        }
    )
    sink = Sink(tmp / "data.jsonl", tmp / "dropped.jsonl", to_stdout=False, resume=False)
    gen, jud = FakeClient(generate), FakeClient(judge, model="fake-judge")
    clients = [as_llm_client(gen), as_llm_client(jud)]
    run = StageRun(
        cfg,
        cast("RunSlot", None),
        sink,
        Budget(None),
        clients,
        lambda s: None,
        Online(),
        roles=Clients(clients[0], (clients[1],), ()),
    )
    ctx = RunContext("run", "cfg", "default", cfg.generation, "fake-model", "fake.test")
    pipeline = Pipeline(cfg, SEEDS, run, ctx)

    async def main() -> None:
        assert await pipeline.calibrate() is None
        steer = asyncio.create_task(plan(gen, jud))
        assert await pipeline.play_round(0, 9) is None
        await steer

    asyncio.run(main())
    sink.close(finalise_files=True)
    assert pipeline.totals.input == 9 and pipeline.totals.kept == 5
    # created_at is when an answer first arrived: the clock's, not the run's decision
    data, dropped = (
        re.sub(rb'"created_at":"[^"]*"', b"", (tmp / name).read_bytes())
        for name in ("data.jsonl", "dropped.jsonl")
    )
    return data, dropped


async def judge_after_all_generation(gen: FakeClient, jud: FakeClient) -> None:
    gate = jud.hold(0)  # no verdict before every generation answer is in
    await gen.until_returned(3)
    gate.set()


async def generation_after_verdicts(gen: FakeClient, jud: FakeClient) -> None:
    gate = gen.hold(1)  # job 1 answers only once job 0's verdicts are in
    await jud.until_returned(3)
    gate.set()


def test_a_round_is_judged_as_it_is_made_and_writes_the_same_bytes_whatever_the_timing(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # B: job 0's three verdicts came back while job 1 was still generating, so the judge
    # worked on the round before it was all made (and the rule drop of job 1 came after the
    # judge's drops of job 0); A: the other way round.
    a = one_round(tmp_path / "a", judge_after_all_generation)
    b = one_round(tmp_path / "b", generation_after_verdicts)
    assert a == b
    data, dropped = a
    assert data.count(b"\n") == 5 and b"GOOD alpha" in data.splitlines()[0]
    reasons = [line.split(b'"reason":"')[1].split(b'"')[0] for line in dropped.splitlines()]
    # the round's drops in phase order: the screen's (in candidate order), then the judge's
    assert reasons == [b"instruction_too_short"] * 2 + [b"below_threshold"] * 2, reasons
