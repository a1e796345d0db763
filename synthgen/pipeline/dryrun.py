"""`run --dry-run`: requests, tokens, cost and time to reach the target at the prior keep
rate (plus, at most, one round of surplus), from the config alone; nothing is sent and the
cache is not consulted."""

from __future__ import annotations

import math
from typing import Any

from synthgen.config import Config
from synthgen.llm.cost import ASSUMED_LATENCY_S, cost_of
from synthgen.llm.tokens import counter, messages_tokens
from synthgen.pipeline.rounds import PRIOR_KEEP_RATE
from synthgen.records import Seed

ASSUMED_VERDICT_TOKENS = 150


def plan_run(cfg: Config, seeds: list[Seed]) -> dict[str, Any]:
    """The estimate, with its assumptions spelled out."""
    from synthgen.stages.expand.dryrun import plan
    from synthgen.stages.filter.calibration import independence, independence_warning
    from synthgen.stages.filter.judge import Judge
    from synthgen.stages.filter.plan import make_plan, panel_price

    # generation is windowed: what the prior rate needs, and at most one round's surplus
    window = cfg.endpoint.concurrency * cfg.generation.per_call
    candidates = math.ceil(cfg.target.count / PRIOR_KEEP_RATE) + window
    gen_cfg = cfg.model_copy(
        update={"generation": cfg.generation.model_copy(update={"count": candidates})}
    )
    gen = plan(gen_cfg, seeds)
    fplan = make_plan(cfg)
    judge_requests = judge_prompt = judge_completion = 0
    if fplan.rubric is not None:
        j = cfg.filter.judge
        judge = Judge(fplan.rubric, [], j.threshold, j.max_new_tokens, fplan.reference)
        count, _ = counter(fplan.models[0])
        per = sum(
            messages_tokens(judge.request(s.instruction, s.input, s.output).messages, count)
            for s in seeds
        ) / max(1, len(seeds))
        # Rules and dedup drop some before the judge; assume none do (an upper bound).
        judge_requests = (candidates + len(fplan.seeds)) * len(fplan.models)
        judge_prompt = round(per * judge_requests)
        judge_completion = judge_requests * ASSUMED_VERDICT_TOKENS
    price = panel_price(cfg, [cfg.endpoint.model, *fplan.models])
    prompt = gen["prompt_tokens"] + judge_prompt
    completion = gen["completion_tokens"] + judge_completion
    requests = gen["requests"] + judge_requests
    cost = cost_of(price, prompt, completion) if price else None
    pairs = independence(fplan.models, [cfg.endpoint.model, *cfg.generation.models])
    per_s = cfg.endpoint.concurrency / ASSUMED_LATENCY_S
    if cfg.endpoint.rpm:
        per_s = min(per_s, cfg.endpoint.rpm / 60)
    return {
        "dry_run": True,
        "target": cfg.target.count,
        "candidates": candidates,
        "requests": requests,
        "generation_requests": gen["requests"],
        "judge_requests": judge_requests,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "token_count_method": gen["token_count_method"],
        "cost_usd": None if cost is None else round(cost, 4),
        "price_known": price is not None,
        "budget_usd": cfg.budget.max_cost_usd,
        "estimated_seconds": round(requests / per_s, 1),
        "warnings": [independence_warning(p) for p in pairs],  # what the run would say first
        "assumptions": {
            "keep_rate": PRIOR_KEEP_RATE,
            "surplus_at_most": window,
            "judged": "every candidate (rules and dedup drop some first: an upper bound)",
            "completion_tokens_per_verdict": ASSUMED_VERDICT_TOKENS,
            "latency_s_per_call": ASSUMED_LATENCY_S,
            "cache": "not consulted: answers already cached would cost nothing",
        },
    }


def describe(result: dict[str, Any]) -> str:
    """The estimate for people, in one line."""
    cost = "unknown (no price)" if result["cost_usd"] is None else f"${result['cost_usd']:.4f}"
    budget = "" if result["budget_usd"] is None else f" (budget ${result['budget_usd']:.2f})"
    return (
        f"dry run: {result['target']} records at a keep rate of "
        f"{result['assumptions']['keep_rate']:.0%} → ~{result['candidates']} candidates · "
        f"{result['requests']} requests ({result['generation_requests']} generation, "
        f"{result['judge_requests']} judge) · ~{result['prompt_tokens']} prompt + "
        f"~{result['completion_tokens']} completion tokens · cost ~{cost}{budget} · "
        f"~{result['estimated_seconds']} s\n"
    ) + "".join(f"warning: {w}\n" for w in result.get("warnings", []))
