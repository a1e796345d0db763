"""`filter --dry-run`: how many records the rules leave for the judge, and what judging costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthgen.config import Config
from synthgen.llm.cost import ASSUMED_LATENCY_S, cost_of
from synthgen.llm.tokens import counter, messages_tokens
from synthgen.stages.filter.plan import make_plan, panel_price
from synthgen.stages.filter.rules import Candidate

# A verdict is a short rationale, a few integers and flags.
ASSUMED_VERDICT_TOKENS = 150


def plan_filter(cfg: Config, input_path: Path) -> dict[str, Any]:
    """What a filter run would do: how many records the rules drop, and what judging costs."""
    from synthgen.seeds.dataset import SYNTHGEN, iter_rows
    from synthgen.stages.filter.judge import Judge

    plan = make_plan(cfg)
    judge = None
    if plan.rubric is not None:
        jc = cfg.filter.judge
        judge = Judge(plan.rubric, [], jc.threshold, jc.max_new_tokens, plan.reference)
    count, method = counter(plan.models[0] if plan.models else cfg.endpoint.model)
    rows = to_judge = prompt_tokens = 0
    by_rule: dict[str, int] = {}
    first_prompt: list[dict[str, str]] | None = None
    prefix = 0  # tokens every verdict request starts with, byte for byte
    for row in iter_rows(input_path, empty_output=True):
        rows += 1
        prov = row.raw.get("provenance") if row.fmt == SYNTHGEN else None
        gen = prov.get("generator") if isinstance(prov, dict) else None
        finish = (gen.get("finish_reason"),) if isinstance(gen, dict) else ()
        meta_task = row.meta.get("task") if isinstance(row.meta, dict) else None
        failed = plan.rules.check(
            Candidate(row.instruction, row.input, row.output, finish), meta_task
        )
        if failed is not None:
            by_rule[failed[0]] = by_rule.get(failed[0], 0) + 1
            continue
        to_judge += 1
        if judge is not None:
            req = judge.request(row.instruction, row.input, row.output)
            if first_prompt is None:
                first_prompt = req.messages
                prefix = messages_tokens(req.messages[:1], count)  # the system message
            prompt_tokens += messages_tokens(req.messages, count)
    calibration = len(plan.seeds) + len(plan.anchors)
    panel = max(1, len(plan.models))
    requests = (to_judge + calibration) * panel if judge is not None else 0
    if judge is not None and to_judge:
        prompt_tokens = round((prompt_tokens / to_judge) * (to_judge + calibration) * panel)
    completion_tokens = requests * ASSUMED_VERDICT_TOKENS
    price = panel_price(cfg, plan.models)
    cost = cost_of(price, prompt_tokens, completion_tokens) if price else None
    # Each judge model's first verdict request fills the endpoint's prompt cache; the rest may
    # be served the shared prefix from it (OpenAI caches prefixes of 1,024+ tokens).
    cacheable = min(prompt_tokens, prefix * max(0, requests - panel))
    cached_cost = cost_of(price, prompt_tokens, completion_tokens, cacheable) if price else None
    per_s = cfg.endpoint.concurrency / ASSUMED_LATENCY_S
    if cfg.endpoint.rpm:
        per_s = min(per_s, cfg.endpoint.rpm / 60)
    return {
        "dry_run": True,
        "input_records": rows,
        "dropped_by_rules": dict(sorted(by_rule.items())),
        "to_judge": to_judge if judge is not None else 0,
        "judge_models": plan.models,
        "calibration_items": calibration,
        "requests": requests,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "token_count_method": method,
        "shared_prefix_tokens": prefix,
        "cacheable_prompt_tokens": cacheable,
        "cost_usd": None if cost is None else round(cost, 4),
        "cost_usd_prefix_cached": None if cached_cost is None else round(cached_cost, 4),
        "batch_cost_usd": None if cost is None else round(cost * cfg.batch.discount, 4),
        "price_known": price is not None,
        "estimated_seconds": round(requests / per_s, 1) if requests else 0.0,
        "assumptions": {
            "completion_tokens_per_verdict": ASSUMED_VERDICT_TOKENS,
            "latency_s_per_call": ASSUMED_LATENCY_S,
            "cache": "not consulted: answers already cached would cost nothing",
        },
        "first_prompt": first_prompt,
    }


def describe(result: dict[str, Any]) -> str:
    """The dry run for people: the first judge prompt, then what the rules drop and the cost."""
    lines = []
    if result["first_prompt"]:
        lines.append("── first judge prompt " + "─" * 50 + "\n")
        lines += [f"[{m['role']}]\n{m['content']}\n\n" for m in result["first_prompt"]]
    cost = (
        "unknown (no price)"
        if result["cost_usd"] is None
        else f"${result['cost_usd']:.4f} online, ~${result['batch_cost_usd']:.4f} with --batch"
    )
    dropped = sum(result["dropped_by_rules"].values())
    cacheable = result["cacheable_prompt_tokens"]
    if cacheable and result["cost_usd_prefix_cached"] is not None:
        cost += f" (~${result['cost_usd_prefix_cached']:.4f} if the endpoint caches the prefix)"
    lines.append(
        f"dry run: {result['input_records']} records · {dropped} dropped by rules · "
        f"{result['to_judge']} to judge · {result['requests']} requests · "
        f"~{result['prompt_tokens']} prompt + ~{result['completion_tokens']} completion tokens "
        f"({result['token_count_method']}), ~{cacheable} of them a shared prefix the endpoint "
        f"may cache · cost ~{cost} · ~{result['estimated_seconds']} s\n"
    )
    return "".join(lines)
