"""Which chunk each grounded job rests on: round robin over the chunks, those with the
fewest kept records first (a chunk that yielded nothing gets the next rounds), and none
past its quota while another is below it."""

from __future__ import annotations

import math
from collections.abc import Mapping

from synthgen.config import Config
from synthgen.documents.grounding import GroundingSettings
from synthgen.documents.model import Chunk
from synthgen.stages.expand.grounded import Grounding
from synthgen.stages.expand.sources import Sources


class ChunkPlan:
    """Job number → its Grounding; a pure function of the corpus and the counts given."""

    def __init__(
        self,
        sources: Sources,
        settings: GroundingSettings,
        kept: Mapping[str, int] | None = None,
        target: int | None = None,
    ) -> None:
        self.sources, self.settings = sources, settings
        kept = kept or {}
        chunks = list(sources.chunks)
        # The per-chunk quota, an even share of the target: a chunk at it waits behind every
        # chunk below it, and chunks are taken fewest kept first, so one that yielded nothing
        # leads the next round. Never excluded: a chunk that never yields must not starve
        # the round of the chunks that do.
        quota = max(1, math.ceil(target / len(chunks))) if target and chunks else 1
        # Documents interleaved (the first chunk of each, then the second of each...), so a
        # round that ends early has still drawn on every document.
        docs = {d: i for i, d in enumerate(dict.fromkeys(c.document for c in chunks))}

        def rank(c: Chunk) -> tuple[bool, int, int, int]:
            n = kept.get(c.id, 0)
            return n >= quota, n, c.index, docs[c.document]

        self.order: list[Chunk] = sorted(chunks, key=rank)

    def __call__(self, index: int) -> Grounding:
        """The chunk(s) of job `index`: its own, and for multi-hop the next of its document."""
        chunk = self.order[index % len(self.order)]
        chunks: tuple[Chunk, ...] = (chunk,)
        if self.settings.hops == 2:
            siblings = self.sources.siblings(chunk)
            if len(siblings) > 1:
                at = siblings.index(chunk)
                other = siblings[at + 1] if at + 1 < len(siblings) else siblings[at - 1]
                chunks = tuple(sorted((chunk, other), key=lambda c: c.index))
        return Grounding(chunks, self.sources.document(chunk), self.sources, self.settings)


def round_plan(cfg: Config, sources: Sources | None, kept: Mapping[str, int]) -> ChunkPlan | None:
    """`run`'s plan for its next round: chunks with the fewest records kept so far (`kept`,
    the counts run holds in memory, never a re-read of its output) first, none past its
    share of the target while another is below it."""
    if sources is None:
        return None
    return ChunkPlan(sources, cfg.grounding, kept, cfg.target.count)
