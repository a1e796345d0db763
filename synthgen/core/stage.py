"""The one stage skeleton: claim the run, open the sink, build clients and the budget, run the
stage's execute step, close, record the status, pick the exit code, write the manifest.

A stage supplies only a `StagePlan` (what it reads and writes, its job hash, which models it
asks) and its steps (`Stage.execute`, `Stage.stopped`); everything that ends a run ends here,
so every stage ends the same way: partial files resumable, status recorded, summary typed.
"""

from __future__ import annotations

import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.core.batchrun import (
    BatchMode,
    after_pass,
    before_pass,
    details,
    has_open_batches,
    miss_policy,
)
from synthgen.core.batchrun import open_queue as open_batch_queue
from synthgen.core.clients import Clients, Role
from synthgen.core.manifest import file_sha256, tidy_path, write_manifest
from synthgen.core.runtime import RunSlot, claim_run, make_client, run_cancellable
from synthgen.core.sink import Sink
from synthgen.errors import Interrupted, SynthgenError
from synthgen.fingerprint import FINGERPRINT_VERSION
from synthgen.llm.batching import BatchMisses, BatchQueue
from synthgen.llm.cost import Budget, Price
from synthgen.llm.firsttoken import first_token_report
from synthgen.llm.stopping import GRACE_S, StopFlag
from synthgen.records import RequestCounts, StageSummary, Status, TokenUsage

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.llm.client import LLMClient
    from synthgen.llm.misses import MissPolicy
    from synthgen.llm.stream import LiveRequests

# How each way a run can end maps to an exit code, for every stage (README: exit codes).
EXIT_BY_STATUS: dict[Status, int] = {
    "complete": 0,
    "pending": 0,  # batch mode: requests wait for a batch; the same command continues
    "stopped_budget": 3,
    "stopped_calibration": 3,
    "stopped_gate": 3,
    "interrupted": 130,
    "exhausted": 1,
    "failed": 1,
}


class InternalError(SynthgenError):
    """A bug of ours, not the user's nor the endpoint's: one line, exit 1."""


@dataclass(frozen=True)
class ClientSpec:
    """A model a stage asks, at its own endpoint when the config gives it one."""

    model: str
    base_url: str | None = None  # None: the config's endpoint
    role: Role = "generator"  # the part it plays: StageRun.roles groups the clients by it


@dataclass(frozen=True)
class StagePlan:
    """What a stage reads and writes and what it will ask, known before anything is sent."""

    command: str
    output: str
    ledger: Path | None
    job_sha256: str
    reads: Sequence[tuple[str, str | Path]] = ()
    inputs: Sequence[str | Path] = ()  # hashed into the manifest
    models: Sequence[str | ClientSpec] = ()  # a client each; none: the stage sends nothing
    api_key: str = ""
    price: Price | None = None
    # False: a stopped run removes its partial files and a rerun redoes the work (dedup).
    resumable: bool = True
    # What the manifest records as the config, when the stage's settings are not a Config.
    manifest_config: dict[str, Any] | None = None
    manifest: Path | None = None  # default: beside the output (OUT.manifest.json)
    offline: bool = False  # answer from the cache only; a miss is an error
    batch: BatchMode | None = None  # --batch: cache misses wait for the Batch API


@dataclass
class Outcome:
    """How a stage's execute step ended and what it counted."""

    status: Status
    error: SynthgenError | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    headline: str = ""  # what was done, in one line for people


@dataclass
class StageRun:
    """What the skeleton hands a stage's steps: the claimed slot, sink, budget and clients."""

    cfg: Config
    slot: RunSlot
    sink: Sink
    budget: Budget
    clients: list[LLMClient]
    say: Callable[[str], None]
    misses: MissPolicy  # the one cache-miss policy its clients were built with
    batch: BatchQueue | None = None  # batch mode's queue, or the joins an online run made
    roles: Clients = field(default_factory=Clients)  # the same clients, by role
    delivered: bool = False  # the sink's files were moved into place (set at close)
    stopping: StopFlag = field(default_factory=StopFlag)  # set by the first Ctrl-C or SIGTERM

    def defer_misses(self) -> None:
        """End the stage's online phase: in batch mode, from now on requests the cache cannot
        answer wait for a batch (filter and run call this after the judge's calibration,
        which must be answered online; expand, before its first job)."""
        if isinstance(self.misses, BatchMisses):
            self.misses.end_online_phase()


