"""The API's functions for axes: `topics_propose` and `personas_sample`, re-exported by
`synthgen.api` (docs/axes.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthgen.llm.types import Answer
    from synthgen.stages.expand.topics import Topic

PathLike = str | Path


def _quiet(message: str) -> None:
    """A library prints nothing unless asked."""


@dataclass(frozen=True)
class TopicsProposed:
    """What `topics propose` wrote: the file, its topics and values, and what it cost."""

    path: str
    topics: int
    values: int
    cached: bool
    tokens: int
    cost_usd: float


def topics_propose(
    config: PathLike,
    output: PathLike,
    *,
    topics: int = 8,
    subtopics: int = 4,
    model: str | None = None,
    base_url: str | None = None,
    state_dir: PathLike | None = None,
    offline: bool = False,
    say: Callable[[str], None] = _quiet,
) -> TopicsProposed:
    """Ask the config's generator for a two-level topic map of its task, shown a sample of
    its seeds; write it to `output` as YAML to edit, then use as `generation.axes.topic`.
    The request is cached in the state dir (a rerun pays nothing) and priced."""
    import asyncio

    from synthgen.api.options import load
    from synthgen.config import resolve_api_key
    from synthgen.core.jsonl import write_atomic
    from synthgen.core.runtime import make_client, price_of
    from synthgen.core.store import open_state
    from synthgen.errors import UsageError
    from synthgen.llm.cost import Budget
    from synthgen.llm.misses import Offline
    from synthgen.seeds.reader import read_seeds
    from synthgen.stages.expand.topics import propose, read_topics, topics_yaml

    if not 1 <= topics <= 100 or not 1 <= subtopics <= 50:
        raise UsageError("topics must be 1..100 and subtopics 1..50", hint="e.g. -k 8 -s 4")
    values = {"endpoint.model": model, "endpoint.base_url": base_url}
    values["state_dir"] = None if state_dir is None else str(state_dir)
    cfg = load(config, values)
    if not cfg.seeds:
        raise UsageError(f"{config} names no seeds", hint="the map is informed by the seeds")
    seeds = read_seeds(cfg.seeds, cfg.seed_format)  # type: ignore[arg-type]
    out = Path(output)
    db = open_state(cfg.state_dir)
    budget = Budget(price_of(cfg, cfg.endpoint.model), cfg.budget.max_cost_usd)
    key = "offline" if offline else resolve_api_key(cfg)
    client = make_client(cfg, key, db, budget, misses=Offline() if offline else None, say=say)

    async def ask() -> tuple[list[Topic], Answer]:
        try:
            return await propose(client, cfg, seeds, topics, subtopics)
        finally:
            await client.close()

    try:
        found, answer = asyncio.run(ask())
    finally:
        db.close()
    note = (
        f"Topic map for {cfg.task}, proposed by {cfg.endpoint.model} from {len(seeds)} seeds "
        "(synthgen topics propose).\nEdit it freely: rename, add, remove. Use it with "
        f"generation.axes.topic: {out.name}\n(each call then states one `topic / subtopic`)."
    )
    write_atomic(out, topics_yaml(found, note).encode("utf-8"))
    usage = answer.usage
    return TopicsProposed(
        path=str(out),
        topics=len(found),
        values=len(read_topics(out)),
        cached=answer.cached,
        tokens=usage.prompt_tokens + usage.completion_tokens,
        cost_usd=round(usage.cost_usd, 6),
    )


@dataclass(frozen=True)
class PersonasSampled:
    """What `personas sample` wrote: how many of how many rows, and where."""

    path: str
    rows: int
    sampled: int


def personas_sample(
    file: PathLike, n: int, output: PathLike, *, seed: int = 0, field: str | None = None
) -> PersonasSampled:
    """A spread-out subset of `n` rows of a persona file (JSONL, CSV or text lines), MinHash
    over each row's description (`field`, else every field), seeded; written in its format."""
    from synthgen.core.jsonl import write_atomic
    from synthgen.errors import InputError, UsageError
    from synthgen.stages.dedup.spread import spread_sample
    from synthgen.stages.expand.personas import read_rows, write_rows

    src = Path(file)
    if not src.is_file():
        raise InputError(str(src), "file not found", hint="give a JSONL, CSV or text file")
    if n < 1:
        raise UsageError("-n must be at least 1", hint="e.g. -n 1000")
    rows = read_rows(src, field)
    picked = spread_sample([text for _, text in rows], n, seed)
    write_atomic(Path(output), write_rows(src, [rows[i][0] for i in picked]))
    return PersonasSampled(path=str(output), rows=len(rows), sampled=len(picked))
