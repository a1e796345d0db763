"""`expand`: schedule jobs, commit their candidates in job order, stop on target or budget.

Jobs run concurrently but are committed strictly in job order, and job j may only use
machine examples committed by jobs before j - lag. Together with per-job random
generators this makes every request a pure function of the configuration, so a rerun
replays answered requests from the cache and lands on exactly the same records.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from synthgen.config import Config
from synthgen.core.sink import Sink
from synthgen.errors import BudgetExceeded, EndpointError, Interrupted, SynthgenError
from synthgen.llm.client import LLMClient, RequestFailed
from synthgen.records import DropReason, LedgerEntry, Record, Seed, ledger_id
from synthgen.stages.expand.candidates import Builder, JobOutcome, RunContext
from synthgen.stages.expand.strategies import Job, make_job

FEEDBACK_LAG = 64  # jobs; fixed so that changing --concurrency never changes a prompt
MAX_CONSECUTIVE_FAILURES = 10


class PoolView(Sequence[Record]):
    """The first `size` records of a list, without copying it."""

    def __init__(self, items: list[Record], size: int) -> None:
        self.items, self.size = items, size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | Sequence[Record]:
        if isinstance(i, slice):
            return self.items[: self.size][i]
        if not -self.size <= i < self.size:
            raise IndexError(i)
        return self.items[i % self.size]


@dataclass
class Progress:
    written: int = 0
    target: int = 0
    jobs_done: int = 0
    surplus: int = 0
    duplicates: int = 0
    failed_jobs: int = 0


@dataclass
class ExpandResult:
    status: str  # complete | stopped_budget | interrupted | exhausted | failed
    progress: Progress
    error: SynthgenError | None = None


class Expander:
    def __init__(
        self,
        cfg: Config,
        seeds: list[Seed],
        client: LLMClient,
        sink: Sink,
        ctx: RunContext,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.cfg, self.gen, self.seeds = cfg, cfg.generation, seeds
        self.client, self.sink, self.ctx = client, sink, ctx
        self.builder = Builder(ctx, client)
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress(target=self.gen.count, written=sink.count)
        self.pool: list[Record] = []
        self.pool_jobs: list[int] = []
        self.yield_per_job = float(self.gen.per_call)
        self.records_seen = 0
        per_job = max(1, self.gen.per_call)
        self.max_jobs = 3 * math.ceil(self.gen.count / per_job) + 10

    def job(self, index: int) -> Job:
        # Commits happen in job order, so the pool is sorted by job: the records that job
        # `index` may see are a prefix of it.
        visible = bisect.bisect_left(self.pool_jobs, index - FEEDBACK_LAG)
        pool = PoolView(self.pool, visible) if self.gen.machine_examples else PoolView([], 0)
        return make_job(index, self.gen, self.seeds, pool, self.cfg.task, self.cfg.description)

    async def run(self) -> ExpandResult:
        status: str = "complete"
        error: SynthgenError | None = None
        running: dict[int, asyncio.Task[JobOutcome]] = {}
        done: dict[int, JobOutcome | BaseException] = {}
        finished: asyncio.Queue[int] = asyncio.Queue()  # O(1) per completion, unlike wait()
        next_job = next_commit = 0
        pending: tuple[Job, bool] | None = None  # built but not yet started
        stopping: str | None = None
        consecutive_failures = 0
        try:
            while self.sink.count < self.gen.count:
                while (
                    stopping is None
                    and next_job - next_commit < FEEDBACK_LAG
                    and next_job < self.max_jobs
                ):
                    if pending is None:
                        job = self.job(next_job)
                        pending = (job, self.client.cached(job.request))
                    job, is_cached = pending
                    # Cached jobs cost nothing, so they always run; new requests only while the
                    # yield expected from everything in flight still falls short of the target.
                    expected = self.yield_per_job * (len(running) + len(done))
                    if not is_cached and self.sink.count + expected >= self.gen.count:
                        break
                    task = asyncio.create_task(self.builder.run(job))
                    task.add_done_callback(functools.partial(_notify, finished, next_job))
                    running[next_job] = task
                    next_job += 1
                    pending = None
                if not running:
                    if stopping is None and next_job >= self.max_jobs:
                        status = "exhausted"
                    break
                ready = [await finished.get()]
                while not finished.empty():
                    ready.append(finished.get_nowait())
                for j in ready:
                    t = running.pop(j)
                    exc = t.exception()
                    done[j] = exc if exc is not None else t.result()
                while next_commit in done and self.sink.count < self.gen.count:
                    got = done.pop(next_commit)
                    if isinstance(got, BudgetExceeded):
                        stopping, error = "stopped_budget", got
                        break
                    if isinstance(got, RequestFailed):
                        consecutive_failures += 1
                        self.progress.failed_jobs += 1
                        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                            stopping, error = "failed", got
                            break
                    elif isinstance(got, BaseException):
                        raise got
                    else:
                        consecutive_failures = 0
                        self.commit(next_commit, got)
                    next_commit += 1
                # When stopping, what is in flight was paid for: let it land (and be cached),
                # but start nothing new; commits end at the first job that did not finish.
                if stopping and not running:
                    break
        except asyncio.CancelledError:
            status, error = (
                "interrupted",
                Interrupted(
                    "interrupted; what was done is written", hint="run the same command to resume"
                ),
            )
        finally:
            for t in running.values():
                t.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
        if stopping and status != "interrupted":
            status = stopping
        if status == "exhausted":
            error = EndpointError(
                f"only {self.sink.count} of {self.gen.count} records after {next_job} calls: "
                "the endpoint's answers yield too few usable candidates",
                hint="look at the ledger for the reasons; rerunning resumes",
            )
        if status == "failed" and error is not None:
            error = EndpointError(
                f"{MAX_CONSECUTIVE_FAILURES} requests in a row failed: {error.message}",
                hint="check the endpoint; rerun the same command to resume",
            )
        return ExpandResult(status, self.progress, error)

    def commit(self, index: int, outcome: JobOutcome) -> None:
        """Write one job's candidates and drops, in order, up to the target."""
        self.progress.jobs_done += 1
        for entry in outcome.dropped:
            self.sink.drop(entry)
        new = 0
        for k, rec in enumerate(outcome.records):
            if self.sink.count >= self.gen.count:
                self.progress.surplus += len(outcome.records) - k
                break
            if self.sink.add(rec):
                self.pool.append(rec)
                self.pool_jobs.append(index)
                new += 1
            else:
                self.progress.duplicates += 1
                self.sink.drop(
                    LedgerEntry(
                        id=ledger_id(rec.id, index, "duplicate_id"),
                        instruction=rec.instruction,
                        input=rec.input,
                        output=rec.output,
                        provenance=rec.provenance,
                        dropped=DropReason(
                            stage="expand",
                            reason="duplicate_id",
                            detail=f"same content as {rec.id}",
                        ),
                    )
                )
        self.sink.flush()
        self.records_seen += new
        self.yield_per_job = max(0.2, self.records_seen / max(1, self.progress.jobs_done))
        self.progress.written = self.sink.count
        self.on_progress(self.progress)


def _notify(queue: asyncio.Queue[int], index: int, _task: object) -> None:
    queue.put_nowait(index)


def summary_counts(result: ExpandResult, sink: Sink) -> dict[str, Any]:
    return {
        "requested": result.progress.target,
        "written": sink.count,
        "ledgered": sink.ledger_counts(),
        "surplus": result.progress.surplus,
        "failed_jobs": result.progress.failed_jobs,
    }
