"""Evaluation-set contamination by n-gram overlap, as GPT-3 checked it (13-grams of words)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

NGRAM = 13


def ngrams(words: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    """The word n-grams contamination is measured by; a text shorter than n has none."""
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class NgramIndex:
    """Normalised word n-grams of evaluation items; texts shorter than n words add none."""

    def __init__(self, n: int = NGRAM) -> None:
        self.n = n
        self._owner: dict[int, Hashable] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def add(self, key: Hashable, words: list[str]) -> None:
        """Index an eval item's n-grams; an n-gram shared by several items stays with the first."""
        for g in ngrams(words, self.n):
            self._owner.setdefault(hash(g), key)

    def match(self, words: list[str]) -> tuple[Hashable, float] | None:
        """The eval item sharing most n-grams with `words`, and the share of the record's
        n-grams found in the eval set (any overlap counts as contamination)."""
        if not self._owner:
            return None
        grams = ngrams(words, self.n)
        hits: Counter[Hashable] = Counter()
        found = 0
        for g in grams:
            owner = self._owner.get(hash(g))
            if owner is not None:
                hits[owner] += 1
                found += 1
        if not found:
            return None
        owner, _ = hits.most_common(1)[0]
        return owner, found / len(grams)
