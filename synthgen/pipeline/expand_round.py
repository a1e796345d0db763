"""One round's candidates: the expand engine with the round's own seed and size, shown the
records kept in earlier rounds (never its own unjudged ones), seeds weighted as decided."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synthgen.config import Config
from synthgen.core.stage import Outcome
from synthgen.llm.client import LLMClient
from synthgen.records import LedgerEntry, Provenance, Record, Seed
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.consumer import Collected
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


ROUND_SEED_STEP = 1_000_003  # each round draws from its own random stream


async def expand_round(
    p: RoundInputs, index: int, asked: int
) -> tuple[list[Record], list[LedgerEntry], Outcome | None]:
    """(candidates in commit order, the engine's own ledger entries, a stop if any). They
    pass in memory: a rerun makes them again from the cache."""
    gen = p.cfg.generation.model_copy(
        update={"count": asked, "seed": p.cfg.generation.seed + ROUND_SEED_STEP * index}
    )
    cfg = p.cfg.model_copy(update={"generation": gen})
    out = Collected()
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
    )
    result = await expander.run()
    records = [_canonical(r) for r in out.records]
    drops = [_canonical_drop(d) for d in out.drops]
    stop = None
    if result.status == "pending":
        stop = Outcome("pending")
    elif result.status not in ("complete", "exhausted") or (
        result.status == "exhausted" and not records
    ):
        stop = Outcome(result.status, result.error)
    return records, drops, stop


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
