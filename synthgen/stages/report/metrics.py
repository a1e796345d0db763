"""Diversity metrics on plain texts, each defined so that sets of different sizes compare.

Size-dependent measures (distinct-n, compression, pairwise ROUGE-L) are taken on a fixed
budget drawn with a seeded RNG: the same file always gives the same numbers, and a 100-record
set is measured on the same footing as a 100k-record one. Directions live in METRIC_INFO.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

TOKEN_BUDGET = 10_000  # distinct-n: tokens drawn from the sample
BYTE_BUDGET = 100_000  # compression ratio: bytes of text compressed
ROUGE_SAMPLE = 300  # pairwise ROUGE-L: records (≈45k pairs)

_WORD = re.compile(r"\w+")
_OPENER = re.compile(r"[^\W_]+")

# name -> (what it measures, direction). The docs and `report --compare` read this table.
METRIC_INFO: dict[str, tuple[str, str]] = {
    "records": ("records read", "context"),
    "distinct_1": ("unique words ÷ words on a fixed token budget", "higher = more diverse"),
    "distinct_2": ("unique word bigrams ÷ bigrams on the budget", "higher = more diverse"),
    "distinct_3": ("unique word trigrams ÷ trigrams on the budget", "higher = more diverse"),
    "compression_ratio": ("raw bytes ÷ zlib bytes on a fixed byte budget", "higher = repetitive"),
    "mean_pairwise_rouge_l": ("mean ROUGE-L F1 over pairs of sampled records", "higher = alike"),
    "opener_entropy": ("entropy (bits) of instruction first words", "higher = more diverse"),
    "top_opener_share": ("share of instructions opening with the top word", "higher = collapse"),
    "exact_duplicate_share": ("records whose text repeats an earlier one", "higher = worse"),
    "seed_concentration": ("top-10% seeds' share ÷ their fair share", "higher = skewed"),
    "seeds_used_share": ("seeds with at least one descendant", "higher = better coverage"),
    "instruction_length_ratio": ("median instruction words, data ÷ seeds", "1 = like seeds"),
    "output_length_ratio": ("median output words, data ÷ seeds", "1 = like seeds"),
    "vocabulary_overlap": ("Jaccard of word sets, equal budgets", "higher = closer to seeds"),
    "opener_js_divergence": ("Jensen-Shannon divergence of openers (bits)", "higher = drifted"),
    "judge_pass_rate": ("records the judge passed", "context"),
    "judge_mean_score": ("mean aggregate judge score", "context"),
    "judge_length_spearman": ("Spearman(judge score, output words)", "higher = length bias"),
    "human_judge_kappa": ("Cohen's kappa, judge pass vs human accept", "higher = agree"),
}


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore); punctuation is not a token."""
    return _WORD.findall(text.lower())


def word_count(text: str) -> int:
    """Whitespace words, as `seeds inspect` counts them."""
    return len(text.split())


def opener(text: str) -> str:
    """The first word, lower-cased, without punctuation ("" for a text without words)."""
    m = _OPENER.search(text[:200])
    return m.group(0).lower() if m else ""


