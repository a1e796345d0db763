"""Batch mode in the stage skeleton: before a pass, take in finished batches; after it, batch
what waits; with --wait, wait for the batches and run the next pass.

One pass is a whole ordinary stage run over the cache. Requests it cannot answer wait for a
batch (llm/batching.py), the stage ends `pending` (exit 0) with what it could decide
written, and the next pass — the same command again, or the --wait loop — continues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthgen.errors import BudgetExceeded
from synthgen.llm.batching import BatchMisses, BatchQueue
from synthgen.llm.batchstore import BatchStore
from synthgen.llm.misses import MissPolicy, Offline, Online

if TYPE_CHECKING:
    import sqlite3

    from synthgen.config import Config
    from synthgen.llm.client import LLMClient
    from synthgen.records import Status


@dataclass(frozen=True)
class BatchMode:
    """How a stage uses the Batch API (`--batch`)."""

    wait: bool = False  # poll until the batches end and finish the stage in this command
    followups: bool = False  # repairs and truncation retries wait for a batch too


def open_queue(db: sqlite3.Connection, cfg: Config, say: Callable[[str], None]) -> BatchQueue:
    """The state directory's batch queue, as this run sees it."""
    return BatchQueue(BatchStore(db), cfg.batch, say)


def has_open_batches(db: sqlite3.Connection) -> bool:
    """Whether any batch in this state directory has not been joined yet."""
    return bool(BatchStore(db).chunks(open_only=True))


async def before_pass(
    queue: BatchQueue, clients: Sequence[LLMClient], mode: BatchMode | None
) -> None:
    """Join every finished batch of these clients into the cache; queue failed lines again.
    Online (no --batch), also say which batches still run: their requests go online too."""
    still = await queue.sync(clients)
    if mode is None and still:
        lines = sum(c.lines for c in still)
        queue.say(
            f"note: {len(still)} batch(es) with {lines} requests are still running; without "
            "--batch their requests are sent online too (synthgen batch status; synthgen "
            "batch cancel keeps what they completed)"
        )


def miss_policy(queue: BatchQueue | None, mode: BatchMode | None, offline: bool) -> MissPolicy:
    """The cache-miss policy every client of a stage run is built with: offline (`--offline`),
    batch (`--batch`: misses wait for a batch once the stage ends its online phase), or online."""
    if offline:
        return Offline()
    if mode is not None and queue is not None:
        return BatchMisses(queue, mode.followups)
    return Online()


async def after_pass(
    queue: BatchQueue, clients: Sequence[LLMClient], mode: BatchMode, status: Status
) -> BudgetExceeded | None:
    """Batch what this pass left waiting; with --wait, wait for the open batches to end.
    The error that stops the run when the budget has room for no batch at all."""
    if status != "pending":
        return None
    await queue.submit(clients)  # sends files and batches, never a chat request
    still = [c for c in queue.store.chunks(open_only=True) if c.batch_id is not None]
    if queue.held_back and not still:
        return BudgetExceeded(
            f"{queue.held_back} requests wait, and the budget has no room for their batch's "
            "worst case",
            hint="rerun with a higher --max-cost-usd; answers so far are cached",
        )
    if mode.wait and still:
        await wait_for_batches(queue, clients)
    return None


async def wait_for_batches(queue: BatchQueue, clients: Sequence[LLMClient]) -> None:
    """Poll until every open batch of these clients has ended and is joined."""
    shown = ""
    sleep = clients[0].clock.sleep if clients else None
    while True:
        still = await queue.sync(clients)
        if not still:
            return
        done = sum(c.counts.get("completed", 0) + c.counts.get("failed", 0) for c in still)
        total = sum(c.lines for c in still)
        states = ", ".join(sorted({c.remote_status or "?" for c in still}))
        text = f"batch: {len(still)} open · {done}/{total} requests ended · {states}"
        if text != shown:
            queue.say(text)
            shown = text
        if clients and clients[0].stopping.requested:
            return  # Ctrl-C: the batches go on remotely; the rerun joins them
        if sleep is not None:
            await sleep(queue.cfg.poll_s)


def details(queue: BatchQueue) -> dict[str, Any]:
    """What batch mode did in this pass and where every request stands, for the summary."""
    store = queue.store
    open_chunks = store.chunks(open_only=True)
    return {
        "waiting": queue.deferred,
        "submitted": [c.batch_id for c in store.chunks() if c.id in queue.submitted],
        "joined": queue.joined,
        "sent_online_after_failing": queue.online,
        "held_back_by_budget": queue.held_back,
        "open_batches": [c.batch_id or f"(local {c.id}, {c.state})" for c in open_chunks],
        "reserved_usd": round(store.reserved_cost(), 6),
        "lines": store.line_counts(),
    }
