"""Drift from the human seeds, and coverage of the seeds by the data's lineage."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from synthgen.stages.report.collect import Collected
from synthgen.stages.report.metrics import (
    BYTE_BUDGET,
    TOKEN_BUDGET,
    budget_tokens,
    compression_ratio,
    distinct_n,
    js_divergence,
    vocabulary_overlap,
)
from synthgen.stages.report.shapes import format_drift
from synthgen.stages.report.traits import trait_ratio

TOP_SEED_FRACTION = 0.1  # seed_skew looks at the top 10% of seeds (at least one)
CHANCE_DRAWS = 20  # simulated datasets for the chance baseline of the top seeds' share


def _distinct_picks(rng: Any, rows: int, r: int, n: int) -> Any:
    """rows × r seed indices in [0, n), distinct within a row (a record's roots are a set)."""
    import numpy as np

    if r * r <= n:  # few repeats: draw with replacement and redraw the rows that repeat
        picks = rng.integers(n, size=(rows, r))
        while r > 1:
            s = np.sort(picks, axis=1)
            bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if not bad.any():
                break
            picks[bad] = rng.integers(n, size=(int(bad.sum()), r))
        return picks
    step = max(1, 1_000_000 // n)  # many roots among few seeds: a random r-subset per row
    return np.concatenate(
        [
            np.argpartition(rng.random((min(step, rows - i), n)), r - 1, axis=1)[:, :r]
            for i in range(0, rows, step)
        ]
    )


def chance_top_share(
    units: Sequence[tuple[int, float]], n_seeds: int, k: int, seed: int
) -> float | None:
    """The top-k seeds' share expected by chance alone (mean of seeded simulations)."""
    # In each simulation every unit (a call's records, weight w, r distinct roots) draws its
    # r seeds uniformly. With few records per seed the top decile is heavy even when nothing
    # is skewed, and seed_skew must not fire on that.
    import numpy as np

    if not units or not n_seeds or not k:
        return None
    rng = np.random.default_rng(seed)
    groups: dict[int, list[float]] = {}
    for r, w in units:
        groups.setdefault(min(r, n_seeds), []).append(w)
    total = sum(w for _, w in units)
    shares = []
    for _ in range(CHANCE_DRAWS):
        credit = np.zeros(n_seeds)
        for r, ws in groups.items():
            picks = _distinct_picks(rng, len(ws), r, n_seeds)
            weights = np.repeat(np.asarray(ws) / r, r)
            credit += np.bincount(picks.ravel(), weights=weights, minlength=n_seeds)
        shares.append(float(np.sort(credit)[-k:].sum()) / total)
    return sum(shares) / len(shares)


def _median_ratio(data: Sequence[int], seeds: Sequence[int]) -> float | None:
    if not data or not seeds:
        return None
    m_seeds = statistics.median(seeds)
    if m_seeds == 0:
        return None
    return float(statistics.median(data) / m_seeds)


def common_budget(data: list[str], seeds: list[str], seed: int) -> dict[str, Any]:
    """distinct-n and compression of data and seeds on the same (the smaller set's) budgets."""
    # seed sets rarely fill the data's budget, and both measures depend on it
    tokens = min(
        TOKEN_BUDGET, *(sum(map(len, budget_tokens(t, TOKEN_BUDGET, seed))) for t in (data, seeds))
    )
    size = min(BYTE_BUDGET, *(sum(len(x.encode()) + 1 for x in t) for t in (data, seeds)))

    def measures(texts: list[str]) -> dict[str, float | None]:
        seqs = budget_tokens(texts, tokens, seed)
        out = {f"distinct_{n}": distinct_n(seqs, n) for n in (1, 2, 3)}
        out["compression_ratio"] = compression_ratio(texts, size, seed)
        return out

    return {"tokens": tokens, "bytes": size, "data": measures(data), "seeds": measures(seeds)}


def _top_opener(data: Collected, seeds: Collected) -> dict[str, Any] | None:
    """The data's most common opener and its share among data and seed instructions."""
    top = data.openers.most_common(1)
    n_data, n_seeds = sum(data.openers.values()), sum(seeds.openers.values())
    if not top or not n_data or not n_seeds:
        return None
    word, count = top[0]
    return {"word": word, "data": count / n_data, "seeds": seeds.openers[word] / n_seeds}


def drift(data: Collected, seeds: Collected, seed: int) -> dict[str, Any]:
    """Length ratios, vocabulary overlap, opener divergence, traits, common-budget diversity."""
    data_rates, seed_rates = data.traits.rates(), seeds.traits.rates()
    data_texts, seed_texts = [s.text for s in data.sample], [s.text for s in seeds.sample]
    return {
        "common_budget": common_budget(data_texts, seed_texts, seed),
        "instruction_length_ratio": _median_ratio(data.instruction_words, seeds.instruction_words),
        "output_length_ratio": _median_ratio(data.output_words, seeds.output_words),
        "vocabulary_overlap": vocabulary_overlap(data_texts, seed_texts, TOKEN_BUDGET, seed),
        "opener_js_divergence": js_divergence(data.openers, seeds.openers),
        "top_opener": _top_opener(data, seeds),
        "format": format_drift(data.shapes, seeds.shapes),
        "traits": {
            name: {
                "data": data_rates[name],
                "seeds": seed_rates[name],
                "ratio": trait_ratio(data_rates[name], seed_rates[name]),
            }
            for name in data_rates
        },
    }


def coverage(
    data: Collected, seed_ids: Sequence[str] | None, seed: int = 0, shown: int = 30
) -> dict[str, Any]:
    """Records per lineage root (seed), and how much the top 10% of seeds hold."""
    # Without --seeds the seed count is the number of distinct roots the data names, so seeds
    # that no record descends from are only counted when the seed file is given.
    credit = dict(data.seed_credit)
    if seed_ids is not None:
        for sid in seed_ids:
            credit.setdefault(sid, 0.0)
    n_seeds = len(credit)
    total = float(data.with_lineage)
    ranked = sorted(credit.items(), key=lambda kv: (-kv[1], kv[0]))
    k = max(1, math.ceil(n_seeds * TOP_SEED_FRACTION)) if n_seeds else 0
    top_share = sum(v for _, v in ranked[:k]) / total if total and k else None
    fair = k / n_seeds if n_seeds else None
    units = [(len(roots), float(w)) for (_, roots), w in data.lineage_units.items()]
    chance = chance_top_share(units, n_seeds, k, seed)
    used = sum(1 for v in credit.values() if v > 0)
    return {
        "records_with_lineage": data.with_lineage,
        "unresolved_lineage": data.unresolved_lineage,
        "seeds": n_seeds,
        "seeds_used": used,
        "seeds_used_share": used / n_seeds if n_seeds else None,
        "top_k": k,
        "top_k_share": top_share,
        "seed_concentration": top_share / fair if top_share is not None and fair else None,
        "chance_top_k_share": chance,
        "chance_concentration": chance / fair if chance is not None and fair else None,
        "per_seed": [
            {"seed": sid, "records": round(v, 3), "share": v / total if total else 0.0}
            for sid, v in ranked[:shown]
        ],
        "methods": dict(data.methods.most_common()),
        "operators": dict(data.operators.most_common()),
    }
