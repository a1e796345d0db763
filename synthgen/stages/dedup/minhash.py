"""Near duplicates of a whole dataset: MinHash-LSH bands (bands.py), then every candidate
pair verified with the exact Jaccard of the two shingle sets."""

from __future__ import annotations

import itertools
from array import array
from typing import TYPE_CHECKING

from synthgen.stages.dedup.bands import BandHasher
from synthgen.stages.dedup.corpus import KEEP, NEAR, Corpus, Decisions
from synthgen.stages.dedup.policy import cutoff, rank

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def decide_minhash(
    corpus: Corpus, order: npt.NDArray[np.int64], d: Decisions, threshold: float
) -> None:
    """Drop near duplicates: band-hash candidate pairs, then verify each by exact Jaccard."""
    import numpy as np

    if corpus.fed < len(corpus) or corpus.hasher is None:
        corpus.feed()
    hasher: BandHasher = corpus.hasher
    bh = hasher.finish()
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    alive = d.status == KEEP  # exact duplicates and pre-dropped items take no part
    pairs = hasher.pairs(bh, position, alive)
    del bh
    verify_pairs(corpus, order, d, threshold, pairs)


def verify_pairs(
    corpus: Corpus,
    order: npt.NDArray[np.int64],
    d: Decisions,
    threshold: float,
    pairs: npt.NDArray[np.uint64],
) -> None:
    """Greedy in priority order over candidate pairs only: a record is dropped when its exact
    shingle Jaccard with a kept earlier record (or a reference) reaches the threshold."""
    words, offsets = corpus.words, corpus.offsets
    refs = corpus.refs
    status = d.status
    least = cutoff("minhash", threshold)
    cur_item = -1
    cur_set: set[int] = set()
    best: tuple[int, float, int] | None = None  # severity-ordered best match of cur_item

    def settle() -> None:
        if best is not None:
            _, sim, match = best
            d.drop(cur_item, corpus.reason_of_match(match, NEAR), match, sim)

    for key in pairs.tolist():
        hi_item, lo_item = int(order[key >> 32]), int(order[key & 0xFFFFFFFF])
        if hi_item != cur_item:
            settle()
            cur_item, best = hi_item, None
            cur_set = shingle_set(words[offsets[hi_item] : offsets[hi_item + 1]])
        if hi_item < refs or status[lo_item] != KEEP or status[hi_item] != KEEP:
            continue
        other = shingle_set(words[offsets[lo_item] : offsets[lo_item + 1]])
        inter = len(cur_set & other)
        sim = inter / (len(cur_set) + len(other) - inter)
        d.saw(hi_item, lo_item, sim)
        if sim >= least:
            sev, _ = rank(corpus.reason_of_match(lo_item, NEAR), sim)
            if best is None or (sev, sim) > (best[0], best[1]):  # ties: the earliest
                best = (sev, sim, lo_item)
    settle()


def shingle_set(ws: array[int] | list[int]) -> set[int]:
    """A text's word 2-gram shingles as ids, from its word ids (as the bands hash them)."""
    return {(a << 32) | b for a, b in itertools.pairwise(ws)}
