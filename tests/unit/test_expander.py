"""Expander's scheduling policy over a scripted client: commit order, feedback lag, target,
refusals. No HTTP, no clock, no sleeps: jobs finish out of order because the test says so."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.fakes import FakeClient, Reply, as_llm_client, tasks_reply

from synthgen.config import Config
from synthgen.core.sink import Sink
from synthgen.llm.client import RequestRejected
from synthgen.llm.types import ChatRequest
from synthgen.records import Seed
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.engine import FEEDBACK_LAG, Expander, ExpandResult, Progress
from synthgen.stages.expand.strategies import job_rng

SEEDS = [
    Seed(id=f"s{i}", instruction=f"human instruction {i} about a topic", output=f"human out {i}")
    for i in range(6)
]
# Every job's request carries a seed drawn first from the job's own generator: a script can
# tell which job asks without relying on the order calls arrive in.
JOB_OF_SEED = {job_rng(0, j).randrange(2**31): j for j in range(400)}
REFUSED = "the endpoint answered HTTP 413: Request Entity Too Large"


def job_of(req: ChatRequest) -> int:
    assert req.seed is not None
    return JOB_OF_SEED[req.seed]


def per_job_tasks(req: ChatRequest, _call: int) -> Reply:
    """Each job answers with tasks named after it, so every record says which job made it."""
    assert req.json_schema is not None
    k = req.json_schema["properties"]["tasks"]["minItems"]
    return tasks_reply(*(f"task of job {job_of(req)} #{i}" for i in range(k)))


class Run:
    """One Expander over a FakeClient and a real Sink in a temporary directory."""

    def __init__(
        self,
        tmp: Path,
        script: Callable[[ChatRequest, int], Reply],
        resume: bool = False,
        **gen: Any,
    ) -> None:
        self.cfg = Config.model_validate({"generation": gen})
        self.out, self.ledger = tmp / "out.jsonl", tmp / "out.ledger.jsonl"
        self.sink = Sink(self.out, self.ledger, False, resume, limit=self.cfg.generation.count)
        self.client = FakeClient(script)
        self.commits: list[int] = []  # calls asked so far, at each commit
        ctx = RunContext("run", "cfg", "default", self.cfg.generation, "fake-model", "fake.test")
        client = as_llm_client(self.client)
        self.expander = Expander(self.cfg, SEEDS, client, self.sink, ctx, self._committed)

    def _committed(self, _p: Progress) -> None:
        self.commits.append(len(self.client.calls))

    def go(self) -> ExpandResult:
        result = asyncio.run(self.expander.run())
        self.sink.close(finalise_files=True)
        return result

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def drops(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]


def prompt_of(req: ChatRequest) -> str:
    return req.messages[-1]["content"]


def test_records_are_committed_in_job_order_when_later_jobs_finish_first(tmp_path: Path) -> None:
    run = Run(tmp_path, per_job_tasks, count=4, per_call=1)
    gate = run.client.hold(0)

    async def main() -> ExpandResult:
        task = asyncio.create_task(run.expander.run())
        await run.client.until_returned(3)
        assert run.sink.count == 0  # jobs 1..3 are done, but job 0 comes first
        gate.set()
        return await task

    result = asyncio.run(main())
    run.sink.close(finalise_files=True)
    assert result.status == "complete"
    assert run.client.returned == [1, 2, 3, 0]
    assert [r["instruction"] for r in run.records()] == [f"task of job {j} #0" for j in range(4)]


def test_machine_examples_lag_by_feedback_lag_jobs_and_never_replace_seeds(
    tmp_path: Path,
) -> None:
    first = FEEDBACK_LAG  # the window's first fill, released last-started-first
    run = Run(tmp_path, per_job_tasks, count=first + 8, per_call=1, machine_examples=2)
    gates = [run.client.hold(c) for c in range(first)]

    async def main() -> ExpandResult:
        task = asyncio.create_task(run.expander.run())
        for n, gate in enumerate(reversed(gates), 1):
            gate.set()
            await run.client.until_returned(n)
        return await task

    result = asyncio.run(main())
    assert result.status == "complete"
    assert run.client.returned[:first] == list(reversed(range(first)))
    for call, req in enumerate(run.client.calls):
        j, text = job_of(req), prompt_of(req)
        machine = [int(m) for m in re.findall(r"Instruction: task of job (\d+) #0", text)]
        humans = re.findall(r"Instruction: (human instruction \d+)", text)
        # Job j sees exactly the records of jobs before j - FEEDBACK_LAG ...
        visible = max(0, j - FEEDBACK_LAG)
        assert all(m < visible for m in machine), (j, machine)
        assert len(machine) == min(2, visible), (j, machine)
        # ... each committed before the job was asked ...
        assert all(run.commits[m] <= call for m in machine), (j, machine)
        # ... and beside the human seeds, never in their place.
        assert len(set(humans)) == run.cfg.generation.human_examples, (j, humans)
    assert [job_of(r) for r in run.client.calls] == list(range(first + 8))


def test_run_stops_at_exactly_the_target(tmp_path: Path) -> None:
    run = Run(tmp_path, per_job_tasks, count=5, per_call=2)
    result = run.go()
    assert result.status == "complete" and result.error is None
    assert len(run.client.calls) == 3  # 2 + 2 + 2 >= 5: no fourth request is asked
    assert [r["instruction"] for r in run.records()] == [
        "task of job 0 #0",
        "task of job 0 #1",
        "task of job 1 #0",
        "task of job 1 #1",
        "task of job 2 #0",
    ]
    assert result.progress.written == 5 and result.progress.surplus == 1


def test_a_rerun_asks_the_same_requests_and_resumes(tmp_path: Path) -> None:
    first = Run(tmp_path, per_job_tasks, count=4, per_call=1, machine_examples=2)
    first.go()
    written = first.records()
    again = Run(tmp_path, per_job_tasks, resume=True, count=6, per_call=1, machine_examples=2)
    again.client.answered = first.client.answered  # the cache the first run filled
    result = again.go()
    assert result.status == "complete"
    assert [r.messages for r in again.client.calls[:4]] == [r.messages for r in first.client.calls]
    assert again.records()[:4] == written  # claimed from the disk, not written twice
    assert [r["instruction"] for r in again.records()] == [f"task of job {j} #0" for j in range(6)]


def test_refused_requests_are_ledgered_and_the_error_names_the_endpoints_answer(
    tmp_path: Path,
) -> None:
    refuse = RequestRejected(REFUSED, "request_rejected")
    run = Run(tmp_path, lambda req, call: refuse, count=2, per_call=1)
    result = run.go()
    assert result.status == "exhausted"
    assert result.error is not None
    assert f"every request was refused: {REFUSED}" in result.error.message
    drops = run.drops()
    assert len(drops) == len(run.client.calls) == run.expander.max_jobs
    assert {(d["dropped"]["stage"], d["dropped"]["reason"]) for d in drops} == {
        ("expand", "request_rejected")
    }
    assert {d["dropped"]["detail"] for d in drops} == {REFUSED}
    assert not run.records()


def test_exhausted_error_names_the_last_refusal_among_unusable_answers(tmp_path: Path) -> None:
    def script(req: ChatRequest, _call: int) -> Reply:
        j = job_of(req)
        if j % 2 == 0:
            return RequestRejected(f"the endpoint answered HTTP 400: too long (job {j})", "x")
        return "not JSON, and not after the repair either"

    run = Run(tmp_path, script, count=2, per_call=1)
    result = run.go()
    assert result.status == "exhausted" and result.error is not None
    last_even = max(j for j in range(run.expander.max_jobs) if j % 2 == 0)
    assert result.error.message.endswith(
        "the endpoint's answers yield too few usable candidates; last refusal: "
        f"the endpoint answered HTTP 400: too long (job {last_even})"
    )
    reasons = sorted({d["dropped"]["reason"] for d in run.drops()})
    assert reasons == ["invalid_json", "x"]
