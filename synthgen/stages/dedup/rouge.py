"""Self-Instruct's ROUGE-L filter, exactly, without comparing every pair.

Self-Instruct keeps a new instruction when its ROUGE-L F1 (rouge_score, no stemming) with
every instruction in the pool is ≤ 0.7. F1 = 2·LCS/(a+b) for token counts a, b, so a pair
can only exceed t when LCS ≥ t(a+b)/2, which needs a bag-of-tokens overlap of at least
t·a/(2−t) tokens on each side. Prefix filtering on that bound (tokens ordered rarest first)
finds every pair that can exceed t; rapidfuzz's LCS (C++) then scores the few candidates with
rouge_score's own float formula, so the keep/drop decisions are identical.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, cast

from synthgen.errors import UsageError
from synthgen.stages.dedup.corpus import KEEP, NEAR, Corpus, Decisions
from synthgen.stages.dedup.policy import cutoff, rank
from synthgen.text.normalise import id_char, rouge_l_f

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_EPS = 1e-9


def _char(i: int) -> str:
    try:
        return id_char(i)
    except ValueError:
        raise UsageError(
            "too many distinct words for --method rouge-l (over a million)",
            hint="use --method minhash for corpora this varied",
        ) from None


def min_overlap(n: int, t: float) -> int:
    """Fewest shared tokens a text of n tokens needs with any text to score above t."""
    return max(1, math.ceil(t * n / (2 - t) - _EPS))


class RougeIndex:
    """Kept texts (as rouge tokens) and a prefix index; answers "ROUGE-L above t?" exactly.

    `rarity` orders tokens for the prefix filter (any fixed order is correct; rarest first
    is fast): pass document frequencies when the corpus is known in advance.
    """

    def __init__(self, threshold: float, rarity: Callable[[str], int] | None = None) -> None:
        from rapidfuzz import process
        from rapidfuzz.distance import Indel, LCSseq

        self.t = threshold
        self._least = cutoff("rouge-l", threshold)
        self._lcs = LCSseq.similarity
        self._extract = process.extract
        self._indel = Indel.normalized_similarity
        self._rarity = rarity or (lambda tok: 0)
        self._ids: dict[str, int] = {}
        self._postings: dict[tuple[int, int], list[int]] = {}
        self._keys: list[Hashable] = []
        self._texts: list[str] = []
        self._lens: list[int] = []

    def __len__(self) -> int:
        return len(self._keys)

    def _encode(self, tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
        ids = self._ids
        chars = []
        for tok in tokens:
            i = ids.get(tok)
            if i is None:
                i = ids[tok] = len(ids)
            chars.append(_char(i))
        # Each occurrence is its own element, so set overlap = bag-of-tokens overlap.
        seen: Counter[int] = Counter()
        elems = []
        for tok in tokens:
            i = ids[tok]
            seen[i] += 1
            elems.append((self._rarity(tok), i, seen[i]))
        elems.sort()
        prefix = len(tokens) - min_overlap(len(tokens), self.t) + 1
        return "".join(chars), [(i, k) for _, i, k in elems[:prefix]]

    def query(self, tokens: list[str]) -> list[tuple[Hashable, float]]:
        """Kept texts whose ROUGE-L F1 with `tokens` is above the threshold, best first."""
        if not tokens:
            return []
        text, prefix = self._encode(tokens)
        a, t = len(tokens), self.t
        slots: set[int] = set()
        for elem in prefix:
            hits = self._postings.get(elem)
            if hits:
                slots.update(hits)
        if not slots:
            return []
        order = list(slots)
        texts = self._texts
        # Indel's normalized similarity is 2·LCS/(a+b), ROUGE-L F1 up to float rounding: it
        # screens all candidates in C++ (length bounds included); survivors are scored exactly.
        screened = self._extract(
            text,
            [texts[s] for s in order],
            scorer=self._indel,
            score_cutoff=max(0.0, t - 1e-6),
            limit=None,
        )
        above: list[tuple[int, float]] = []
        for _, _, k in screened:
            slot = order[k]
            f = rouge_l_f(self._lcs(text, texts[slot]), a, self._lens[slot])
            if f >= self._least:
                above.append((slot, f))
        above.sort(key=lambda sf: (-sf[1], sf[0]))  # ties: the earliest kept first
        return [(self._keys[slot], f) for slot, f in above]

    def add(self, key: Hashable, tokens: list[str]) -> None:
        """Keep a text to compare later ones against; an empty text is skipped (it scores 0)."""
        if not tokens:
            return  # rouge_score scores an empty text 0 against everything
        text, prefix = self._encode(tokens)
        slot = len(self._keys)
        self._keys.append(key)
        self._texts.append(text)
        self._lens.append(len(tokens))
        for elem in prefix:
            self._postings.setdefault(elem, []).append(slot)


def document_frequency(token_lists: Iterable[list[str]]) -> Counter[str]:
    """In how many texts each token occurs, so the prefix filter can index rarest first."""
    df: Counter[str] = Counter()
    for toks in token_lists:
        df.update(set(toks))
    return df


def decide_rouge(
    corpus: Corpus, order: npt.NDArray[np.int64], d: Decisions, threshold: float
) -> None:
    """Greedy in priority order, as Self-Instruct's loop: references form the initial pool."""
    df = document_frequency(corpus.tokens)
    index = RougeIndex(threshold, rarity=df.__getitem__)
    for item in order.tolist():
        toks = corpus.tokens[item]
        if item < corpus.refs:
            index.add(item, toks)
            continue
        if d.status[item] != KEEP:
            continue
        found = index.query(toks)
        if found:
            key, sim = max(  # the first of equal rank: the earliest
                found, key=lambda kv: rank(corpus.reason_of_match(cast(int, kv[0]), NEAR), kv[1])
            )
            match = cast(int, key)
            d.drop(item, corpus.reason_of_match(match, NEAR), match, sim)
            d.saw(item, match, sim)
        else:
            index.add(item, toks)
