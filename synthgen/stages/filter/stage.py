"""The `filter` stage: a dataset in; kept records, ledger and manifest out, through the skeleton."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.config import Config, resolve_api_key
from synthgen.core.manifest import file_sha256, now_iso
from synthgen.core.runtime import RunSlot, new_run_id, price_of
from synthgen.core.sink import Sink
from synthgen.core.stage import Outcome, Stage, StagePlan, StageRun, run_stage
from synthgen.errors import (
    BudgetExceeded,
    EndpointError,
    InputError,
    Interrupted,
    StoppedError,
    SynthgenError,
    UsageError,
)
from synthgen.llm.client import RequestFailed
from synthgen.llm.cost import Price
from synthgen.llm.types import endpoint_host
from synthgen.records import Seed, StageSummary, canonical_json, sha256_hex
from synthgen.stages.filter.calibration import (
    Anchor,
    SeedCheck,
    agreement,
    independence,
    length_bias,
    read_anchors,
)
from synthgen.stages.filter.engine import EngineResult, FilterEngine, RecordSink, Tally, stop_result
from synthgen.stages.filter.judge import (
    Judge,
    Judgement,
    Reference,
    Rubric,
    load_rubric,
    read_reference,
)
from synthgen.stages.filter.rules import Rules


@dataclass(frozen=True)
class Plan:
    """Everything a filter run needs that can be checked before a request is sent."""

    rules: Rules
    models: list[str]
    rubric: Rubric | None
    reference: Reference | None
    seeds: list[Seed]
    anchors: list[Anchor]


def make_plan(cfg: Config) -> Plan:
    """Read and check every input but the dataset itself (bad input → exit 2, nothing sent)."""
    from synthgen.seeds.reader import read_seeds

    j = cfg.filter.judge
    rules = Rules(cfg.filter.rules)
    if not j.enabled:  # a config's judge settings rest; the CLI refuses them with --no-judge
        return Plan(rules, [], None, None, [], [])
    models = list(dict.fromkeys(j.models or [cfg.endpoint.model]))
    rubric = load_rubric(j.rubric)
    if not rubric.scale.min <= j.threshold <= rubric.scale.max:
        raise UsageError(
            f"--threshold {j.threshold} is outside the rubric's scale "
            f"{rubric.scale.min}..{rubric.scale.max}",
            hint="pick a threshold on the rubric's scale",
        )
    reference = read_reference(j.reference) if j.reference else None
    seeds = read_seeds(j.seeds, j.seed_format) if j.seeds else []  # type: ignore[arg-type]
    anchors = read_anchors(j.anchors) if j.anchors else []
    return Plan(rules, models, rubric, reference, seeds, anchors)


def job_sha256(cfg: Config, plan: Plan, input_sha: str | None) -> str:
    """What determines the output: the input, the rules and the judge, nothing else."""
    from synthgen.stages.filter.judge import judge_template_sha256

    return sha256_hex(
        canonical_json(
            {
                "input": input_sha,
                "rules": cfg.filter.rules.model_dump(mode="json"),
                "judge": None
                if plan.rubric is None
                else {
                    "models": plan.models,
                    "endpoint": endpoint_host(cfg.endpoint.base_url),
                    "rubric": plan.rubric.sha256,
                    "reference": plan.reference.sha256 if plan.reference else None,
                    "threshold": cfg.filter.judge.threshold,
                    "max_new_tokens": cfg.filter.judge.max_new_tokens,
                    "templates": judge_template_sha256(),
                },
            }
        )
    )


def panel_price(cfg: Config, models: list[str]) -> Price | None:
    """One price for a panel's shared budget: the dearest member's, so a cap is never passed
    (the reported cost is then an upper bound when panel members' prices differ)."""
    prices = [price_of(cfg, m) for m in models]
    known = [p for p in prices if p is not None]
    if not known:
        return None
    return Price(input=max(p.input for p in known), output=max(p.output for p in known))


async def calibrate(
    judge: Judge, plan: Plan, max_seed_fail: float
) -> tuple[SeedCheck | None, dict[str, Any] | None]:
    """Score the human seeds (and anchors) before any candidate."""

    async def scores(items: list[tuple[str, str, str]]) -> list[Judgement]:
        return list(await asyncio.gather(*(judge.judge(*it) for it in items)))

    seeds = None
    if plan.seeds:
        js = await scores([(s.instruction, s.input, s.output) for s in plan.seeds])
        failed = tuple(s.id for s, jg in zip(plan.seeds, js, strict=True) if not jg.passed)
        seeds = SeedCheck(
            n=len(js),
            passed=sum(1 for jg in js if jg.passed),
            unscored=sum(1 for jg in js if jg.error),
            max_fail=max_seed_fail,
            failed_ids=failed,
        )
    anchors = None
    if plan.anchors:
        js = await scores([(a.instruction, a.input, a.output) for a in plan.anchors])
        assert plan.rubric is not None
        scale = (plan.rubric.scale.min, plan.rubric.scale.max)
        anchors = agreement(plan.anchors, [jg.score for jg in js], judge.threshold, scale)
    return seeds, anchors


class FilterStage(Stage):
    """Rules, then a judge checked on the human seeds first; kept records and a ledger."""

    def __init__(
        self,
        cfg: Config,
        input_path: Path,
        output: str,
        ledger: Path | None,
        on_progress: Callable[[Tally], None] | None = None,
    ) -> None:
        self.cfg, self.input_path, self.on_progress = cfg, input_path, on_progress
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
        models = self.fplan.models
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
        if run.slot.resume and (sink.count or sink.ledger_ids):
            say(
                f"continuing {run.slot.run_id}: {sink.count} kept, "
                f"{len(sink.ledger_ids)} ledgered so far"
            )
        judge = None
        if fplan.rubric is not None:
            judge = Judge(
                fplan.rubric, run.clients, jcfg.threshold, jcfg.max_new_tokens, fplan.reference
            )
        rubric_sha = fplan.rubric.sha256 if fplan.rubric else ""
        ref_sha = fplan.reference.sha256 if fplan.reference else None

        def verdict_of(jg: Judgement) -> dict[str, Any]:
            return jg.provenance(rubric_sha, ref_sha)

        def check_independence(generator: str) -> None:
            """Warn as soon as a related generator shows up, before more is spent."""
            for pair in independence(fplan.models, [generator]):
                self._warn(
                    f"judge {pair['judge']} and generator {pair['generator']} are the "
                    f"{pair['relation'].replace('_', ' ')} ({pair['family']}): the judge may "
                    "favour its own kind; use a judge of another family, or a panel "
                    "(--judge-model repeated)",
                    say,
                )

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
        if judge is not None and (fplan.seeds or fplan.anchors):
            stop = await self._calibrate(judge, say)
            if stop is not None:
                return self._outcome(stop)
        return self._outcome(await self.engine.run())

    async def _calibrate(self, judge: Judge, say: Callable[[str], None]) -> EngineResult | None:
        """Score the human seeds first; a judge that fails too many is not trusted."""
        jcfg = self.cfg.filter.judge
        try:
            self.seeds, self.anchors = await calibrate(judge, self.fplan, jcfg.max_seed_fail)
        except (BudgetExceeded, RequestFailed, asyncio.CancelledError) as e:
            return stop_result(e)
        seeds = self.seeds
        if seeds is None:
            return None
        say(
            f"calibration: the judge passed {seeds.passed}/{seeds.n} human seeds "
            f"(threshold {jcfg.threshold:g})"
        )
        if seeds.trusted:
            return None
        return EngineResult(
            "stopped_calibration",
            StoppedError(
                f"the judge failed {seeds.n - seeds.passed} of {seeds.n} human "
                f"seeds ({seeds.fail_share:.0%} > --max-seed-fail "
                f"{jcfg.max_seed_fail:.0%}): its threshold cannot be trusted; "
                "no candidate was judged",
                hint="check the rubric, --threshold and the judge model; "
                "the seeds' verdicts are cached",
            ),
        )

    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """Ctrl-C, SIGTERM or a fatal error: what was kept and ledgered so far stands."""
        status = "interrupted" if isinstance(error, Interrupted) else "failed"
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
        outcome.details = {
            "judge": _judge_block(self.cfg, fplan, tally, bias, indep, self.seeds, self.anchors),
            "capabilities": {c.model: dict(c.caps.values) for c in run.clients},
        }
        return outcome


def run_filter(
    cfg: Config,
    input_path: Path,
    output: str,
    ledger: Path | None,
    say: Callable[[str], None],
    on_progress: Callable[[Tally], None] | None = None,
) -> StageSummary:
    """Filter `input_path` into `output` by the config's rules and judge."""
    return run_stage(FilterStage(cfg, input_path, output, ledger, on_progress), cfg, say)


def _histogram(scores: list[float]) -> dict[str, int]:
    """Scores in half-point bins (a panel median can fall between integers)."""
    bins: dict[float, int] = {}
    for s in scores:
        b = round(s * 2) / 2
        bins[b] = bins.get(b, 0) + 1
    return {f"{b:g}": n for b, n in sorted(bins.items())}


def _judge_block(
    cfg: Config,
    plan: Plan,
    tally: Tally,
    bias: dict[str, Any],
    indep: list[dict[str, str]],
    seeds: SeedCheck | None,
    anchors: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """What the judge did, as the summary shows it (None without a judge)."""
    if plan.rubric is None:
        return None
    jd: dict[str, int] = dict(tally.dropped.get("judge", {}))
    judge: dict[str, Any] = {
        "models": plan.models,
        "rubric": plan.rubric.name,
        "rubric_sha256": plan.rubric.sha256,
        "threshold": cfg.filter.judge.threshold,
        "judged": tally.judged,
        "passed": tally.passed,
        "mean_score": round(statistics.fmean(tally.scores), 4) if tally.scores else None,
        "score_histogram": _histogram(tally.scores),
        "parse_failures": jd.get("judge_parse_failure", 0),
        "structured": dict(sorted(tally.structured.items())),
        "repaired": tally.repaired,
        "request_rejected": jd.get("judge_request_rejected", 0),
        "flags": dict(tally.flags.most_common(20)),
        "length_bias": bias,
        "seeds": seeds.summary() if seeds else None,
        "anchors": anchors,
        "independence": indep,
        "generators": dict(tally.generators),
        "grounded": plan.reference is not None,
    }
    if tally.spreads:
        judge["panel_spread_mean"] = round(statistics.fmean(tally.spreads), 4)
        judge["panel_spread_max"] = max(tally.spreads)
    return judge
