"""A spread-out subset of a large file of descriptions (personas): MinHash groups look-alike
texts (those sharing their minimum hash), a seeded round-robin over the groups takes one at a
time, and a near-duplicate index (dedup's own) skips a text too like one already taken, so
K picks cover the file rather than its most common kind. Seeded: the same file, K and seed
give the same subset."""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Sequence

from synthgen.stages.dedup.index import NUM_PERM, NearDupIndex

SPREAD_THRESHOLD = 0.5  # Jaccard of word 2-grams above which a pick is too like a taken one


def shingles(text: str) -> list[str]:
    """Word 2-grams of the lower-cased text (a one-word text: the word)."""
    ws = text.lower().split()
    return [f"{a} {b}" for a, b in itertools.pairwise(ws)] or ws


def spread_sample(texts: Sequence[str], k: int, seed: int = 0) -> list[int]:
    """Indices of `k` texts (all when fewer), spread over the look-alike groups, in pick order."""
    import rensa

    rng = random.Random(f"synthgen:spread:{seed}")
    order = list(range(len(texts)))
    rng.shuffle(order)
    groups: dict[int, deque[int]] = {}
    for i in order:
        sh = shingles(texts[i])
        if not sh:
            key = -1
        else:
            m = rensa.RMinHash(NUM_PERM, 42)
            m.update(sh)
            key = int(m.digest()[0])
        groups.setdefault(key, deque()).append(i)
    queues = list(groups.values())  # in the seeded order of their first member
    index = NearDupIndex(SPREAD_THRESHOLD)
    picked: list[int] = []
    alike: list[int] = []  # too like a taken one: taken last, only if K needs them
    while queues and len(picked) < k:
        left = []
        for q in queues:
            if len(picked) >= k:
                break
            i = q.popleft()
            sh = shingles(texts[i])
            if sh and index.query(sh):
                alike.append(i)
            else:
                index.add(i, sh)
                picked.append(i)
            if q:
                left.append(q)
        queues = left
    return picked + alike[: max(0, k - len(picked))]