class Stage(ABC):
    """A stage: its plan, its sink, its execute step and how it reports a stop."""

    plan: StagePlan

    def open_sink(self, slot: RunSlot) -> Sink:
        """Where records and drops go; a stage may return a Sink subclass."""
        resume = slot.resume and self.plan.resumable  # else a rerun redoes the work
        return Sink(slot.out_path, slot.ledger_path, slot.to_stdout, resume)

    @abstractmethod
    async def execute(self, run: StageRun) -> Outcome:
        """Do the stage's work; return how it ended (never raise for an expected stop)."""

    @abstractmethod
    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """The outcome of a run ended by `error` (Ctrl-C, SIGTERM, a fatal error)."""

    def finish(self, run: StageRun, outcome: Outcome) -> Outcome:
        """Counts and details once the sink is closed (the ledger is then whole)."""
        return outcome


def run_stage(
    stage: Stage, cfg: Config, say: Callable[[str], None], live: LiveRequests | None = None
) -> StageSummary:
    """Run `stage` from claim to manifest; whatever ends it, return its typed summary.
    With --batch --wait, pass after pass until no request waits for a batch. `live`: where
    the caller's progress line reads the clients' counters."""
    while True:
        summary = _run_once(stage, cfg, say, live)
        mode = stage.plan.batch
        if summary.status != "pending" or mode is None or not mode.wait:
            return summary


def _run_once(
    stage: Stage, cfg: Config, say: Callable[[str], None], live: LiveRequests | None
) -> StageSummary:
    plan = stage.plan
    slot = claim_run(
        cfg,
        plan.command,
        plan.output,
        plan.ledger,
        plan.job_sha256,
        say,
        plan.reads,
        announce_restart=plan.resumable,
        manifest=plan.manifest,
    )
    try:
        return _run_claimed(stage, cfg, slot, say, live)
    finally:
        slot.db.close()


def _run_claimed(
    stage: Stage,
    cfg: Config,
    slot: RunSlot,
    say: Callable[[str], None],
    live: LiveRequests | None,
) -> StageSummary:
    plan = stage.plan
    sink = stage.open_sink(slot)
    slot.set_status("running")
    budget = Budget(plan.price, cfg.budget.max_cost_usd, cfg.budget.max_tokens)
    specs = [m if isinstance(m, ClientSpec) else ClientSpec(m) for m in plan.models]
    queue = None
    if plan.batch is not None or (specs and has_open_batches(slot.db)):
        queue = open_batch_queue(slot.db, cfg, say)
    misses = miss_policy(queue, plan.batch, plan.offline)
    # In-flight answers get the endpoint's timeout to land once stopping, at most GRACE_S.
    stopping = StopFlag(min(GRACE_S, cfg.endpoint.timeout_s))
    clients = [
        make_client(
            cfg,
            plan.api_key,
            slot.db,
            budget,
            c.model,
            base_url=c.base_url,
            misses=misses,
            say=say,
            live=live,
            stopping=stopping,
        )
        for c in specs
    ]
    roles = Clients.by_role([c.role for c in specs], clients)
    run = StageRun(
        cfg, slot, sink, budget, clients, say, misses, queue, roles=roles, stopping=stopping
    )

    async def main() -> Outcome:
        try:
            if run.batch is not None:
                await before_pass(run.batch, clients, plan.batch)
            outcome = await stage.execute(run)
            if run.batch is not None and plan.batch is not None and not stopping.requested:
                stop = await after_pass(run.batch, clients, plan.batch, outcome.status)
                if stop is not None:
                    outcome.status, outcome.error = "stopped_budget", stop
            if stopping.requested and outcome.status == "pending":
                # Stopped: nothing more is submitted or waited for; the rerun continues.
                outcome.status, outcome.error = "interrupted", _interrupted()
            return outcome
        finally:
            for c in clients:
                await c.close()

    started = time.monotonic()
    fatal: SynthgenError | None = None
    # A stage that sends requests stops sending at the first signal and ends its own way,
    # writing what it has; one that sends nothing is cancelled at once, as before.
    stop = stopping if clients else None
    ended = False  # the execute step returned, even if interrupted: its files are whole
    try:
        outcome = run_cancellable(main, stop, say)
        ended = True
    except SynthgenError as e:
        fatal, outcome = e, stage.stopped(run, e)
    except KeyboardInterrupt:
        outcome = stage.stopped(run, Interrupted("interrupted"))
    except Exception as e:  # an unexpected failure still closes the run resumably
        if os.environ.get("SYNTHGEN_DEBUG") == "1":
            say("".join(traceback.format_exception(e)).rstrip())
        fatal = InternalError(f"internal error: {type(e).__name__}: {e}")
        outcome = stage.stopped(run, fatal)
    elapsed = time.monotonic() - started
    # Stopped runs still deliver what they have; the run stays resumable in the state dir.
    # A stage that cannot resume delivers only what it decided whole (a budget stop, or a
    # first Ctrl-C it ended on, still delivers); an aborted or failed one leaves the
    # earlier output as it was.
    keep_going = plan.resumable or (fatal is None and (ended or outcome.status != "interrupted"))
    if keep_going:
        sink.close(finalise_files=fatal is None)
        run.delivered = fatal is None
    else:
        sink.abort()
    slot.set_status(outcome.status)
    outcome = stage.finish(run, outcome)
    if run.batch is not None:
        outcome.details["batch"] = details(run.batch)
        if outcome.status == "pending":
            outcome.headline += (
                f" · {run.batch.deferred} requests wait for a batch: run the same command "
                "again to continue (--wait waits)"
            )
    summary = _summary(plan, slot, run, outcome, fatal, elapsed)
    if keep_going:  # else the earlier output and its manifest stay as they were, together
        out_file = slot.out_path if fatal is None else sink.partial
        _write_manifest(cfg, plan, slot, summary, out_file, budget)
    return summary


