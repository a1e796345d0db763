"""The `expand` command's one core function: seeds in, records, ledger and manifest out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthgen import prompts
from synthgen.config import Config, resolve_api_key
from synthgen.core.runtime import (
    claim_run,
    make_client,
    price_of,
    run_main,
    spend_summary,
    write_run_manifest,
)
from synthgen.core.sink import Sink
from synthgen.errors import EXIT_OK, Interrupted, SynthgenError, UsageError
from synthgen.llm.cost import Budget
from synthgen.llm.types import endpoint_host
from synthgen.records import canonical_json, sha256_hex
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.engine import Expander, ExpandResult, Progress, summary_counts

STATUS_EXIT = {"complete": 0, "stopped_budget": 3, "interrupted": 130, "exhausted": 1, "failed": 1}


def job_sha256(cfg: Config, seeds: list[Any]) -> str:
    """What determines the records; count, budget and throughput settings do not."""
    gen = cfg.generation.model_dump(mode="json", exclude={"count"})
    templates = sorted(
        (n, prompts.load(n).sha256)
        for n in ("self_instruct", "self_instruct_no_output", "paraphrase", "respond", "repair")
    )
    return sha256_hex(
        canonical_json(
            {
                "generation": gen,
                "model": cfg.endpoint.model,
                "endpoint": endpoint_host(cfg.endpoint.base_url),
                "task": cfg.task,
                "description": cfg.description,
                "seeds": [s.model_dump(mode="json", exclude={"source"}) for s in seeds],
                "templates": templates,
            }
        )
    )


def run_expand(
    cfg: Config,
    output: str,
    ledger: Path | None,
    say: Callable[[str], None],
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    from synthgen.seeds.reader import read_seeds

    if not cfg.seeds:
        raise UsageError("no seed files given", hint="synthgen expand SEEDS.jsonl -n N -o OUT")
    seeds = read_seeds(cfg.seeds, cfg.seed_format)  # type: ignore[arg-type]
    api_key = resolve_api_key(cfg)
    price = price_of(cfg, cfg.endpoint.model)
    job_sha = job_sha256(cfg, seeds)
    reads = [("a seed", p) for p in cfg.seeds]
    slot = claim_run(cfg, "expand", output, ledger, job_sha, say, reads)
    out_path, ledger_path, manifest_path = slot.out_path, slot.ledger_path, slot.manifest_path
    db, run_id, resume, to_stdout = slot.db, slot.run_id, slot.resume, slot.to_stdout
    sink = Sink(out_path, ledger_path, to_stdout, resume, limit=cfg.generation.count)
    if resume and sink.count:
        say(f"continuing {run_id}: {sink.count} records already written")
    slot.set_status("running")

    endpoint = endpoint_host(cfg.endpoint.base_url)
    budget = Budget(price, cfg.budget.max_cost_usd, cfg.budget.max_tokens)
    client = make_client(cfg, api_key, db, budget)
    caps = client.caps
    ctx = RunContext(run_id, cfg.sha256(), cfg.task, cfg.generation, cfg.endpoint.model, endpoint)
    expander = Expander(cfg, seeds, client, sink, ctx, on_progress)

    async def main() -> ExpandResult:
        try:
            return await expander.run()
        finally:
            await client.close()

    def stopped(e: SynthgenError) -> ExpandResult:
        status = "interrupted" if isinstance(e, Interrupted) else "failed"
        return ExpandResult(status, expander.progress, e)

    result, fatal, elapsed = run_main(main, stopped)
    # Stopped runs still deliver what they have; the run stays resumable in the state dir.
    sink.close(finalise_files=fatal is None)
    slot.set_status(result.status)
    exit_code = fatal.exit_code if fatal else STATUS_EXIT[result.status]
    if result.error is not None and not fatal:
        exit_code = result.error.exit_code if result.status != "exhausted" else 1
    summary: dict[str, Any] = {
        "status": result.status,
        "exit_code": exit_code if result.status != "complete" else EXIT_OK,
        "run_id": run_id,
        "resumed": resume,
        "counts": summary_counts(result, sink),
        **spend_summary([client.stats], budget),
        "price_known": price is not None,
        "capabilities": dict(caps.values),
        **slot.files(),
        "seconds": round(elapsed, 3),
    }
    if result.error is not None:
        summary["error"] = result.error.render()
    write_run_manifest(
        manifest_path,
        summary,
        command="expand",
        cfg=cfg,
        job_sha256=job_sha,
        inputs=cfg.seeds,
        output_file=out_path if fatal is None else sink.partial,
        budget=budget,
    )
    if fatal is not None:
        raise fatal
    return summary
