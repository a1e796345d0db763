"""`run`: rounds of expand → rules → dedup → judge → keep until exactly N records are kept,
the budget is spent or a quality gate trips.

Cheap before dear: no candidate that fails a rule or copies something already seen reaches
the judge. Generation is windowed as judging is: a round asks only for the calls whose
expected keeps (at the keep rate seen so far) the target may still need, at most what
`concurrency` keeps busy, so the surplus at the target is at most one round; its candidates
are screened and judged as they are made, in candidate order. Kept records
are shown to the next rounds' prompts beside the human seeds (never instead of them); they
live on disk, and memory holds only kept.py's compact state. Nothing here is state but the
response cache: a rerun replays every answer already received, so it makes the same records
in the same order and pays for none of them twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from synthgen.config import Config
from synthgen.core.stage import Outcome, StageRun
from synthgen.pipeline.gating import abort_if_cancelled, each, gate_outcome
from synthgen.pipeline.kept import Kept
from synthgen.pipeline.ledger import RunLedger
from synthgen.pipeline.pairs import pair_kept
from synthgen.pipeline.pairs import verdict as ask_verdict
from synthgen.pipeline.repairs import run_repairs
from synthgen.pipeline.rounds import (
    GateTrip,
    RoundRecord,
    distinct_2,
    exhausted_error,
    max_candidates,
    round_size,
    seed_weights,
)
from synthgen.pipeline.screen import Screen
from synthgen.pipeline.steering import steering_for
from synthgen.records import JudgeVerdict, LedgerEntry, Record, Seed
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.filter.calibration import SeedCheck
from synthgen.stages.filter.judge import Judge, Judgement
from synthgen.stages.filter.preference import PairOutcome
from synthgen.stages.filter.tally import Tally
from synthgen.stages.filter.window import JudgeWindow, short_of


@dataclass
class RunProgress:
    """What the progress line shows: kept of target, keep rate, spend and its projection."""

    kept: int
    target: int
    candidates: int
    keep_rate: float | None
    cost_usd: float
    projected_cost_usd: float | None
    round: int
    in_round: str  # expand | screen | judge
    judged: int = 0  # verdicts so far, the run's (they move while a round judges)


class Pipeline:
    """The run loop over one stage run's clients (by role: run.roles) and sink."""

    def __init__(
        self,
        cfg: Config,
        seeds: list[Seed],
        run: StageRun,
        ctx: RunContext,
        on_progress: Callable[[RunProgress], None] | None = None,
    ) -> None:
        self.cfg, self.seeds, self.run, self.ctx = cfg, seeds, run, ctx
        self.target = cfg.target.count
        self.on_progress = on_progress or (lambda p: None)
        self.totals = Tally()  # input: every candidate
        self.rounds: list[RoundRecord] = []
        self.kept = Kept(cfg.generation.seed)
        self.weights: list[float] | None = None
        self.gate: GateTrip | None = None
        self.screen = Screen(cfg, seeds)
        self.judge: Judge | None = None
        self.shas: tuple[str, str | None] = ("", None)  # the rubric's, the reference's
        self.calibration: SeedCheck | None = None
        self.judged = 0
        self.round_started = time.monotonic()
        self.gated = 0  # instructions dropped before their response was asked
        self.min_margin = cfg.filter.judge.min_margin  # preference pairs
        self.clients = run.roles
        self.drops = RunLedger(run.sink, self.totals, self.screen.stamp_passed)  # dropped.jsonl
        self.repairs = run_repairs(cfg, self.screen, run.roles.generator, self.drops, self.totals)
        self.steer = steering_for(cfg)  # generation.coverage: the cells rounds fill

    async def loop(self) -> Outcome:
        """The run, on one screen: calibrate, then rounds until target, budget or gate."""
        stop = await self.calibrate()
        if stop is None:
            self.run.defer_misses()  # batch mode: from here on, misses wait for a batch
        per_call, window = self.cfg.generation.per_call, self.cfg.endpoint.concurrency
        limit = max_candidates(self.target, per_call * window)
        index = -1
        while stop is None and self.totals.kept < self.target and self.totals.input < limit:
            index += 1
            self.round_started = time.monotonic()
            need = self.target - self.totals.kept
            asked = round_size(need, self.totals, per_call, window)
            asked = self.steer.size(asked, per_call, self.totals) if self.steer else asked
            before = self.totals.input
            stop = await self.play_round(index, asked)
            if stop is not None and stop.status == "pending":
                return stop  # the round's answers wait for a batch: the next pass goes on
            self.end_round(index, asked, self.totals.input - before)
            stop = stop or self.gate_stop(final=False)
        if stop is None:
            stop = self.gate_stop(final=True)
        if stop is None and self.totals.kept < self.target:
            stop = Outcome("exhausted", exhausted_error(self.totals, self.target, len(self.rounds)))
        return stop or Outcome("complete")

    async def calibrate(self) -> Outcome | None:
        """The judge scores the human seeds first; a judge that fails too many stops the run."""
        from synthgen.stages.filter.calibration import seed_stop
        from synthgen.stages.filter.plan import calibrate, make_plan

        plan = make_plan(self.cfg)
        if plan.rubric is None:
            return None
        j = self.cfg.filter.judge
        self.judge = Judge(
            plan.rubric,
            list(self.clients.judges),
            j.threshold,
            j.max_new_tokens,
            plan.reference,
            retry_truncated=j.retry_truncated,
        )
        rubric_sha, ref_sha = plan.rubric.sha256, plan.reference.sha256 if plan.reference else None
        self.shas = rubric_sha, ref_sha
        if not plan.seeds:
            return None
        from synthgen.errors import BudgetExceeded, Interrupted
        from synthgen.llm.client import RequestFailed

        try:
            seeds, _ = await calibrate(self.judge, plan, j.max_seed_fail)
        except BudgetExceeded as e:
            return Outcome("stopped_budget", e)
        except Interrupted as e:  # the first Ctrl-C: nothing is kept yet, the run dir says so
            return Outcome("interrupted", e)
        except RequestFailed as e:
            return Outcome("failed", e)
        self.calibration = seeds  # the manifest names the failing seeds, with their reasons
        error = seed_stop(seeds, "run", self.judge.standin)
        return None if error is None else Outcome("stopped_calibration", error)

    async def play_round(self, index: int, asked: int) -> Outcome | None:
        """Expand the round while its survivors, screened as they come, are judged; the
        round's ledger entries are written when it ends, in the same order whatever the
        timing of the answers (expand's drops, the screen's, the judge's)."""
        from synthgen.pipeline.expand_round import RoundStream

        stream = RoundStream(lambda rec: self.screened(rec, index), self.ledger)
        self.drops.hold()
        producer = asyncio.ensure_future(self.expand(index, asked, stream))
        try:
            batch = asked if self.run.clients[0].misses.defers else None
            survivors = stream.survivors() if not self.repairs else self.repairs.through(stream)
            judged = await self.judge_and_keep(survivors, index, batch)
            expanded = await producer
        finally:
            if not producer.done():
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
            self.drops.release()
        if expanded is not None and expanded.status == "interrupted":
            abort_if_cancelled()
        if expanded is not None and expanded.status == "pending":
            return expanded
        return judged or expanded

    async def expand(self, index: int, asked: int, out: Any) -> Outcome | None:
        """One round's candidates from the generator, committed into `out` as they come."""
        from synthgen.pipeline.expand_round import RoundInputs, expand_round
        from synthgen.stages.expand.coverage import round_plan

        assert self.clients.generator is not None  # RunStage's plan names it first
        inputs = RoundInputs(
            self.cfg,
            self.seeds,
            self.clients.generator,
            self.ctx,
            self.kept.pool,
            self.weights,
            lambda made: self.report_progress(index, "expand"),
            self.instruction_gate if self.gates_instructions else None,
            self.clients.responders,
            round_plan(self.cfg, self.ctx.sources, self.kept.chunks),
            None if self.steer is None else self.steer.drawer,
        )
        return await expand_round(inputs, index, asked, out)

    @property
    def gates_instructions(self) -> bool:
        """With separate responses, instructions are deduplicated before responses are paid."""
        return self.cfg.generation.responses == "separate" and self.screen.screens_instructions

    def instruction_gate(self, task: Any) -> tuple[str, str, str] | None:
        """(stage, reason, detail) of an instruction that goes no further, else None."""
        v = self.screen.instruction(task.instruction, task.input, self.cfg.task)
        if v is None:
            return None
        self.gated += 1  # the expand step ledgers it; ledger() counts it
        return v.stage, v.reason, v.detail

    def screened(self, rec: Record, index: int = 0) -> bool:
        """A new candidate: rules, duplicates and leaks decide before the judge is paid."""
        self.totals.input += 1
        self.report_progress(index, "screen")
        full = None if self.steer is None else self.steer.admit(rec)
        if full:
            self.drops.record(rec, "surplus", "cell_full", full, phase="screen")
            return False
        v = self.screen.check(rec, deduplicated=self.gates_instructions)
        if v is None:
            return True
        if self.repairs is not None and self.repairs.hold(rec, v):
            return True  # a check failed it: its repair comes in candidate order (repairs.py)
        self.drops.record(rec, v.stage, v.reason, v.detail, v.match, phase="screen")
        return False

    async def judge_and_keep(
        self,
        survivors: Iterable[Record] | AsyncIterator[Record],
        index: int = 0,
        most: int | None = None,
    ) -> Outcome | None:
        """Judge survivors in order through the filter stage's window, asking for another
        verdict only while those in flight may not reach the target at the pass rate so far;
        keep in candidate order. Every decision follows the verdicts alone, so a replay asks
        the same; survivors never asked are ledgered as surplus, unpaid. `most`: how many
        survivors an async source may bring at most."""
        rest = aiter(survivors) if isinstance(survivors, AsyncIterator) else iter(survivors)
        judge = self.judge
        if judge is None:
            async for rec in each(rest):
                self.keep_or_drop(rec, None)
            return None
        # In batch mode every verdict the round may need is asked at once (one batch); the
        # kept records are the same, as they are kept in candidate order either way.
        batch = bool(judge.clients) and judge.clients[0].misses.defers
        size = self.cfg.endpoint.concurrency
        if batch:
            size = len(survivors) if isinstance(survivors, list) else most or size

        def ask(rec: Record) -> Awaitable[Judgement | PairOutcome]:
            return ask_verdict(judge, self.screen.rules, rec, self.min_margin, self.verdict_of)

        def commit(rec: Record, verdict: Judgement | PairOutcome | None) -> None:
            self.judged += 1
            self.keep_or_drop(rec, verdict)
            self.report_progress(index, "judge")  # the line moves verdict by verdict

        def may_ask(in_flight: int) -> bool:
            return short_of(self.target, self.totals.kept, in_flight, self.pass_rate())

        window: JudgeWindow[Record, Judgement | PairOutcome] = JudgeWindow(
            ask, commit, size, may_ask
        )
        end = await window.run(rest)
        if end.status == "interrupted":
            abort_if_cancelled()
        if end.status == "pending":
            return Outcome("pending")
        stop = None if end.status == "complete" else Outcome(end.status, end.error)
        if stop is not None and self.totals.kept >= self.target:
            stop = None  # the cap ran out only on verdicts the target did not need
        # Interrupted too: every candidate is decided or ledgered, so the counts add up.
        reason = ("surplus", "surplus") if stop is None else ("judge", "not_judged")
        detail = f"target {self.target} reached" if stop is None else "the run stopped first"
        for rec in end.uncommitted:
            self.drops.record(rec, reason[0], reason[1], detail)
        if self.repairs is not None:
            self.repairs.stop(detail)
        async for rec in each(rest):  # an async source: the rest of the round, as it comes
            self.drops.record(rec, reason[0], reason[1], detail)
        return stop

    def verdict_of(self, jg: Judgement) -> JudgeVerdict:
        """The judge's verdict as provenance records it."""
        return jg.verdict(*self.shas)

    def pass_rate(self) -> float:
        """Share of judged survivors kept so far (a prior of 0.8 before ten are judged)."""
        return self.totals.kept / self.judged if self.judged >= 10 and self.totals.kept else 0.8

    def keep_or_drop(self, rec: Record, jg: Judgement | PairOutcome | None) -> None:
        """A judged (or unjudged, without a judge) survivor: kept, below threshold or surplus."""
        prov: dict[str, Any] = {"dedup": {"nearest": None, "similarity": 0.0}}
        prov |= self.screen.stamp(rec)  # the checks it passed, if any ran
        if isinstance(jg, PairOutcome):  # K responses: the pair is kept, or why not
            pair, (stage, reason, detail) = pair_kept(rec, jg)
            if pair is None or stage:
                return self.drops.record(pair or rec, stage, reason, detail)
            rec, jg = pair, None
            prov["judge"] = rec.provenance.judge
        if jg is not None:
            if jg.error:
                detail, _raw = jg.failure_detail()
                return self.drops.record(rec, "judge", jg.error, detail)
            verdict = self.verdict_of(jg)
            prov["judge"] = verdict.as_json()
            self.totals.scores.append(verdict.score)
            self.totals.lengths.append(len(rec.output))
            if not verdict.passed:
                detail = f"score {verdict.score} < threshold {self.cfg.filter.judge.threshold}"
                return self.drops.record(
                    rec, "judge", "below_threshold", detail, judge=prov["judge"]
                )
        kept = rec.model_copy(update={"provenance": rec.provenance.model_copy(update=prov)})
        if self.totals.kept >= self.target:
            return self.drops.record(kept, "surplus", "surplus", f"target {self.target} reached")
        if self.steer is not None and (full := self.steer.take(kept)) is not None:
            return self.drops.record(kept, "surplus", "cell_full", full)  # filled meanwhile
        self.kept.add(kept)
        self.totals.kept += 1
        self.run.sink.extend([kept.model_dump(mode="json", exclude_none=True)], [])

    def end_round(self, index: int, asked: int, candidates: int) -> None:
        """Record the round; lean seed sampling toward under-used seeds if lineage skews."""
        kept_now = self.kept.end_round()
        adjustment = None
        found = seed_weights(self.seeds, self.kept.parents)
        if found is not None:
            self.weights, share = found
            adjustment = {"seed_weights": "toward under-used seeds", "top3_share": round(share, 4)}
        adjustment = self.steer.adjusted(adjustment) if self.steer else adjustment
        self.rounds.append(
            RoundRecord(
                index=index,
                asked=asked,
                candidates=candidates,
                kept=len(kept_now),
                dropped=self.totals.by_stage(),
                keep_rate=self.totals.keep_rate,
                distinct_2=distinct_2(kept_now),
                adjustment=adjustment,
                seconds=round(time.monotonic() - self.round_started, 3),
            )
        )
        self.report_progress(index, "judge")

    def gate_stop(self, final: bool) -> Outcome | None:
        """A tripped gate stops the run (exit 3), naming the gate, threshold and value."""
        tripped = gate_outcome(self.cfg.gates, self.totals, self.steer, final)
        if tripped is None:
            return None
        self.gate, outcome = tripped
        return outcome

    def ledger(self, entry: LedgerEntry) -> None:
        """A drop the expand step ledgered itself (parse failures, refusals...)."""
        self.drops.write(entry, "expand")
        self.totals.input += 1  # a candidate that never reached the screen

    def report_progress(self, index: int, step: str) -> None:
        """Kept / target, candidates, verdicts, keep rate, spend and the cost projected to
        reach the target."""
        t, spent, n = self.totals, self.run.budget.spent_cost_usd, self.target
        projected = spent / t.kept * n if t.kept else None
        at = (index, step, self.judged)
        self.on_progress(RunProgress(t.kept, n, t.input, t.keep_rate, spent, projected, *at))
