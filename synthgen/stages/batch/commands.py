"""`synthgen batch status` and `synthgen batch cancel`: the state directory's batches, as
recorded and as the endpoint reports them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from synthgen.core.batchrun import open_queue
from synthgen.core.runtime import make_client, price_of, run_cancellable
from synthgen.core.store import open_state
from synthgen.llm.batchstore import FINAL_REMOTE, Chunk
from synthgen.llm.cost import Budget
from synthgen.llm.misses import Offline

if TYPE_CHECKING:
    import sqlite3

    from synthgen.config import Config
    from synthgen.llm.batching import BatchQueue
    from synthgen.llm.client import LLMClient

CANCEL_POLLS = 120  # polls (poll_s apart) a cancel waits for its batches to stop


def _clients(cfg: Config, db: sqlite3.Connection, chunks: list[Chunk]) -> dict[int, LLMClient]:
    """A client per chunk's endpoint and model, at the URL the batch was made at (unless
    --base-url says otherwise); the key comes from the environment as for any stage."""
    from synthgen.config import resolve_api_key

    made: dict[tuple[str | None, str], LLMClient] = {}
    out: dict[int, LLMClient] = {}
    given = "base_url" in cfg.endpoint.model_fields_set
    for c in chunks:
        url = cfg.endpoint.base_url if given or not c.base_url else c.base_url
        key = (url, c.model)
        if key not in made:
            ep = cfg.model_copy(
                update={"endpoint": cfg.endpoint.model_copy(update={"base_url": url})}
            )
            budget = Budget(price_of(ep, c.model))
            made[key] = make_client(
                ep, resolve_api_key(ep), db, budget, c.model, base_url=url, misses=Offline()
            )
        out[c.id] = made[key]
    return out


def _row(c: Chunk) -> dict[str, Any]:
    done = c.counts.get("completed", 0)
    return {
        "local_id": c.id,
        "batch_id": c.batch_id,
        "endpoint": c.endpoint,
        "model": c.model,
        "state": c.state,
        "status": c.remote_status,
        "requests": c.lines,
        "completed": done,
        "failed": c.counts.get("failed", 0),
        "age": age(c.created_at),
        "created_at": c.created_at,
        "worst_cost_usd": round(c.worst_cost_usd, 6),
    }


def batch_status(cfg: Config, refresh: bool = True) -> dict[str, Any]:
    """Every batch of the state directory; open ones asked for their status first."""
    from synthgen.core.store import DB_NAME

    if not (cfg.state_dir / DB_NAME).exists():  # nothing was ever run here: make nothing
        return {"batches": [], "requests": {}, "reserved_usd": 0.0}
    db = open_state(cfg.state_dir)
    try:
        queue = open_queue(db, cfg, lambda m: None)
        if refresh:
            run_cancellable(lambda: _refresh(cfg, db, queue))
        return {
            "batches": [_row(c) for c in queue.store.chunks()],
            "requests": queue.store.line_counts(),
            "reserved_usd": round(queue.store.reserved_cost(), 6),
        }
    finally:
        db.close()


async def _refresh(cfg: Config, db: sqlite3.Connection, queue: BatchQueue) -> None:
    chunks = [c for c in queue.store.chunks(open_only=True) if c.batch_id]
    clients = _clients(cfg, db, chunks)
    try:
        for c in chunks:
            assert c.batch_id is not None
            remote = await queue.api(clients[c.id]).retrieve(c.batch_id)
            queue.store.update_chunk(c.id, remote_status=remote.status, counts=remote.counts)
    finally:
        for client in set(clients.values()):
            await client.close()


def batch_cancel(cfg: Config, say: Callable[[str], None], wait: bool = True) -> dict[str, Any]:
    """Cancel every open batch; with `wait`, wait for them to stop and keep what completed
    (joined into the cache), so the same stage command without --batch finishes online."""
    db = open_state(cfg.state_dir)
    try:
        queue = open_queue(db, cfg, say)
        run_cancellable(lambda: _cancel(cfg, db, queue, wait))
        return batch_status(cfg, refresh=False)
    finally:
        db.close()


async def _cancel(cfg: Config, db: sqlite3.Connection, queue: BatchQueue, wait: bool) -> None:
    store = queue.store
    chunks = store.chunks(open_only=True)
    clients = _clients(cfg, db, chunks)
    try:
        for c in chunks:
            if c.batch_id is None:  # never created: its requests simply wait again
                for line in store.chunk_lines(c.id):
                    store.uncount_attempt(line.custom_id)
                    store.settle_line(line.custom_id, "queued")
                store.update_chunk(c.id, state="joined", remote_status="never_created")
                queue.say(f"batch file {c.file_name}: never submitted; its requests wait again")
                continue
            if c.remote_status not in FINAL_REMOTE:
                remote = await queue.api(clients[c.id]).cancel(c.batch_id)
                store.update_chunk(c.id, remote_status=remote.status, counts=remote.counts)
                queue.say(f"batch {c.batch_id}: {remote.status}")
        for _ in range(CANCEL_POLLS if wait else 1):
            open_chunks = [c for c in store.chunks(open_only=True) if c.batch_id]
            if not open_chunks:
                break
            for client in {clients[c.id] for c in open_chunks if c.id in clients}:
                await queue.sync([client])
            if any(c.batch_id for c in store.chunks(open_only=True)) and wait:
                await next(iter(clients.values())).clock.sleep(cfg.batch.poll_s)
    finally:
        for client in set(clients.values()):
            await client.close()


def age(created_at: str, now: float | None = None) -> str:
    """How long ago a batch was made, in words a status table shows ("3 h 12 min")."""
    from datetime import datetime

    seconds = int((now or time.time()) - datetime.fromisoformat(created_at).timestamp())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
