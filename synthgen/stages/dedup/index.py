"""An incremental near-duplicate index: add records one at a time, ask "near a kept one?".

MinHash-LSH from rensa (pinned <0.6) finds candidates; every candidate is verified with the
exact Jaccard similarity of the two shingle sets, so a false candidate never drops a record.
rensa is used only here: swapping it means rewriting this one class.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from synthgen.stages.dedup.policy import cutoff

NUM_PERM = 128
TARGET_RECALL = 0.995  # chance that a pair exactly at the threshold becomes a candidate


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that a pair with this similarity shares a band, to pick a banding by recall."""
    return float(1.0 - (1.0 - similarity**rows) ** bands)


def choose_banding(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still finds a pair at the threshold with
    probability ≥ TARGET_RECALL (e.g. 32 × 4 at 0.7, 42 × 3 at 0.5)."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1 or candidate_probability(threshold, bands, rows) < TARGET_RECALL:
            break
        best = (bands, rows)
    return best


class NearDupIndex:
    """Kept records' shingle sets behind a rensa MinHash-LSH; queries return verified matches."""

    def __init__(self, threshold: float, num_perm: int = NUM_PERM, seed: int = 42) -> None:
        import rensa

        self.threshold = threshold
        self._least = cutoff("minhash", threshold)
        self.bands, self.rows = choose_banding(threshold, num_perm)
        self.num_perm = self.bands * self.rows
        self.seed = seed
        self._rensa: Any = rensa
        self._lsh: Any = rensa.RMinHashLSH(threshold, self.num_perm, self.bands)
        self._keys: list[Hashable] = []
        self._sets: list[frozenset[str]] = []

    def __len__(self) -> int:
        return len(self._keys)

    def _minhash(self, shingles: list[str]) -> Any:
        m = self._rensa.RMinHash(self.num_perm, self.seed)
        m.update(shingles)
        return m

    def query(self, shingles: list[str]) -> list[tuple[Hashable, float]]:
        """Kept records whose exact Jaccard with `shingles` is ≥ the threshold, best first."""
        if not shingles:
            return []
        mine = frozenset(shingles)
        found: list[tuple[Hashable, float]] = []
        for slot in sorted(self._lsh.query(self._minhash(shingles))):
            other = self._sets[slot]
            sim = len(mine & other) / len(mine | other)
            if sim >= self._least:
                found.append((self._keys[slot], sim))
        found.sort(key=lambda kv: -kv[1])  # ties: the earliest kept first
        return found

    def add(self, key: Hashable, shingles: list[str]) -> None:
        """Keep a record so later queries match against it; one without shingles never matches."""
        if not shingles:
            return
        self._lsh.insert(len(self._keys), self._minhash(shingles))
        self._keys.append(key)
        self._sets.append(frozenset(shingles))

    def check_and_add(self, key: Hashable, shingles: list[str]) -> tuple[Hashable, float] | None:
        """The best kept match if this record is a near-duplicate; else keep it (add it)."""
        found = self.query(shingles)
        if found:
            return found[0]
        self.add(key, shingles)
        return None
