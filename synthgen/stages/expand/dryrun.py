"""`--dry-run`: what a run would send and cost, with no request sent."""

from __future__ import annotations

import math
from typing import Any

from synthgen.config import Config
from synthgen.llm.cost import ASSUMED_LATENCY_S, DEFAULT_PRICES, cost_of, find_price
from synthgen.llm.tokens import counter, messages_tokens
from synthgen.records import Seed
from synthgen.stages.expand.axes import load_axes, random_drawer, with_axes
from synthgen.stages.expand.strategies import make_job

SHOWN_PROMPTS = 2


def plan(cfg: Config, seeds: list[Seed]) -> dict[str, Any]:
    """What an expand run would send and cost, estimated from sample prompts, sending nothing."""
    gen, ep = cfg.generation, cfg.endpoint
    count, method = counter(ep.model)
    per_job = gen.per_call
    jobs = math.ceil(gen.count / per_job)
    ground = None
    if gen.strategy == "grounded":  # sample prompts over the documents' first chunks
        from synthgen.stages.expand.coverage import ChunkPlan
        from synthgen.stages.expand.sources import load_sources

        sources = load_sources(cfg)
        ground = ChunkPlan(sources, cfg.grounding) if sources is not None else None
    sample = [
        make_job(i, gen, seeds, [], cfg.task, cfg.description, None, ground)
        for i in range(min(jobs, 20))
    ]
    if gen.axes:  # the prompts state their values: counted, and shown
        draws = random_drawer(load_axes(gen, cfg.home), gen.seed)
        sample = [with_axes(j, draws(j.index)) for j in sample]
    prompt_per_job = sum(messages_tokens(j.request.messages, count) for j in sample) / len(sample)
    example_tokens = sum(count(f"{s.instruction} {s.input} {s.output}") for s in seeds) / len(seeds)
    completion_per_job = min(gen.max_new_tokens, per_job * (example_tokens + 20))
    requests = jobs
    prompt_tokens = prompt_per_job * jobs
    completion_tokens = completion_per_job * jobs
    if gen.strategy == "evol":  # one prompt, n choices: prompt tokens are paid once
        completion_tokens = min(gen.max_new_tokens, example_tokens + 20) * per_job * jobs
    if gen.responses == "separate" or gen.responses_per_instruction > 1:
        calls = gen.count * gen.responses_per_instruction  # a call per response
        requests += calls
        prompt_tokens += calls * (example_tokens + 40)
        completion_tokens += calls * example_tokens
    price = find_price(ep.model, {**DEFAULT_PRICES, **cfg.prices})
    cost = cost_of(price, round(prompt_tokens), round(completion_tokens)) if price else None
    per_s = ep.concurrency / ASSUMED_LATENCY_S
    if ep.rpm:
        per_s = min(per_s, ep.rpm / 60)
    if ep.tpm:
        per_s = min(per_s, ep.tpm / 60 / max(1.0, (prompt_tokens + completion_tokens) / requests))
    return {
        "dry_run": True,
        "strategy": gen.strategy,
        "model": ep.model,
        "requests": requests,
        "prompt_tokens": round(prompt_tokens),
        "completion_tokens": round(completion_tokens),
        "token_count_method": method,
        "cost_usd": None if cost is None else round(cost, 4),
        "batch_cost_usd": None if cost is None else round(cost * cfg.batch.discount, 4),
        "price_known": price is not None,
        "estimated_seconds": round(requests / per_s, 1),
        "assumptions": {
            "latency_s_per_call": ASSUMED_LATENCY_S,
            "completion_tokens": "per_call x mean seed example length + 20",
        },
        "first_prompts": [j.request.messages for j in sample[:SHOWN_PROMPTS]],
    }


def describe(result: dict[str, Any]) -> str:
    """The dry run for people: the first prompts, then requests, tokens, cost and time."""
    lines = []
    for i, msgs in enumerate(result["first_prompts"], 1):
        lines.append(f"── prompt {i} " + "─" * 60 + "\n")
        lines += [f"[{m['role']}]\n{m['content']}\n\n" for m in msgs]
    cost = (
        "unknown (no price for this model)"
        if result["cost_usd"] is None
        else f"${result['cost_usd']:.4f} online, ~${result['batch_cost_usd']:.4f} with --batch"
    )
    lines.append(
        f"dry run: {result['requests']} requests · ~{result['prompt_tokens']} prompt + "
        f"~{result['completion_tokens']} completion tokens ({result['token_count_method']}) · "
        f"cost ~{cost} · ~{result['estimated_seconds']} s\n"
    )
    return "".join(lines)
