"""The `filter` stage: a dataset in; kept records, ledger and manifest out, through the skeleton."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthgen.config import Config, resolve_api_key
from synthgen.core.batchrun import BatchMode
from synthgen.core.manifest import file_sha256, now_iso
from synthgen.core.runtime import RunSlot, new_run_id
from synthgen.core.sink import Sink
from synthgen.core.stage import Outcome, Stage, StagePlan, StageRun, run_stage
from synthgen.errors import (
    BudgetExceeded,
    EndpointError,
    InputError,
    Interrupted,
    SynthgenError,
)
from synthgen.llm.client import RequestFailed
from synthgen.llm.stream import LiveRequests
from synthgen.records import JudgeVerdict, StageSummary, Status
from synthgen.stages.filter.calibration import (
    SeedCheck,
    independence,
    independence_warning,
    length_bias,
    seed_stop,
)
from synthgen.stages.filter.engine import EngineResult, FilterEngine, RecordSink, stop_result
from synthgen.stages.filter.judge import (
    Judge,
    Judgement,
)
from synthgen.stages.filter.plan import calibrate, job_sha256, make_plan, panel_price
from synthgen.stages.filter.summary import judge_block
from synthgen.stages.filter.tally import Tally


class FilterStage(Stage):
    """Rules, then a judge checked on the human seeds first; kept records and a ledger."""

    def __init__(
        self,
        cfg: Config,
        input_path: Path,
        output: str,
        ledger: Path | None,
        on_progress: Callable[[Tally], None] | None = None,
        on_calibration: Callable[[int, int], None] | None = None,
        batch: BatchMode | None = None,
    ) -> None:
        self.cfg, self.input_path, self.on_progress = cfg, input_path, on_progress
        self.on_calibration = on_calibration
        self.fplan = make_plan(cfg)
        jcfg = cfg.filter.judge
        stdin = str(input_path) == "-"
        input_sha = None if stdin else file_sha256(input_path)
        if not stdin and input_sha is None:
            raise InputError(str(input_path), "file not found", hint="check the path")
        reads: list[tuple[str, str | Path]] = [("the input", input_path)]
        reads += [("a --seeds", p) for p in jcfg.seeds]
        named = {"anchors": jcfg.anchors, "reference": jcfg.reference, "rubric": jcfg.rubric}
        reads += [(f"the --{n}", p) for n, p in named.items() if p is not None]
        # filter.checks.repair: the generator (the endpoint's model) answers repair requests,
        # as a client after the judges'.
        self.repairs = bool(cfg.filter.checks.repair and self.fplan.checks)
        models = [*self.fplan.models, *([cfg.endpoint.model] if self.repairs else [])]
        self.plan = StagePlan(
            command="filter",
            output=output,
            ledger=ledger,
            # What came on stdin cannot be checked against an earlier attempt: never resume
            # it (the judge's answers are still replayed from the cache).
            job_sha256=job_sha256(cfg, self.fplan, input_sha if not stdin else new_run_id()),
            reads=reads,
            inputs=[input_path],
            models=models,
            api_key=resolve_api_key(cfg) if models else "",
            price=panel_price(cfg, models),
            batch=batch,
        )
        self.engine: FilterEngine | None = None
        self.seeds: SeedCheck | None = None
        self.anchors: dict[str, Any] | None = None
        self.warnings: list[str] = []

    def open_sink(self, slot: RunSlot) -> Sink:
        """A sink that flushes every few records (filter streams, it has no jobs)."""
        return RecordSink(slot.out_path, slot.ledger_path, slot.to_stdout, slot.resume)

    async def execute(self, run: StageRun) -> Outcome:
        """Calibrate the judge on the human seeds, then rule and judge every row."""
        from synthgen.seeds.dataset import iter_rows

        cfg, fplan, sink, say = self.cfg, self.fplan, run.sink, run.say
        jcfg = cfg.filter.judge
        self.warnings = []  # a --wait loop runs this again
        if run.slot.resume and (sink.count or sink.ledger_ids):
            say(
                f"continuing {run.slot.run_id}: {sink.count} kept, "
                f"{len(sink.ledger_ids)} ledgered so far"
            )
        judges = run.clients[: len(fplan.models)]
        judge = None
        if fplan.rubric is not None:
            judge = Judge(
                fplan.rubric,
                judges,
                jcfg.threshold,
                jcfg.max_new_tokens,
                fplan.reference,
                retry_truncated=jcfg.retry_truncated,
            )
        rubric_sha = fplan.rubric.sha256 if fplan.rubric else ""
        ref_sha = fplan.reference.sha256 if fplan.reference else None

        def verdict_of(jg: Judgement) -> JudgeVerdict:
            return jg.verdict(rubric_sha, ref_sha)

        def check_independence(generator: str) -> None:
            """Warn as soon as a related generator shows up, before more is spent."""
            for pair in independence(fplan.models, [generator]):
                self._warn(independence_warning(pair), say)

        window = max(64, 4 * cfg.endpoint.concurrency * max(1, len(run.clients)))
        self.engine = FilterEngine(
            iter_rows(self.input_path, empty_output=True),
            str(self.input_path),
            now_iso(),
            fplan.rules,
            judge,
            sink,  # type: ignore[arg-type]
            verdict_of,
            window,
            self.on_progress,
            check_independence,
        )
        self.engine.min_margin = jcfg.min_margin
        self.engine.checks = fplan.checks
        if self.repairs and fplan.checks is not None:
            from synthgen.stages.filter.checks.repair import Repairer

            gen = run.clients[len(fplan.models)]
            self.engine.repairer = Repairer(fplan.checks, gen, cfg.generation)
        if fplan.checks is not None:
            fplan.checks.reset()  # a --wait loop runs this again over the same rows
        if judge is not None and (fplan.seeds or fplan.anchors):
            stop = await self._calibrate(judge, say)
            if stop is not None:
                return self._outcome(stop)
        run.defer_misses()  # the calibration ran online; candidates' verdicts may wait
        return self._outcome(await self.engine.run())

    async def _calibrate(self, judge: Judge, say: Callable[[str], None]) -> EngineResult | None:
        """Score the human seeds first; a judge that fails too many is not trusted."""
        jcfg = self.cfg.filter.judge
        try:
            tell = self.on_calibration or (lambda done, total: None)
            self.seeds, self.anchors = await calibrate(judge, self.fplan, jcfg.max_seed_fail, tell)
        except (BudgetExceeded, RequestFailed, Interrupted, asyncio.CancelledError) as e:
            return stop_result(e)
        seeds = self.seeds
        if seeds is None:
            return None
        say(
            f"calibration: the judge passed {seeds.passed}/{seeds.n} human seeds "
            f"(threshold {jcfg.threshold:g})"
        )
        error = seed_stop(seeds, "filter", judge.standin)
        return None if error is None else EngineResult("stopped_calibration", error)

    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """Ctrl-C, SIGTERM or a fatal error: what was kept and ledgered so far stands."""
        status: Status = "interrupted" if isinstance(error, Interrupted) else "failed"
        return self._outcome(EngineResult(status, error))

    def _outcome(self, result: EngineResult) -> Outcome:
        return Outcome(result.status, result.error)

    def _warn(self, message: str, say: Callable[[str], None]) -> None:
        self.warnings.append(message)
        say(f"warning: {message}")

    def finish(self, run: StageRun, outcome: Outcome) -> Outcome:
        """The judge's block: verdict counts, calibration, length bias, independence."""
        jcfg, fplan = self.cfg.filter.judge, self.fplan
        tally = self.engine.tally if self.engine else Tally()
        indep = independence(fplan.models, list(tally.generators))
        bias = length_bias(tally.scores, tally.lengths, jcfg.length_bias_threshold)
        if bias["flagged"]:
            self._warn(
                f"length bias: Spearman(score, output length) = {bias['spearman']} > "
                f"{bias['threshold']}: the judge may be paying for length",
                run.say,
            )
        outcome.counts = tally.counts()
        outcome.warnings = self.warnings
        shown = "-" if run.slot.to_stdout else str(run.slot.out_path)
        outcome.headline = (
            f"{tally.kept}/{tally.input} kept → {shown} · "
            f"{outcome.counts['dropped_total']} ledgered"
        )
        if fplan.rubric is not None:
            mean = f"{statistics.fmean(tally.scores):.2f}" if tally.scores else "–"
            judge_drops = tally.dropped.get("judge")
            failures = judge_drops["judge_parse_failure"] if judge_drops else 0
            outcome.headline += (
                f" · judge {', '.join(fplan.models)}: mean {mean}, {failures} parse failures"
            )
        if outcome.status == "complete" and tally.refused and not tally.judged:
            # Nothing was judged because the endpoint refused every judge request.
            outcome.status = "exhausted"
            outcome.error = EndpointError(
                f"every judge request was refused ({tally.refused}): {tally.last_refusal}",
                hint="fix what the endpoint objects to (model name, request size, the "
                "endpoint's limits); the refused rows are in the ledger",
            )
        block = judge_block(self.cfg, fplan, tally, bias, indep, self.seeds, self.anchors)
        if block is not None and self.engine is not None and self.engine.judge is not None:
            block["truncation_retries"] = self.engine.judge.truncation_retries
        if tally.pairs:
            outcome.counts["pairs"] = tally.pairs  # rows with K responses, kept or ledgered
        outcome.details = {
            "judge": block,
            **({"checks": fplan.checks.report()} if fplan.checks else {}),
            **({"check_repairs": self._repairs()} if self.repairs else {}),
            "capabilities": {c.model: dict(c.caps.values) for c in run.clients},
        }
        return outcome

    def _repairs(self) -> dict[str, Any]:
        """filter.checks.repair: how many repairs were asked and passed, per check."""
        repairer = self.engine.repairer if self.engine is not None else None
        return repairer.stats.as_json() if repairer is not None else {}


def run_filter(
    cfg: Config,
    input_path: Path,
    output: str,
    ledger: Path | None,
    say: Callable[[str], None],
    on_progress: Callable[[Tally], None] | None = None,
    on_calibration: Callable[[int, int], None] | None = None,
    batch: BatchMode | None = None,
    live: LiveRequests | None = None,
) -> StageSummary:
    """Filter `input_path` into `output` by the config's rules and judge; with `batch`,
    the candidates' verdicts through the Batch API; `live` as `run_stage`'s."""
    stage = FilterStage(cfg, input_path, output, ledger, on_progress, on_calibration, batch)
    return run_stage(stage, cfg, say, live)
