"""The `filter` command's one core function: a dataset in, kept records, ledger, manifest out."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.config import Config, resolve_api_key
from synthgen.core.manifest import file_sha256, now_iso
from synthgen.core.runtime import (
    claim_run,
    make_client,
    new_run_id,
    price_of,
    run_main,
    spend_summary,
    write_run_manifest,
)
from synthgen.errors import (
    EXIT_OK,
    BudgetExceeded,
    Interrupted,
    StoppedError,
    SynthgenError,
    UsageError,
)
from synthgen.llm.client import RequestFailed
from synthgen.llm.cost import Budget, Price
from synthgen.llm.types import endpoint_host
from synthgen.records import Seed, canonical_json, sha256_hex
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

STATUS_EXIT = {
    "complete": 0,
    "stopped_budget": 3,
    "stopped_calibration": 3,
    "interrupted": 130,
    "failed": 1,
}


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


def run_filter(
    cfg: Config,
    input_path: Path,
    output: str,
    ledger: Path | None,
    say: Callable[[str], None],
    on_progress: Callable[[Tally], None] | None = None,
) -> dict[str, Any]:
    from synthgen.seeds.dataset import iter_rows

    plan = make_plan(cfg)
    jcfg = cfg.filter.judge
    stdin = str(input_path) == "-"
    input_sha = None if stdin else file_sha256(input_path)
    if not stdin and input_sha is None:
        from synthgen.errors import InputError

        raise InputError(str(input_path), "file not found", hint="check the path")
    api_key = resolve_api_key(cfg) if plan.models else ""
    price = panel_price(cfg, plan.models)
    # What came on stdin cannot be checked against an earlier attempt: never resume it
    # (the judge's answers are still replayed from the cache).
    job_sha = job_sha256(cfg, plan, input_sha if not stdin else new_run_id())
    reads = [("the input", input_path), *(("a --seeds", p) for p in jcfg.seeds)]
    named = {"anchors": jcfg.anchors, "reference": jcfg.reference, "rubric": jcfg.rubric}
    reads += [(f"the --{n}", p) for n, p in named.items() if p is not None]
    slot = claim_run(cfg, "filter", output, ledger, job_sha, say, reads)
    out_path, ledger_path, manifest_path = slot.out_path, slot.ledger_path, slot.manifest_path
    db, run_id, resume, to_stdout = slot.db, slot.run_id, slot.resume, slot.to_stdout
    sink = RecordSink(out_path, ledger_path, to_stdout, resume)
    if resume and (sink.count or sink.ledger_ids):
        say(f"continuing {run_id}: {sink.count} kept, {len(sink.ledger_ids)} ledgered so far")
    slot.set_status("running")

    budget = Budget(price, cfg.budget.max_cost_usd, cfg.budget.max_tokens)
    clients = [make_client(cfg, api_key, db, budget, m) for m in plan.models]
    judge = None
    if plan.rubric is not None:
        judge = Judge(plan.rubric, clients, jcfg.threshold, jcfg.max_new_tokens, plan.reference)
    rubric_sha = plan.rubric.sha256 if plan.rubric else ""
    ref_sha = plan.reference.sha256 if plan.reference else None

    def verdict_of(jg: Judgement) -> dict[str, Any]:
        return jg.provenance(rubric_sha, ref_sha)

    warnings: list[str] = []

    def check_independence(generator: str) -> None:
        """Warn as soon as a related generator shows up, before more is spent."""
        for pair in independence(plan.models, [generator]):
            w = (
                f"judge {pair['judge']} and generator {pair['generator']} are the "
                f"{pair['relation'].replace('_', ' ')} ({pair['family']}): the judge may favour "
                "its own kind; use a judge of another family, or a panel (--judge-model repeated)"
            )
            warnings.append(w)
            say(f"warning: {w}")

    window = max(64, 4 * cfg.endpoint.concurrency * max(1, len(clients)))
    engine = FilterEngine(
        iter_rows(input_path, empty_output=True),
        str(input_path),
        now_iso(),
        plan.rules,
        judge,
        sink,
        verdict_of,
        window,
        on_progress,
        check_independence,
    )
    seeds: SeedCheck | None = None
    anchors: dict[str, Any] | None = None

    async def main() -> EngineResult:
        nonlocal seeds, anchors
        try:
            if judge is not None and (plan.seeds or plan.anchors):
                try:
                    seeds, anchors = await calibrate(judge, plan, jcfg.max_seed_fail)
                except (BudgetExceeded, RequestFailed, asyncio.CancelledError) as e:
                    return stop_result(e)
                if seeds is not None:
                    say(
                        f"calibration: the judge passed {seeds.passed}/{seeds.n} human seeds "
                        f"(threshold {jcfg.threshold:g})"
                    )
                    if not seeds.trusted:
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
            return await engine.run()
        finally:
            for c in clients:
                await c.close()

    def stopped(e: SynthgenError) -> EngineResult:
        return EngineResult("interrupted" if isinstance(e, Interrupted) else "failed", e)

    result, fatal, elapsed = run_main(main, stopped)
    sink.close(finalise_files=fatal is None)
    slot.set_status(result.status)
    exit_code = fatal.exit_code if fatal else STATUS_EXIT[result.status]
    tally = engine.tally
    indep = independence(plan.models, list(tally.generators))
    bias = length_bias(tally.scores, tally.lengths, jcfg.length_bias_threshold)
    if bias["flagged"]:
        warnings.append(
            f"length bias: Spearman(score, output length) = {bias['spearman']} > "
            f"{bias['threshold']}: the judge may be paying for length"
        )
        say(f"warning: {warnings[-1]}")
    summary = _summary(cfg, plan, result, exit_code, tally, bias, indep, seeds, anchors)
    summary.update(
        {
            "run_id": run_id,
            "resumed": resume,
            "warnings": warnings,
            **spend_summary([c.stats for c in clients], budget),
            "price_known": price is not None or not plan.models,
            "capabilities": {c.model: dict(c.caps.values) for c in clients},
            **slot.files(),
            "seconds": round(elapsed, 3),
        }
    )
    if result.error is not None:
        summary["error"] = result.error.render()
    write_run_manifest(
        manifest_path,
        summary,
        command="filter",
        cfg=cfg,
        job_sha256=job_sha,
        inputs=[input_path],
        output_file=out_path if fatal is None else sink.partial,
        budget=budget,
    )
    if fatal is not None:
        raise fatal
    return summary


def _histogram(scores: list[float]) -> dict[str, int]:
    """Scores in half-point bins (a panel median can fall between integers)."""
    bins: dict[float, int] = {}
    for s in scores:
        b = round(s * 2) / 2
        bins[b] = bins.get(b, 0) + 1
    return {f"{b:g}": n for b, n in sorted(bins.items())}


def _summary(
    cfg: Config,
    plan: Plan,
    result: EngineResult,
    exit_code: int,
    tally: Tally,
    bias: dict[str, Any],
    indep: list[dict[str, str]],
    seeds: SeedCheck | None,
    anchors: dict[str, Any] | None,
) -> dict[str, Any]:
    judge: dict[str, Any] | None = None
    if plan.rubric is not None:
        jd: dict[str, int] = dict(tally.dropped.get("judge", {}))
        judge = {
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
    return {
        "status": result.status,
        "exit_code": exit_code if result.status != "complete" else EXIT_OK,
        "counts": tally.counts(),
        "judge": judge,
    }
