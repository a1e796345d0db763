"""What every stage command shares at run time: run ids, prices, clients, the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from synthgen.errors import UsageError
from synthgen.llm.cost import DEFAULT_PRICES, Budget, Price, find_price

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.llm.client import LLMClient

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
