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
from dataclasses import dataclass, field
from typing import Any, Literal

from synthgen.config import Config
from synthgen.core.sink import Sink
from synthgen.errors import BudgetExceeded, EndpointError, Interrupted, SynthgenError
from synthgen.llm.batching import Deferred
from synthgen.llm.client import LLMClient, RequestFailed
from synthgen.records import Record, Seed, Status, ledger_entry, ledger_id
from synthgen.stages.expand.axes import Drawer, load_axes, random_drawer, with_axes
from synthgen.stages.expand.candidates import Builder, JobOutcome, RunContext
from synthgen.stages.expand.consumer import Consumer
from synthgen.stages.expand.grounded import Grounding
from synthgen.stages.expand.strategies import Job, PoolView, Task, generation_of, make_job

FEEDBACK_LAG = 64  # jobs; fixed so that changing --concurrency never changes a prompt
# Jobs whose prompts show no records of this run may be planned this many times `concurrency`
# ahead of the commits: a request held by its retry-after then holds back nothing behind it.
AHEAD_PER_SLOT = 8
MAX_CONSECUTIVE_FAILURES = 10


@dataclass
class Progress:
    """What an expand run has done so far, reported after every committed job."""

    written: int = 0
    target: int = 0
    jobs_done: int = 0
    surplus: int = 0
    duplicates: int = 0
    failed_jobs: int = 0


@dataclass
class ExpandResult:
    """How an expand run ended: its status, its counts, and the error that ended it early."""

    status: Status
    progress: Progress
    error: SynthgenError | None = None


@dataclass
class Window:
    """The jobs between planning and commit: every job below `next_commit` is settled."""

    finished: asyncio.Queue[int]  # job numbers as they finish: O(1) each, unlike wait()
    running: dict[int, asyncio.Task[JobOutcome]] = field(default_factory=dict)
    done: dict[int, JobOutcome | BaseException] = field(default_factory=dict)
    next_job: int = 0
    next_commit: int = 0
    planned: tuple[Job, bool] | None = None  # (job, its answer is cached), built, not started


