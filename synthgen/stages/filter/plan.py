"""What a filter run needs before anything is sent: the checked plan, its job hash, one
price for a panel, and the judge's calibration on the human seeds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synthgen.config import Config
from synthgen.core.runtime import price_of
from synthgen.errors import UsageError
from synthgen.fingerprint import fingerprint_dump
from synthgen.llm.cost import Price, dearest
from synthgen.llm.types import endpoint_host
from synthgen.records import Seed, canonical_json, sha256_hex
from synthgen.stages.filter.calibration import (
    Anchor,
    SeedCheck,
    SeedFailure,
    agreement,
    read_anchors,
)
from synthgen.stages.filter.checks.runner import Checks, for_config, job_part
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
    checks: Checks | None = None  # that execute, already run on the human seeds


def make_plan(cfg: Config) -> Plan:
    """Read and check every input but the dataset itself (bad input → exit 2, nothing sent)."""
    from synthgen.seeds.reader import read_seeds

    j = cfg.filter.judge
    rules = Rules(cfg.filter.rules)
    if not j.enabled:  # a config's judge settings rest; the CLI refuses them with --no-judge
        return Plan(rules, [], None, None, [], [], for_config(cfg))
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
    checks = for_config(cfg)  # before the judge is paid, even for the seeds
    return Plan(rules, models, rubric, reference, seeds, anchors, checks)


# The judge's settings its job hash reads as they are; models, rubric and reference enter
# resolved (the panel, the files' hashes), and the calibration gates a run without changing it.
JUDGE_KEYS = ("threshold", "max_new_tokens", "retry_truncated", "min_margin")


def job_sha256(cfg: Config, plan: Plan, input_sha: str | None) -> str:
    """What determines the output: the input, the rules and the judge, nothing else."""
    from synthgen.stages.filter.judge import judge_template_sha256

    return sha256_hex(
        canonical_json(
            {
                "input": input_sha,
                "rules": fingerprint_dump(cfg.filter.rules, "filter", "rules"),
                **job_part(cfg),
                "judge": None
                if plan.rubric is None
                else {
                    "models": plan.models,
                    "endpoint": endpoint_host(cfg.endpoint.base_url),
                    "rubric": plan.rubric.sha256,
                    "reference": plan.reference.sha256 if plan.reference else None,
                    "templates": judge_template_sha256(),
                    **fingerprint_dump(cfg.filter.judge, "filter", "judge", keys=JUDGE_KEYS),
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
    return dearest(known)


def _turns(seed: Seed) -> list[dict[str, str]] | None:
    return [t.model_dump() for t in seed.messages] if seed.messages else None


def seed_failure(seed: Seed, jg: Judgement) -> SeedFailure:
    """A failed seed as the calibration stop names it: where, what score, the judge's why."""
    src = seed.source
    pos = f"item {src['item']}" if src.get("item") is not None else f"line {src.get('line')}"
    where = f"{src['file']}:{pos}" if src.get("file") else pos
    reasons = [
        o.verdict.rationale if o.verdict else f"{o.error}: {o.detail}".rstrip(": ")
        for o in jg.opinions
    ]
    return SeedFailure(seed.id, where, jg.score, " | ".join(r for r in reasons if r))


async def calibrate(
    judge: Judge,
    plan: Plan,
    max_seed_fail: float,
    on_judged: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[SeedCheck | None, dict[str, Any] | None]:
    """Score the human seeds (and anchors) before any candidate; `on_judged(k, n)` as it goes."""
    total, done = len(plan.seeds) + len(plan.anchors), [0]
    on_judged(0, total)

    async def one(item: tuple[str, str, str, list[dict[str, str]] | None]) -> Judgement:
        jg = await judge.judge(*item)
        done[0] += 1
        on_judged(done[0], total)
        return jg

    async def scores(
        items: list[tuple[str, str, str, list[dict[str, str]] | None]],
    ) -> list[Judgement]:
        # Every request in flight lands (and is cached) before a stop or failure is raised.
        got = await asyncio.gather(*(one(it) for it in items), return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                raise g
        return [g for g in got if not isinstance(g, BaseException)]

    seeds = None
    if plan.seeds:
        # a conversation seed is graded whole, as the candidates it calibrates for
        js = await scores([(s.instruction, s.input, s.output, _turns(s)) for s in plan.seeds])
        failures = tuple(
            seed_failure(s, jg) for s, jg in zip(plan.seeds, js, strict=True) if not jg.passed
        )
        seeds = SeedCheck(
            n=len(js),
            passed=sum(1 for jg in js if jg.passed),
            unscored=sum(1 for jg in js if jg.error),
            max_fail=max_seed_fail,
            failed_ids=tuple(f.id for f in failures),
            threshold=judge.threshold,
            failures=failures,
        )
    anchors = None
    if plan.anchors:
        js = await scores([(a.instruction, a.input, a.output, None) for a in plan.anchors])
        assert plan.rubric is not None
        scale = (plan.rubric.scale.min, plan.rubric.scale.max)
        anchors = agreement(plan.anchors, [jg.score for jg in js], judge.threshold, scale)
    return seeds, anchors
