"""Which chunk each grounded job rests on: round robin over the chunks, those with the
fewest kept records first (a chunk that yielded nothing gets the next rounds), and none
past its quota while another is below it."""

from __future__ import annotations

import math
from collections.abc import Mapping

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
        # The per-chunk quota: an even share of the target; chunks at it wait for the rest.
        quota = math.ceil(target / len(chunks)) if target and chunks else None
        position = {c.id: i for i, c in enumerate(chunks)}
        order = sorted(chunks, key=lambda c: (kept.get(c.id, 0), position[c.id]))
        if quota is not None:
            order = [c for c in order if kept.get(c.id, 0) < quota] or order
        self.order: list[Chunk] = order

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