class Expander:
    """Runs jobs concurrently and commits them in job order until the target is written."""

    def __init__(
        self,
        cfg: Config,
        seeds: list[Seed],
        client: LLMClient,
        sink: Consumer,
        ctx: RunContext,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        initial_pool: Sequence[Record] = (),
        feed_back: bool = True,
        seed_weights: Sequence[float] | None = None,
        instruction_gate: Callable[[Task], tuple[str, str, str] | None] | None = None,
        responders: Sequence[LLMClient] = (),
        ground: Callable[[int], Grounding] | None = None,
        axes: Drawer | None = None,
    ) -> None:
        self.cfg, self.gen, self.seeds = cfg, generation_of(cfg), seeds
        # Each job's values of generation.axes: `run` passes its steering's, else drawn here.
        self.axes = axes or _drawer(cfg)
        # `run` shows every job the records kept in earlier rounds and keeps its own
        # (unjudged) candidates out of the prompts; plain expand feeds its records back.
        self.feeds_back, self.seed_weights = feed_back, seed_weights
        self.ground = ground  # grounded: job number → its chunk(s) (coverage.py)
        self.client, self.sink, self.ctx = client, sink, ctx
        self.builder = Builder(ctx, client, instruction_gate, responders)
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress(target=self.gen.count, written=sink.count)
        self.pool: list[Record] = list(initial_pool)
        self.pool_jobs: list[int] = [-(10**9)] * len(self.pool)  # visible to every job
        self.yield_per_job = float(self.gen.per_call)
        self.records_seen = 0
        per_job = max(1, self.gen.per_call)
        self.max_jobs = 3 * math.ceil(self.gen.count / per_job) + 10
        # Once decided; "interrupted": a job's request was not sent as the command is stopping.
        self.stopping: Literal["stopped_budget", "failed", "interrupted"] | None = None
        self.error: SynthgenError | None = None
        self.consecutive_failures = 0
        self.refused_jobs = 0  # committed jobs whose own request the endpoint refused
        self.last_refusal: str | None = None  # what the endpoint answered, for the error

    def job(self, index: int) -> Job:
        """Plan job `index` from the seeds and the machine records it is allowed to see."""
        # Commits happen in job order, so the pool is sorted by job: the records that job
        # `index` may see are a prefix of it.
        visible = bisect.bisect_left(self.pool_jobs, index - FEEDBACK_LAG)
        pool = PoolView(self.pool, visible) if self.gen.machine_examples else PoolView([], 0)
        job = make_job(
            index,
            self.gen,
            self.seeds,
            pool,
            self.cfg.task,
            self.cfg.description,
            self.seed_weights,
            self.ground,
        )
        return job if self.axes is None else with_axes(job, self.axes(index))

    async def run(self) -> ExpandResult:
        """Run jobs until the target is written, the budget is spent or the endpoint gives out."""
        w = Window(asyncio.Queue())
        status: Status = "complete"
        try:
            while self.sink.count < self.gen.count:
                self._dispatch(w)
                if not w.running:  # a stop was decided, or there is nothing left to try
                    if isinstance(w.done.get(w.next_commit), Deferred):
                        status = "pending"  # batch mode: the rest waits for a batch
                    elif self.stopping is None and w.next_job >= self.max_jobs:
                        status = "exhausted"
                    break
                await self._collect(w)
                self._commit_ready(w)
        except asyncio.CancelledError:
            status = "interrupted"
        finally:
            await _cancel(w.running)
        return self._result(status, w)

    def _dispatch(self, w: Window) -> None:
        """Start planned jobs, in job order, while the window has room and the target needs them."""
        # When stopping, what is in flight was paid for: let it land (and be cached), but
        # start nothing new.
        while (
            self.stopping is None
            and w.next_job - w.next_commit < self._lag()
            and w.next_job < self.max_jobs
        ):
            job, is_cached = self._plan_next(w)
            # Cached jobs cost nothing, so they always run; new requests only while needed.
            if not is_cached and not self._short_of_target(w):
                break
            task = asyncio.create_task(self.builder.run(job))
            task.add_done_callback(functools.partial(_notify, w.finished, w.next_job))
            w.running[w.next_job] = task
            w.next_job += 1
            w.planned = None

    def _lag(self) -> int:
        """How far planning may run ahead of commits. A job's prompt may show records of jobs
        FEEDBACK_LAG before it, so that is the bound. Where no prompt shows records of this
        run (no machine examples, or `run`'s fixed pool), every job needed is planned in batch
        mode (one batch together), and online AHEAD_PER_SLOT × concurrency jobs."""
        independent = not self.gen.machine_examples or not self.feeds_back
        if not independent:
            return FEEDBACK_LAG
        if self.client.misses.defers:
            return self.max_jobs
        return max(FEEDBACK_LAG, AHEAD_PER_SLOT * self.cfg.endpoint.concurrency)

    def _plan_next(self, w: Window) -> tuple[Job, bool]:
        """The next job, and whether its answer is cached: planned once, however long it waits."""
        if w.planned is None:
            job = self.job(w.next_job)
            w.planned = (job, self.client.cached(job.request))
        return w.planned

    def _short_of_target(self, w: Window) -> bool:
        """Does the yield expected from every job in flight still fall short of the target?"""
        expected = self.yield_per_job * (len(w.running) + len(w.done))
        return self.sink.count + expected < self.gen.count

    async def _collect(self, w: Window) -> None:
        """Wait for one job to finish, then take every job that has finished by now."""
        ready = [await w.finished.get()]
        while not w.finished.empty():
            ready.append(w.finished.get_nowait())
        for j in ready:
            t = w.running.pop(j)
            exc = t.exception()
            w.done[j] = exc if exc is not None else t.result()

    def _commit_ready(self, w: Window) -> None:
        """Commit finished jobs in job order, up to the first unfinished one or a stop."""
        while w.next_commit in w.done and self.sink.count < self.gen.count:
            if isinstance(w.done[w.next_commit], Deferred):
                break  # batch mode: later jobs wait, in order, until its answer is in
            if not self._settle(w.next_commit, w.done.pop(w.next_commit)):
                break  # commits end at the job that stopped the run
            w.next_commit += 1

    def _settle(self, index: int, got: JobOutcome | BaseException) -> bool:
        """Commit one finished job or count its failure; False when the run must stop."""
        if isinstance(got, BudgetExceeded):
            self.stopping, self.error = "stopped_budget", got
            return False
        if isinstance(got, Interrupted):  # the first Ctrl-C: commits end at this job
            self.stopping, self.error = "interrupted", got
            return False
        if isinstance(got, RequestFailed):
            self.consecutive_failures += 1
            self.progress.failed_jobs += 1
            if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                self.stopping, self.error = "failed", got
                return False
            return True
        if isinstance(got, BaseException):
            raise got
        self.consecutive_failures = 0
        self.commit(index, got)
        return True

    def commit(self, index: int, outcome: JobOutcome) -> None:
        """Write one job's candidates and drops, in order, up to the target."""
        self.progress.jobs_done += 1
        if outcome.refusal is not None:
            self.last_refusal = outcome.refusal
            self.refused_jobs += outcome.refused
        for entry in outcome.dropped:
            self.sink.drop(entry)
        new = 0
        for k, rec in enumerate(outcome.records):
            if self.sink.count >= self.gen.count:
                self.progress.surplus += len(outcome.records) - k
                break
            if self.sink.add(rec):
                self._feed_back(index, rec)
                new += 1
            else:
                self._ledger_duplicate(index, rec)
        self.sink.flush()
        self.records_seen += new
        self.yield_per_job = max(0.2, self.records_seen / max(1, self.progress.jobs_done))
        self.progress.written = self.sink.count
        self.on_progress(self.progress)

    def _feed_back(self, index: int, rec: Record) -> None:
        """Offer a kept record as a machine example to jobs FEEDBACK_LAG jobs after its own."""
        if not self.feeds_back:
            return
        self.pool.append(rec)
        self.pool_jobs.append(index)

    def _ledger_duplicate(self, index: int, rec: Record) -> None:
        """Account for a record whose content an earlier record already has."""
        self.progress.duplicates += 1
        self.sink.drop(
            ledger_entry(
                ledger_id(rec.id, index, "duplicate_id"),
                rec.provenance,
                "expand",
                "duplicate_id",
                f"same content as {rec.id}",
                instruction=rec.instruction,
                input=rec.input,
                output=rec.output,
            )
        )

    def _result(self, status: Status, w: Window) -> ExpandResult:
        """The run's end: a stop decided while committing wins, unless the user interrupted."""
        if status == "interrupted":
            interrupted = Interrupted(
                "interrupted; what was done is written", hint="run the same command to resume"
            )
            return ExpandResult(status, self.progress, interrupted)
        status = self.stopping or status
        error = self.error
        if status == "exhausted":
            error = self._exhausted_error(w.next_job)
        if status == "failed" and error is not None:
            error = EndpointError(
                f"{MAX_CONSECUTIVE_FAILURES} requests in a row failed: {error.message}",
                hint="check the endpoint; rerun the same command to resume",
            )
        return ExpandResult(status, self.progress, error)

    def _exhausted_error(self, calls: int) -> EndpointError:
        """Why every job allowed was tried without reaching the target, in the endpoint's words."""
        why = "the endpoint's answers yield too few usable candidates"
        hint = "look at the ledger for the reasons; rerunning resumes"
        p = self.progress
        if self.last_refusal is not None and self.refused_jobs == p.jobs_done and not p.failed_jobs:
            why = f"every request was refused: {self.last_refusal}"
            hint = "fix what the endpoint objects to (model, limits, request size), then rerun"
        elif self.last_refusal is not None:
            why += f"; last refusal: {self.last_refusal}"
        return EndpointError(
            f"only {self.sink.count} of {self.gen.count} records after {calls} calls: {why}",
            hint=hint,
        )


def _drawer(cfg: Config) -> Drawer | None:
    """Random draws of the configured axes, if any."""
    if not cfg.generation.axes:
        return None
    return random_drawer(load_axes(cfg.generation, cfg.home), cfg.generation.seed)


async def _cancel(running: dict[int, asyncio.Task[JobOutcome]]) -> None:
    """Cancel the jobs still running and wait until each has ended."""
    for t in running.values():
        t.cancel()
    if running:
        await asyncio.gather(*running.values(), return_exceptions=True)


def _notify(queue: asyncio.Queue[int], index: int, _task: object) -> None:
    queue.put_nowait(index)


def summary_counts(result: ExpandResult, sink: Sink) -> dict[str, Any]:
    """The counts an expand summary reports: requested, written, ledgered by reason, lost."""
    return {
        "requested": result.progress.target,
        "written": sink.count,
        "ledgered": sink.ledger_counts(),
        "surplus": result.progress.surplus,
        "failed_jobs": result.progress.failed_jobs,
    }
