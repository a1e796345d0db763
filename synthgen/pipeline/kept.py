"""What `run` holds of the records it kept. They are on disk (data.jsonl) the moment they are
kept; in memory stay only what later decisions read: how many, the human seeds in their
lineage (seed reweighting), the chunks they rest on (a grounded run's chunk plan, so no
round re-reads data.jsonl), the round's instructions (its distinct-2) and a bounded sample
shown to later rounds' prompts as machine examples. So memory does not grow with the target.
"""

from __future__ import annotations

import random
from collections import Counter

from synthgen.records import Record

# Kept records later prompts may draw machine examples from: the first POOL_SIZE kept, then
# a uniform sample of all kept (reservoir sampling on the run's own seeded stream), so a run
# that keeps fewer shows exactly what it kept, and the sample is a function of the config.
POOL_SIZE = 512


class Kept:
    """Compact state of the kept records: count, seed lineage, round texts, example sample."""

    def __init__(self, seed: int, size: int = POOL_SIZE) -> None:
        self.count = 0
        self.parents: Counter[str] = Counter()
        self.chunks: Counter[str] = Counter()  # grounded: kept per chunk id (the chunk plan)
        self.pool: list[Record] = []
        self.size = size
        self._round: list[str] = []
        self._rng = random.Random(f"synthgen:kept-pool:{seed}")

    def add(self, rec: Record) -> None:
        """Count a kept record, its seeds, its instruction; maybe sample it for the prompts."""
        self.count += 1
        self.parents.update(p for p in rec.provenance.parents if p.startswith("seed:"))
        source = rec.provenance.source
        if source is not None and "chunk_id" in source:
            self.chunks[str(source["chunk_id"])] += 1
        self._round.append(rec.instruction.lower())
        if len(self.pool) < self.size:
            self.pool.append(rec)
            return
        slot = self._rng.randrange(self.count)
        if slot < self.size:
            self.pool[slot] = rec

    def end_round(self) -> list[str]:
        """The instructions kept in the round now ending (lower-cased), forgotten here."""
        texts, self._round = self._round, []
        return texts
