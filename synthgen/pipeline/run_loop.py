"""`run`: rounds of expand → rules → dedup → judge → keep until exactly N records are kept,
the budget is spent or a quality gate trips.

Cheap before dear: no candidate that fails a rule or copies something already seen reaches
the judge. Each round is sized from the keep rate seen so far; kept records are shown to the
next rounds' prompts beside the human seeds (never instead of them). Nothing here is state
but the response cache: a rerun replays every answer already received, so it makes the same
records in the same order and pays for none of them twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from synthgen.config import Config
from synthgen.core.stage import Outcome, StageRun
from synthgen.errors import StoppedError
from synthgen.pipeline.pairs import pair_kept
from synthgen.pipeline.pairs import verdict as ask_verdict
from synthgen.pipeline.rounds import (
    MAX_ROUNDS,
    GateTrip,
    RoundRecord,
    check_gates,
    distinct_2,
    round_size,
    seed_weights,
)
from synthgen.pipeline.screen import Screen
from synthgen.records import JudgeVerdict, LedgerEntry, Provenance, Record, Seed, ledger_entry
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.filter.calibration import SeedCheck
from synthgen.stages.filter.judge import Judge, Judgement
from synthgen.stages.filter.preference import PairOutcome
from synthgen.stages.filter.tally import Tally
from synthgen.stages.filter.window import JudgeWindow


def _abort_if_cancelled() -> None:
    """A step that ended "interrupted" because the run was aborted (the second Ctrl-C, or the
    grace after the first ran out) cancels the run: the earlier run dir stands. One that ended
    on the first Ctrl-C returns, and the run dir is written as it stands."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
        self.kept: list[Record] = []
        self.parents: Counter[str] = Counter()
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

    async def loop(self) -> Outcome:
        """The run, on one screen: calibrate, then rounds until target, budget or gate."""
        stop = await self.calibrate()
        if stop is None:
            self.run.defer_misses()  # batch mode: from here on, misses wait for a batch
        for index in range(MAX_ROUNDS):
            if stop is not None or len(self.kept) >= self.target:
                break
            self.round_started = time.monotonic()
            need = self.target - len(self.kept)
            asked = round_size(need, self.totals, self.cfg.generation.per_call)
            candidates, stop = await self.expand(index, asked)
            if stop is not None and stop.status == "interrupted":
                _abort_if_cancelled()
            if stop is not None and stop.status == "pending":
                return stop  # this round's candidates wait for a batch: the next pass goes on
            self.report_progress(index, "screen")
            survivors = [c for c in candidates if self.screened(c)]
            self.report_progress(index, "judge")
            stop = await self.judge_and_keep(survivors, index) or stop
            if stop is not None and stop.status == "pending":
                return stop
            self.end_round(index, asked, candidates)
            stop = stop or self.gate_stop(final=False)
        if stop is None:
            stop = self.gate_stop(final=True)
        if stop is None and len(self.kept) < self.target:
            from synthgen.errors import EndpointError

            stop = Outcome(
                "exhausted",
                EndpointError(
                    f"{len(self.kept)} of {self.target} records after {len(self.rounds)} rounds",
                    hint="the keep rate is too low to reach the target: check the report and "
                    "the ledger (dropped.jsonl) for why candidates are dropped",
                ),
            )
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

    async def expand(self, index: int, asked: int) -> tuple[list[Record], Outcome | None]:
        """One round's candidates from the generator; its own drops go to the ledger."""
        from synthgen.pipeline.expand_round import RoundInputs, expand_round
        from synthgen.stages.expand.coverage import round_plan

        assert self.clients.generator is not None  # RunStage's plan names it first
        inputs = RoundInputs(
            self.cfg,
            self.seeds,
            self.clients.generator,
            self.ctx,
            self.kept,
            self.weights,
            lambda made: self.report_progress(index, "expand", made),
            self.instruction_gate if self.gates_instructions else None,
            self.clients.responders,
            round_plan(self.cfg, self.ctx.sources, self.run.sink.partial),
        )
        recs, drops, outcome = await expand_round(inputs, index, asked)
        for entry in drops:
            self.ledger(entry)
        self.totals.input += len(recs)
        return recs, outcome

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

    def screened(self, rec: Record) -> bool:
        """Rules, duplicates and leaks decide before the judge is paid."""
        verdict = self.screen.check(rec, deduplicated=self.gates_instructions)
        if verdict is None:
            return True
        self.ledger_record(rec, verdict.stage, verdict.reason, verdict.detail, verdict.match)
        return False

    async def judge_and_keep(self, survivors: list[Record], index: int = 0) -> Outcome | None:
        """Judge survivors in order through the filter stage's window, asking for another
        verdict only while those in flight may not reach the target at the pass rate so far;
        keep in candidate order. Every decision follows the verdicts alone, so a replay asks
        the same; survivors never asked are ledgered as surplus, unpaid."""
        judge = self.judge
        if judge is None:
            for rec in survivors:
                self.keep_or_drop(rec, None)
            return None
        # In batch mode every verdict the round may need is asked at once (one batch); the
        # kept records are the same, as they are kept in candidate order either way.
        batch = bool(judge.clients) and judge.clients[0].misses.defers
        size = len(survivors) if batch else self.cfg.endpoint.concurrency

        def ask(rec: Record) -> Awaitable[Judgement | PairOutcome]:
            return ask_verdict(judge, self.screen.rules, rec, self.min_margin, self.verdict_of)

        def commit(rec: Record, verdict: Judgement | PairOutcome | None) -> None:
            self.judged += 1
            self.keep_or_drop(rec, verdict)
            self.report_progress(index, "judge")  # the line moves verdict by verdict

        def may_ask(in_flight: int) -> bool:
            return len(self.kept) + in_flight * self.pass_rate() < self.target

        rest = iter(survivors)
        window: JudgeWindow[Record, Judgement | PairOutcome] = JudgeWindow(
            ask, commit, size, may_ask
        )
        end = await window.run(rest)
        if end.status == "interrupted":
            _abort_if_cancelled()
        if end.status == "pending":
            return Outcome("pending")
        stop = None if end.status == "complete" else Outcome(end.status, end.error)
        if stop is not None and len(self.kept) >= self.target:
            stop = None  # the cap ran out only on verdicts the target did not need
        # Interrupted too: every candidate is decided or ledgered, so the counts add up.
        reason = ("surplus", "surplus") if stop is None else ("judge", "not_judged")
        detail = f"target {self.target} reached" if stop is None else "the run stopped first"
        for rec in [*end.uncommitted, *rest]:
            self.ledger_record(rec, reason[0], reason[1], detail)
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
        if isinstance(jg, PairOutcome):  # K responses: the pair is kept, or why not
            pair, (stage, reason, detail) = pair_kept(rec, jg)
            if pair is None or stage:
                return self.ledger_record(pair or rec, stage, reason, detail)
            rec, jg = pair, None
            prov["judge"] = rec.provenance.judge
        if jg is not None:
            if jg.error:
                detail, _raw = jg.failure_detail()
                return self.ledger_record(rec, "judge", jg.error, detail)
            verdict = self.verdict_of(jg)
            prov["judge"] = verdict.as_json()
            self.totals.scores.append(verdict.score)
            self.totals.lengths.append(len(rec.output))
            if not verdict.passed:
                detail = f"score {verdict.score} < threshold {self.cfg.filter.judge.threshold}"
                return self.ledger_record(
                    rec, "judge", "below_threshold", detail, judge=prov["judge"]
                )
        kept = rec.model_copy(update={"provenance": rec.provenance.model_copy(update=prov)})
        if len(self.kept) >= self.target:
            return self.ledger_record(kept, "surplus", "surplus", f"target {self.target} reached")
        self.kept.append(kept)
        self.totals.kept += 1
        self.parents.update(p for p in rec.provenance.parents if p.startswith("seed:"))
        self.run.sink.extend([kept.model_dump(mode="json", exclude_none=True)], [])

    def end_round(self, index: int, asked: int, candidates: list[Record]) -> None:
        """Record the round; lean seed sampling toward under-used seeds if lineage skews."""
        before = sum(r.kept for r in self.rounds)
        kept_now = self.kept[before:]
        adjustment = None
        found = seed_weights(self.seeds, self.parents)
        if found is not None:
            self.weights, share = found
            adjustment = {"seed_weights": "toward under-used seeds", "top3_share": round(share, 4)}
        self.rounds.append(
            RoundRecord(
                index=index,
                asked=asked,
                candidates=len(candidates),
                kept=len(kept_now),
                dropped=self.totals.by_stage(),
                keep_rate=self.totals.keep_rate,
                distinct_2=distinct_2([r.instruction.lower() for r in kept_now]),
                adjustment=adjustment,
                seconds=round(time.monotonic() - self.round_started, 3),
            )
        )
        self.report_progress(index, "judge")

    def gate_stop(self, final: bool) -> Outcome | None:
        """A tripped gate stops the run (exit 3), naming the gate, threshold and value."""
        trip = check_gates(self.cfg.gates, self.totals, final)
        if trip is None:
            return None
        self.gate = trip
        return Outcome(
            "stopped_gate",
            StoppedError(
                f"quality gate {trip.gate} tripped: measured {trip.measured}, threshold "
                f"{trip.threshold}",
                hint="look at the report and the ledger before loosening the gate in the config",
            ),
        )

    def ledger_record(
        self,
        rec: Record,
        stage: str,
        reason: str,
        detail: str,
        match: dict[str, Any] | None = None,
        judge: dict[str, Any] | None = None,
    ) -> None:
        """A dropped candidate, with its provenance and why."""
        prov: Provenance = (
            rec.provenance if judge is None else rec.provenance.model_copy(update={"judge": judge})
        )
        extra: dict[str, Any] = {} if match is None else {"match": match}
        entry = ledger_entry(
            rec.id,
            prov,
            stage,
            reason,
            detail,
            instruction=rec.instruction,
            input=rec.input,
            output=rec.output,
            **extra,
        )
        self._write(entry)

    def ledger(self, entry: LedgerEntry) -> None:
        """A drop the expand step ledgered itself (parse failures, refusals...)."""
        self._write(entry)
        self.totals.input += 1  # a candidate that never reached the screen

    def _write(self, entry: LedgerEntry) -> None:
        self.run.sink.extend([], [entry.model_dump(mode="json", exclude_none=True)])
        self.totals.drop(entry.dropped.stage, entry.dropped.reason)

    def report_progress(self, index: int, step: str, made: int = 0) -> None:
        """Kept / target, candidates (with the `made` so far in a round still expanding),
        verdicts, keep rate, spend and the cost projected to reach the target."""
        t, spent = self.totals, self.run.budget.spent_cost_usd
        projected = None
        if t.kept:
            projected = spent / t.kept * self.target
        self.on_progress(
            RunProgress(
                len(self.kept),
                self.target,
                t.input + made,
                t.keep_rate,
                spent,
                projected,
                index,
                step,
                self.judged,
            )
        )