def _interrupted() -> Interrupted:
    return Interrupted(
        "interrupted; what was done is written", hint="run the same command to resume"
    )


def _exit_code(outcome: Outcome, fatal: SynthgenError | None) -> int:
    if outcome.status == "complete" and fatal is None:
        return 0
    if fatal is not None:
        return fatal.exit_code
    if outcome.error is not None and outcome.status != "exhausted":
        return outcome.error.exit_code
    return EXIT_BY_STATUS[outcome.status]


def _summary(
    plan: StagePlan,
    slot: RunSlot,
    run: StageRun,
    outcome: Outcome,
    fatal: SynthgenError | None,
    elapsed: float,
) -> StageSummary:
    stats = [c.stats for c in run.clients]
    error = fatal or outcome.error
    return StageSummary(
        command=plan.command,
        status=outcome.status,
        exit_code=_exit_code(outcome, fatal),
        run_id=slot.run_id,
        resumed=slot.resume,
        counts=outcome.counts,
        requests=RequestCounts(
            sent=sum(s.sent for s in stats),
            cached=sum(s.cached for s in stats),
            retried=sum(s.retried for s in stats),
            failed=sum(s.failed for s in stats),
            rate_limited=sum(s.rate_limited for s in stats),
            fallbacks=sorted({f for s in stats for f in s.fallbacks}),
        ),
        usage=TokenUsage(
            prompt_tokens=sum(s.prompt_tokens for s in stats),
            completion_tokens=sum(s.completion_tokens for s in stats),
            cached_tokens=sum(s.cached_tokens for s in stats),
        ),
        cost_usd=round(run.budget.spent_cost_usd, 6),
        cost_usd_this_run=round(run.budget.new_cost_usd, 6),
        price_known=plan.price is not None or not plan.models,
        **slot.files(),
        warnings=outcome.warnings,
        error=error.render() if error is not None else None,
        headline=outcome.headline,
        seconds=round(elapsed, 3),
        details={
            **outcome.details,
            **first_token_report((c.model, c.stream.first_token) for c in run.clients),
        },
    )


def _write_manifest(
    cfg: Config,
    plan: StagePlan,
    slot: RunSlot,
    summary: StageSummary,
    out_file: Path,
    budget: Budget,
) -> None:
    """The summary plus what reproduces the run: resolved config, input and output hashes."""
    write_manifest(
        slot.manifest_path,
        {
            **summary.to_json(),
            "config": plan.manifest_config or cfg.redacted(),
            "config_sha256": cfg.sha256(),
            "fingerprint_version": FINGERPRINT_VERSION,
            "job_sha256": plan.job_sha256,
            "inputs": [
                {"path": tidy_path(p), "sha256": None if str(p) == "-" else file_sha256(Path(p))}
                for p in plan.inputs
            ],
            "output_sha256": file_sha256(out_file),
            "ledger_sha256": file_sha256(slot.ledger_path),
            "budget": {
                "max_cost_usd": cfg.budget.max_cost_usd,
                "max_tokens": cfg.budget.max_tokens,
                "stopped_by": budget.stopped_by,
            },
        },
    )