def _shuffled(n: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def budget_tokens(texts: Sequence[str], budget: int, seed: int) -> list[list[str]]:
    """Token lists of texts in seeded random order, cut so that they hold `budget` tokens."""
    out: list[list[str]] = []
    used = 0
    for i in _shuffled(len(texts), seed):
        if used >= budget:
            break
        toks = tokens(texts[i])[: budget - used]
        out.append(toks)
        used += len(toks)
    return out


def distinct_n(seqs: Iterable[Sequence[str]], n: int) -> float | None:
    """Unique n-grams ÷ n-grams, counted within each sequence (None when there are none)."""
    grams: set[tuple[str, ...]] = set()
    total = 0
    for s in seqs:
        for i in range(len(s) - n + 1):
            grams.add(tuple(s[i : i + n]))
            total += 1
    return len(grams) / total if total else None


def compression_ratio(texts: Sequence[str], budget: int, seed: int) -> float | None:
    """Raw bytes ÷ zlib-compressed bytes of texts in seeded order up to `budget` bytes."""
    # Higher means more repetitive: zlib's 32 KB window sees repeats across dozens of records.
    parts: list[bytes] = []
    used = 0
    for i in _shuffled(len(texts), seed):
        if used >= budget:
            break
        b = texts[i].encode("utf-8")[: budget - used] + b"\n"
        parts.append(b)
        used += len(b)
    raw = b"".join(parts)
    if not raw.strip():
        return None
    return len(raw) / len(zlib.compress(raw, 9))


def mean_pairwise_rouge_l(texts: Sequence[str], sample: int, seed: int) -> float | None:
    """Mean ROUGE-L F1 over all pairs of up to `sample` texts (seeded choice)."""
    # ROUGE-L F1 over token lists equals rapidfuzz's normalised Indel similarity
    # (2·LCS ÷ (|a|+|b|)), so cdist computes the pairs in C++.
    from rapidfuzz import process
    from rapidfuzz.distance import Indel

    chosen = [tokens(texts[i]) for i in _shuffled(len(texts), seed)[:sample]]
    chosen = [t for t in chosen if t]
    n = len(chosen)
    if n < 2:
        return None
    m = process.cdist(chosen, chosen, scorer=Indel.normalized_similarity, workers=-1)
    total = float(m.sum(dtype="float64")) - float(m.trace())
    return total / (n * (n - 1))


def entropy(counts: Counter[str]) -> float:
    """Shannon entropy in bits of a count distribution (0 for an empty one)."""
    n = sum(counts.values())
    if n == 0:
        return 0.0
    return abs(-sum(c / n * math.log2(c / n) for c in counts.values() if c))


def js_divergence(p: Counter[str], q: Counter[str]) -> float | None:
    """Jensen-Shannon divergence in bits between two count distributions: 0 same, 1 disjoint."""
    np_, nq = sum(p.values()), sum(q.values())
    if not np_ or not nq:
        return None
    total = 0.0
    for k in p.keys() | q.keys():
        a, b = p.get(k, 0) / np_, q.get(k, 0) / nq
        m = (a + b) / 2
        if a:
            total += a / 2 * math.log2(a / m)
        if b:
            total += b / 2 * math.log2(b / m)
    return max(0.0, min(1.0, total))


def vocabulary_overlap(a: Sequence[str], b: Sequence[str], budget: int, seed: int) -> float | None:
    """Jaccard of the word sets of two text sets, each cut to the same number of tokens."""
    # the smaller set's total, at most `budget`, so that size alone does not move it
    ta, tb = budget_tokens(a, budget, seed), budget_tokens(b, budget, seed)
    common = min(sum(map(len, ta)), sum(map(len, tb)))
    if common == 0:
        return None
    va = set(x for s in budget_tokens(a, common, seed) for x in s)
    vb = set(x for s in budget_tokens(b, common, seed) for x in s)
    return len(va & vb) / len(va | vb)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """min, p10, p50, p90, max and mean (empty dict for no values)."""
    import numpy as np

    if len(values) == 0:
        return {}
    a = np.asarray(values, dtype=float)
    p10, p50, p90 = np.percentile(a, [10, 50, 90])
    return {
        "min": float(a.min()),
        "p10": float(p10),
        "p50": float(p50),
        "p90": float(p90),
        "max": float(a.max()),
        "mean": round(float(a.mean()), 2),
    }


def diversity(texts: Sequence[str], openers: Counter[str], seed: int) -> dict[str, float | None]:
    """The diversity block of a report, on a sample of record texts and all openers."""
    seqs = budget_tokens(texts, TOKEN_BUDGET, seed)
    n_tok = sum(map(len, seqs))
    top = openers.most_common(1)
    n_open = sum(openers.values())
    return {
        "distinct_1": distinct_n(seqs, 1),
        "distinct_2": distinct_n(seqs, 2),
        "distinct_3": distinct_n(seqs, 3),
        "token_budget_used": float(n_tok),
        "compression_ratio": compression_ratio(texts, BYTE_BUDGET, seed),
        "mean_pairwise_rouge_l": mean_pairwise_rouge_l(texts, ROUGE_SAMPLE, seed),
        "top_opener_share": top[0][1] / n_open if top and n_open else None,
    }
