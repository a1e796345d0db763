"""What every stage command shares at run time: run ids, prices, clients, the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from synthgen.errors import UsageError
from synthgen.llm.cost import DEFAULT_PRICES, Budget, Price, find_price
from synthgen.manifest import file_sha256, write_manifest

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.llm.client import LLMClient
    from synthgen.llm.types import RequestStats

T = TypeVar("T")


@contextmanager
def gc_tuned() -> Iterator[None]:
    """Fewer collections while requests run: the SDK makes many short-lived objects per
    call, and collections that rescan everything already built cost ~10% of throughput."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def new_run_id() -> str:
    return f"run_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}_{secrets.token_hex(3)}"


def price_of(cfg: Config, model: str) -> Price | None:
    """The price of `model`: the config's `prices:` first, then the built-in table."""
    price = find_price(model, {**DEFAULT_PRICES, **cfg.prices})
    if cfg.budget.max_cost_usd is not None and price is None:
        raise UsageError(
            f"--max-cost-usd needs a price for model {model!r}, and none is known",
            hint="add `prices: {" + model + ": {input: USD_PER_1M, output: "
            "USD_PER_1M}}` to a config file, or cap with --max-tokens",
        )
    return price


def make_client(
    cfg: Config, api_key: str, db: sqlite3.Connection, budget: Budget, model: str | None = None
) -> LLMClient:
    """A client for `model` (default: the configured one) over the state dir's cache."""
    from synthgen.llm.cache import Capabilities, ResponseCache
    from synthgen.llm.client import LLMClient
    from synthgen.llm.types import endpoint_host

    ep = cfg.endpoint if model is None else cfg.endpoint.model_copy(update={"model": model})
    caps = Capabilities(db, endpoint_host(ep.base_url), ep.model)
    return LLMClient(ep, api_key, ResponseCache(db), caps, budget)


def run_cancellable(main: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run(main()) with GC tuned, where SIGTERM (a cancelled CI job, `kill`) cancels
    the main task as cleanly as Ctrl-C does."""

    async def guarded() -> T:
        task = asyncio.current_task()
        if task is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main()

    with gc_tuned():
        return asyncio.run(guarded())


def spend_summary(stats: Sequence[RequestStats], budget: Budget) -> dict[str, Any]:
    """Requests, tokens and cost of a run over all its clients, as summaries show them."""
    counters = ("sent", "cached", "retried", "failed", "rate_limited")
    return {
        "requests": {k: sum(getattr(s, k) for s in stats) for k in counters}
        | {"fallbacks": sorted({f for s in stats for f in s.fallbacks})},
        "usage": {
            "prompt_tokens": sum(s.prompt_tokens for s in stats),
            "completion_tokens": sum(s.completion_tokens for s in stats),
        },
        "cost_usd": round(budget.spent_cost_usd, 6),
        "cost_usd_this_run": round(budget.new_cost_usd, 6),
    }


def write_run_manifest(
    path: Path,
    summary: dict[str, Any],
    *,
    command: str,
    cfg: Config,
    job_sha256: str,
    inputs: list[Path],
    output_file: Path,
    budget: Budget,
) -> None:
    """The summary plus what reproduces the run: resolved config, input and output hashes."""
    write_manifest(
        path,
        {
            **summary,
            "command": command,
            "config": cfg.redacted(),
            "config_sha256": cfg.sha256(),
            "job_sha256": job_sha256,
            "inputs": [
                {"path": str(p), "sha256": None if str(p) == "-" else file_sha256(p)}
                for p in inputs
            ],
            "output_sha256": file_sha256(output_file),
            "budget": {
                "max_cost_usd": cfg.budget.max_cost_usd,
                "max_tokens": cfg.budget.max_tokens,
                "stopped_by": budget.stopped_by,
            },
        },
    )
