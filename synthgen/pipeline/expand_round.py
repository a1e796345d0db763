"""One round's candidates: the expand engine with the round's own seed and size, shown the
records kept in earlier rounds (never its own unjudged ones), seeds weighted as decided.
They stream: each candidate, as the engine commits it (in job order), meets the screen, and
the survivors queue for the judge, so judging starts with the round's first answer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synthgen.config import Config
from synthgen.core.stage import Outcome
from synthgen.llm.client import LLMClient
from synthgen.records import LedgerEntry, Provenance, Record, Seed
from synthgen.stages.expand.axes import Drawer
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.engine import Expander
from synthgen.stages.expand.grounded import Grounding


@dataclass(frozen=True)
class RoundInputs:
    """What one round's expansion needs from the run."""

    cfg: Config
    seeds: list[Seed]
    client: LLMClient
    ctx: RunContext
    kept: Sequence[Record]
    weights: Sequence[float] | None
    on_progress: Callable[[int], None]  # candidates made so far this round, as they come
    # Screens a separately generated instruction before its response is paid for.
    instruction_gate: Callable[[Any], tuple[str, str, str] | None] | None = None
    # The models that answer in turn when K responses are asked (generation.models).
    responders: Sequence[LLMClient] = ()
    # grounded: job number → its chunk(s), this round's (stages/expand/coverage.py)
    ground: Callable[[int], Grounding] | None = None
    # The round's axis values by its generation seed (coverage steering); None: drawn at random.
    axes: Callable[[int], Drawer] | None = None


ROUND_SEED_STEP = 1_000_003  # each round draws from its own random stream


class RoundStream:
    """Where the expand engine commits a round (a Consumer): each new candidate, in commit
    order and as `run` writes it, goes through `screen` (False: it was ledgered) and the
    survivors queue for the judge; the engine's own drops go to `on_drop`. Nothing is held
    but the queue: a rerun makes the round again from the cache."""

    def __init__(
        self, screen: Callable[[Record], bool], on_drop: Callable[[LedgerEntry], None]
    ) -> None:
        self.screen, self.on_drop = screen, on_drop
        self._ids: set[str] = set()
        self._drop_ids: set[str] = set()
        self._queue: asyncio.Queue[Record | None] = asyncio.Queue()

    @property
    def count(self) -> int:
        """Candidates taken so far."""
        return len(self._ids)

    def add(self, rec: Record) -> bool:
        """Take a new candidate (screen it, queue it if it survives); False for a known id."""
        if rec.id in self._ids:
            return False
        self._ids.add(rec.id)
        rec = _canonical(rec)
        if self.screen(rec):
            self._queue.put_nowait(rec)
        return True

    def drop(self, entry: LedgerEntry) -> None:
        """Pass on a drop the engine ledgered, once however often it is ledgered."""
        if entry.id not in self._drop_ids:
            self._drop_ids.add(entry.id)
            self.on_drop(_canonical_drop(entry))

    def flush(self) -> None:
        """Nothing to write: survivors are queued as they come."""

    def close(self) -> None:
        """The round's expansion ended: the survivors end after those queued."""
        self._queue.put_nowait(None)

    async def survivors(self) -> AsyncIterator[Record]:
        """The survivors in candidate order, each as soon as it is screened."""
        while (rec := await self._queue.get()) is not None:
            yield rec


async def expand_round(p: RoundInputs, index: int, asked: int, out: RoundStream) -> Outcome | None:
    """Commit the round's candidates into `out`, then close it; a stop, if any."""
    try:
        return await _expand(p, index, asked, out)
    finally:
        out.close()


async def _expand(p: RoundInputs, index: int, asked: int, out: RoundStream) -> Outcome | None:
    gen = p.cfg.generation.model_copy(
        update={"count": asked, "seed": p.cfg.generation.seed + ROUND_SEED_STEP * index}
    )
    cfg = p.cfg.model_copy(update={"generation": gen})
    expander = Expander(
        cfg,
        p.seeds,
        p.client,
        out,
        dataclasses.replace(p.ctx, gen=gen),
        lambda prog: p.on_progress(prog.written),
        initial_pool=p.kept,
        feed_back=False,
        seed_weights=p.weights,
        instruction_gate=p.instruction_gate,
        responders=p.responders,
        ground=p.ground,
        axes=None if p.axes is None else p.axes(gen.seed),
    )
    result = await expander.run()
    if result.status == "pending":
        return Outcome("pending")
    if result.status not in ("complete", "exhausted") or (
        result.status == "exhausted" and not out.count
    ):
        return Outcome(result.status, result.error)
    return None


def _uncached(prov: Provenance) -> Provenance | None:
    """The provenance without the cache flags of its answers; None when none is set."""
    update = {
        name: gen.model_copy(update={"cached": False})
        for name in ("generator", "response_generator")
        if (gen := getattr(prov, name)) is not None and gen.cached
    }
    return prov.model_copy(update=update) if update else None


def _canonical(rec: Record) -> Record:
    """The record as `run` writes it: whether its answers came from the cache is not part of
    it (the manifest counts that), so a replay writes the same bytes."""
    changes: dict[str, Any] = {}
    if (prov := _uncached(rec.provenance)) is not None:
        changes["provenance"] = prov
    if rec.responses and any(r.generator and r.generator.cached for r in rec.responses):
        changes["responses"] = [  # K responses: each answer's flag too
            r.model_copy(update={"generator": r.generator.model_copy(update={"cached": False})})
            if r.generator is not None
            else r
            for r in rec.responses
        ]
    return rec.model_copy(update=changes) if changes else rec


def _canonical_drop(entry: LedgerEntry) -> LedgerEntry:
    """A ledger entry without the cache flags, as `_canonical` does for records."""
    prov = _uncached(entry.provenance)
    return entry if prov is None else entry.model_copy(update={"provenance": prov})
